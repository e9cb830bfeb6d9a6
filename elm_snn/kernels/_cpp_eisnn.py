"""C++ source of the compiled E/I SNN loops (part of the library built by :mod:`._compiled`).

Event-driven and synapse-sparse: the network is held as its synapse tables (each
neuron's ``S`` presynaptic sources and effective weights), never as dense matrices.

* Forward: a presynaptic event (an input spike, a spike of the previous step) adds its
  weights to its targets through a by-source index (CSC) of the synapses, so the cost per
  step grows with the number of spikes times their fan-out, not with ``N x (I + N)``.
* Backward: one reverse loop over time per batch row. The membrane gradient is dense (the
  surrogate derivative is nonzero everywhere), so the own-layer and output synapses are
  visited once per step; the input synapses only through the input events. Weight, decay
  and initial-state gradients are accumulated inside the loop, per synapse (no dense
  ``N x (I + N)`` gradient is ever formed).
* Batch rows are independent: both loops cut the batch into ``torch.get_num_threads()``
  chunks, one thread each (weight gradients go to one buffer per chunk and are summed in
  chunk order, so a run is deterministic for a given thread count).

Spikes are Heaviside: ``z = 1`` when ``a - thr > 0`` (what every snnTorch surrogate does
forward); the Python wrapper checks the network's spike function and otherwise uses the
pure-PyTorch loop. Surrogate derivatives come in precomputed from Python.
"""

from __future__ import annotations

EISNN_SOURCE = r"""
// ------------------------------------------------------------------ E/I SNN

namespace eisnn {

// synapses grouped by presynaptic source: entries ptr[j]..ptr[j+1] of (post, w)
template <typename scalar_t>
struct BySource {
  const int64_t* ptr;
  const int64_t* post;
  const scalar_t* w;
};

template <typename scalar_t>
inline void scatter_events(const BySource<scalar_t>& g, int64_t j, scalar_t value, scalar_t* a) {
  for (int64_t e = g.ptr[j]; e < g.ptr[j + 1]; ++e) a[g.post[e]] += g.w[e] * value;
}

}  // namespace eisnn

// Forward over all steps. x_*: CSR of the (T*B, I) input rows. in_*: the recurrent layer's
// input synapses by input channel; rr_*: its own-layer synapses by presynaptic neuron;
// out_*: the output layer's synapses by source in [recurrent, output].
std::vector<Tensor> eisnn_forward(
    const Tensor& x_row_ptr, const Tensor& x_col, const Tensor& x_val, int64_t steps,
    const Tensor& in_ptr, const Tensor& in_post, const Tensor& in_w, const Tensor& rr_ptr,
    const Tensor& rr_post, const Tensor& rr_w, const Tensor& out_ptr, const Tensor& out_post,
    const Tensor& out_w, const Tensor& k_r, const Tensor& k_o, const Tensor& v_r0,
    const Tensor& z_r0, const Tensor& v_o0, const Tensor& z_o0, const Tensor& f0, double thr,
    double amount, double alpha) {
  for (const Tensor* t : {&in_w, &rr_w, &out_w, &k_r, &k_o, &v_r0, &z_r0, &v_o0, &z_o0, &f0})
    check_cpu_contiguous(*t, "eisnn_forward argument");
  const int64_t batch = v_r0.size(0), n_r = v_r0.size(1), n_o = v_o0.size(1);
  auto opt = v_r0.options();
  Tensor pre_r = at::empty({steps, batch, n_r}, opt);
  Tensor pre_o = at::empty({steps, batch, n_o}, opt);
  Tensor z_r = at::empty({steps, batch, n_r}, opt);
  Tensor z_o = at::empty({steps, batch, n_o}, opt);
  Tensor y = at::empty({steps, batch, n_o}, opt);
  Tensor v_r_fin = at::empty({batch, n_r}, opt);
  Tensor v_o_fin = at::empty({batch, n_o}, opt);
  AT_DISPATCH_FLOATING_TYPES(v_r0.scalar_type(), "eisnn_forward", [&] {
    using S = scalar_t;
    const eisnn::BySource<S> gin{in_ptr.data_ptr<int64_t>(), in_post.data_ptr<int64_t>(),
                                 in_w.data_ptr<S>()};
    const eisnn::BySource<S> grr{rr_ptr.data_ptr<int64_t>(), rr_post.data_ptr<int64_t>(),
                                 rr_w.data_ptr<S>()};
    const eisnn::BySource<S> gout{out_ptr.data_ptr<int64_t>(), out_post.data_ptr<int64_t>(),
                                  out_w.data_ptr<S>()};
    const int64_t* xrp = x_row_ptr.data_ptr<int64_t>();
    const int64_t* xcol = x_col.data_ptr<int64_t>();
    const S* xval = x_val.data_ptr<S>();
    const S* kr = k_r.data_ptr<S>();
    const S* ko = k_o.data_ptr<S>();
    const S th = static_cast<S>(thr), amt = static_cast<S>(amount), al = static_cast<S>(alpha);
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(batch, at::get_num_threads()));
    const int64_t per = (batch + chunks - 1) / chunks;
    run_on_threads(chunks, [&](int64_t c) {
      const int64_t b0 = c * per, b1 = std::min<int64_t>(batch, b0 + per);
      std::vector<S> v_r(n_r), v_o(n_o), a_r(n_r), a_o(n_o), zr_prev(n_r), zo_prev(n_o), f(n_o);
      for (int64_t b = b0; b < b1; ++b) {
        std::copy_n(v_r0.data_ptr<S>() + b * n_r, n_r, v_r.begin());
        std::copy_n(z_r0.data_ptr<S>() + b * n_r, n_r, zr_prev.begin());
        std::copy_n(v_o0.data_ptr<S>() + b * n_o, n_o, v_o.begin());
        std::copy_n(z_o0.data_ptr<S>() + b * n_o, n_o, zo_prev.begin());
        std::copy_n(f0.data_ptr<S>() + b * n_o, n_o, f.begin());
        for (int64_t t = 0; t < steps; ++t) {
          const int64_t row = t * batch + b;
          for (int64_t i = 0; i < n_r; ++i) a_r[i] = kr[i] * v_r[i];
          for (int64_t q = xrp[row]; q < xrp[row + 1]; ++q)
            eisnn::scatter_events(gin, xcol[q], xval[q], a_r.data());
          for (int64_t j = 0; j < n_r; ++j)
            if (zr_prev[j] != S(0)) eisnn::scatter_events(grr, j, zr_prev[j], a_r.data());
          S* pr = pre_r.data_ptr<S>() + row * n_r;
          S* zr = z_r.data_ptr<S>() + row * n_r;
          for (int64_t i = 0; i < n_r; ++i) {
            const S a = a_r[i];
            const S z = (a - th) > S(0) ? S(1) : S(0);
            pr[i] = a;
            zr[i] = z;
            v_r[i] = a - amt * z;
            zr_prev[i] = z;
          }
          for (int64_t o = 0; o < n_o; ++o) a_o[o] = ko[o] * v_o[o];
          for (int64_t j = 0; j < n_r; ++j)
            if (zr[j] != S(0)) eisnn::scatter_events(gout, j, zr[j], a_o.data());
          for (int64_t j = 0; j < n_o; ++j)
            if (zo_prev[j] != S(0)) eisnn::scatter_events(gout, n_r + j, zo_prev[j], a_o.data());
          S* po = pre_o.data_ptr<S>() + row * n_o;
          S* zo = z_o.data_ptr<S>() + row * n_o;
          S* yo = y.data_ptr<S>() + row * n_o;
          for (int64_t o = 0; o < n_o; ++o) {
            const S a = a_o[o];
            const S z = (a - th) > S(0) ? S(1) : S(0);
            po[o] = a;
            zo[o] = z;
            v_o[o] = a - amt * z;
            zo_prev[o] = z;
            f[o] = al * f[o] + z;
            yo[o] = f[o];
          }
        }
        std::copy(v_r.begin(), v_r.end(), v_r_fin.data_ptr<S>() + b * n_r);
        std::copy(v_o.begin(), v_o.end(), v_o_fin.data_ptr<S>() + b * n_o);
      }
    });
  });
  return {pre_r, pre_o, z_r, z_o, y, v_r_fin, v_o_fin};
}

// Reverse loop. s_r/s_o: surrogate derivatives at pre - thr; d v / d a through the reset is
// 1 with a detached reset, else 1 - amount * s. The synapse tables are those of the forward
// (grouped by source): the spike gradients are gathered per source, and a weight gradient is
// only accumulated where its source spiked (inputs: its events). Returns the gradients of:
// in_w, rr_w, out_w (each in its table's order), k_r, k_o, v_r0, z_r0, v_o0, z_o0, f0, and
// (if want_grad_a) a_r.
std::vector<Tensor> eisnn_backward(
    const Tensor& g_zr_seq, const Tensor& g_zo_seq, const Tensor& g_y, const Tensor& g_vr_fin,
    const Tensor& g_vo_fin, const Tensor& pre_r, const Tensor& pre_o, const Tensor& z_r,
    const Tensor& z_o, const Tensor& s_r, const Tensor& s_o, bool detach_reset,
    const Tensor& x_row_ptr, const Tensor& x_col, const Tensor& x_val, const Tensor& in_ptr,
    const Tensor& in_post, const Tensor& rr_ptr, const Tensor& rr_post, const Tensor& rr_w,
    const Tensor& out_ptr, const Tensor& out_post, const Tensor& out_w, const Tensor& k_r,
    const Tensor& k_o,
    const Tensor& v_r0, const Tensor& z_r0, const Tensor& v_o0, const Tensor& z_o0,
    double amount, double alpha, bool want_grad_a) {
  const int64_t steps = pre_r.size(0), batch = pre_r.size(1), n_r = pre_r.size(2);
  const int64_t n_o = pre_o.size(2);
  const int64_t n_in_syn = in_post.numel(), n_own = rr_post.numel(), n_out = out_post.numel();
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(batch, at::get_num_threads()));
  const int64_t per_chunk = (batch + chunks - 1) / chunks;
  auto opt = pre_r.options();
  Tensor gin_parts = at::zeros({chunks, n_in_syn}, opt);
  Tensor gown_parts = at::zeros({chunks, n_own}, opt);
  Tensor gwo_parts = at::zeros({chunks, n_out}, opt);
  Tensor gkr_parts = at::zeros({chunks, n_r}, opt);
  Tensor gko_parts = at::zeros({chunks, n_o}, opt);
  Tensor g_vr0 = at::empty({batch, n_r}, opt);
  Tensor g_zr0 = at::empty({batch, n_r}, opt);
  Tensor g_vo0 = at::empty({batch, n_o}, opt);
  Tensor g_zo0 = at::empty({batch, n_o}, opt);
  Tensor g_f0 = at::empty({batch, n_o}, opt);
  Tensor g_a = want_grad_a ? at::empty({steps, batch, n_r}, opt) : at::empty({0}, opt);
  AT_DISPATCH_FLOATING_TYPES(pre_r.scalar_type(), "eisnn_backward", [&] {
    using S = scalar_t;
    const S amt = static_cast<S>(amount), al = static_cast<S>(alpha);
    const S keep = detach_reset ? S(0) : amt;  // dv/da = 1 - keep * s
    const S* gzr_seq = g_zr_seq.data_ptr<S>();
    const S* gzo_seq = g_zo_seq.data_ptr<S>();
    const S* gy = g_y.data_ptr<S>();
    const S* prr = pre_r.data_ptr<S>();
    const S* pro = pre_o.data_ptr<S>();
    const S* zrp = z_r.data_ptr<S>();
    const S* zop = z_o.data_ptr<S>();
    const S* srp = s_r.data_ptr<S>();
    const S* sop = s_o.data_ptr<S>();
    const int64_t* xrp = x_row_ptr.data_ptr<int64_t>();
    const int64_t* xcol = x_col.data_ptr<int64_t>();
    const S* xval = x_val.data_ptr<S>();
    const int64_t* inp = in_ptr.data_ptr<int64_t>();
    const int64_t* inpost = in_post.data_ptr<int64_t>();
    const eisnn::BySource<S> grr{rr_ptr.data_ptr<int64_t>(), rr_post.data_ptr<int64_t>(),
                                 rr_w.data_ptr<S>()};
    const eisnn::BySource<S> gout{out_ptr.data_ptr<int64_t>(), out_post.data_ptr<int64_t>(),
                                  out_w.data_ptr<S>()};
    const S* kr = k_r.data_ptr<S>();
    const S* ko = k_o.data_ptr<S>();
    S* ga_out = want_grad_a ? g_a.data_ptr<S>() : nullptr;
    run_on_threads(chunks, [&](int64_t c) {
      std::vector<S> g_vr(n_r), g_zr(n_r), g_zr_next(n_r), g_ar(n_r);
      std::vector<S> g_vo(n_o), g_zo_next(n_o), g_ao(n_o), g_f(n_o);
      {
        S* gin = gin_parts.data_ptr<S>() + c * n_in_syn;
        S* gown = gown_parts.data_ptr<S>() + c * n_own;
        S* gwo = gwo_parts.data_ptr<S>() + c * n_out;
        S* gkr = gkr_parts.data_ptr<S>() + c * n_r;
        S* gko = gko_parts.data_ptr<S>() + c * n_o;
        const int64_t b_end = std::min<int64_t>(batch, (c + 1) * per_chunk);
        for (int64_t b = c * per_chunk; b < b_end; ++b) {
          std::copy_n(g_vr_fin.data_ptr<S>() + b * n_r, n_r, g_vr.begin());
          std::copy_n(g_vo_fin.data_ptr<S>() + b * n_o, n_o, g_vo.begin());
          std::fill(g_zr_next.begin(), g_zr_next.end(), S(0));
          std::fill(g_zo_next.begin(), g_zo_next.end(), S(0));
          std::fill(g_f.begin(), g_f.end(), S(0));
          for (int64_t t = steps - 1; t >= 0; --t) {
            const int64_t row = t * batch + b;
            const int64_t prow = (t - 1) * batch + b;
            const S* zr_t = zrp + row * n_r;
            const S* zo_prev = t > 0 ? zop + prow * n_o : z_o0.data_ptr<S>() + b * n_o;
            const S* vo_prev_pre = t > 0 ? pro + prow * n_o : nullptr;
            for (int64_t o = 0; o < n_o; ++o) {
              g_f[o] = gy[row * n_o + o] + al * g_f[o];
              const S gz = gzo_seq[row * n_o + o] + g_f[o] + g_zo_next[o];
              const S so = sop[row * n_o + o];
              const S ga = g_vo[o] * (S(1) - keep * so) + gz * so;
              g_ao[o] = ga;
              const S vprev = t > 0 ? vo_prev_pre[o] - amt * zo_prev[o]
                                    : v_o0.data_ptr<S>()[b * n_o + o];
              gko[o] += ga * vprev;
              g_vo[o] = ko[o] * ga;
            }
            // output synapses, by source: gather the spike gradients, and weight gradients
            // where the source spiked
            for (int64_t j = 0; j < n_r + n_o; ++j) {
              S acc = S(0);
              for (int64_t e = gout.ptr[j]; e < gout.ptr[j + 1]; ++e)
                acc += gout.w[e] * g_ao[gout.post[e]];
              const S zv = j < n_r ? zr_t[j] : zo_prev[j - n_r];
              if (zv != S(0))
                for (int64_t e = gout.ptr[j]; e < gout.ptr[j + 1]; ++e)
                  gwo[e] += g_ao[gout.post[e]] * zv;
              if (j < n_r)
                g_zr[j] = gzr_seq[row * n_r + j] + g_zr_next[j] + acc;
              else
                g_zo_next[j - n_r] = acc;
            }
            const S* zr_prev = t > 0 ? zrp + prow * n_r : z_r0.data_ptr<S>() + b * n_r;
            const S* vr_prev_pre = t > 0 ? prr + prow * n_r : nullptr;
            const S* vr0 = v_r0.data_ptr<S>() + b * n_r;
            for (int64_t i = 0; i < n_r; ++i) {
              const S sr = srp[row * n_r + i];
              const S ga = g_vr[i] * (S(1) - keep * sr) + g_zr[i] * sr;
              g_ar[i] = ga;
              const S vprev = t > 0 ? vr_prev_pre[i] - amt * zr_prev[i] : vr0[i];
              gkr[i] += ga * vprev;
              g_vr[i] = kr[i] * ga;
            }
            if (ga_out != nullptr) std::copy(g_ar.begin(), g_ar.end(), ga_out + row * n_r);
            for (int64_t j = 0; j < n_r; ++j) {
              S acc = S(0);
              for (int64_t e = grr.ptr[j]; e < grr.ptr[j + 1]; ++e)
                acc += grr.w[e] * g_ar[grr.post[e]];
              g_zr_next[j] = acc;
              const S zp = zr_prev[j];
              if (zp != S(0))
                for (int64_t e = grr.ptr[j]; e < grr.ptr[j + 1]; ++e)
                  gown[e] += g_ar[grr.post[e]] * zp;
            }
            for (int64_t q = xrp[row]; q < xrp[row + 1]; ++q) {
              const int64_t j = xcol[q];
              const S xv = xval[q];
              for (int64_t e = inp[j]; e < inp[j + 1]; ++e) gin[e] += g_ar[inpost[e]] * xv;
            }
          }
          std::copy(g_vr.begin(), g_vr.end(), g_vr0.data_ptr<S>() + b * n_r);
          std::copy(g_zr_next.begin(), g_zr_next.end(), g_zr0.data_ptr<S>() + b * n_r);
          std::copy(g_vo.begin(), g_vo.end(), g_vo0.data_ptr<S>() + b * n_o);
          std::copy(g_zo_next.begin(), g_zo_next.end(), g_zo0.data_ptr<S>() + b * n_o);
          S* gf0 = g_f0.data_ptr<S>() + b * n_o;
          for (int64_t o = 0; o < n_o; ++o) gf0[o] = al * g_f[o];
        }
      }
    });
  });
  return {gin_parts.sum(0), gown_parts.sum(0), gwo_parts.sum(0), gkr_parts.sum(0),
          gko_parts.sum(0), g_vr0, g_zr0, g_vo0, g_zo0, g_f0, g_a};
}
"""

EISNN_REGISTRATION = """
  m.def("eisnn_forward", &eisnn_forward);
  m.def("eisnn_backward", &eisnn_backward);
"""
