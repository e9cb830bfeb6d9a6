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
* Batch rows are independent: both loops run over the batch with ``at::parallel_for``
  (weight gradients go to one buffer per batch chunk and are summed in chunk order, so a
  run is deterministic for a given thread count).

Spikes are Heaviside: ``z = 1`` when ``a - thr > 0`` (what every snnTorch surrogate does
forward); the Python wrapper checks the network's spike function and otherwise uses the
pure-PyTorch loop. Surrogate derivatives come in precomputed from Python.
"""

from __future__ import annotations

EISNN_SOURCE = r"""
// ------------------------------------------------------------------ E/I SNN

namespace eisnn {

struct Csr {
  const int64_t* ptr;
  const int64_t* idx;
};

template <typename scalar_t>
void forward_rows(int64_t b0, int64_t b1, int64_t steps, int64_t batch, int64_t n_in,
                  int64_t n_r, int64_t n_o, int64_t syn_r, int64_t syn_o,
                  const int64_t* xrp, const int64_t* xcol, const scalar_t* xval,
                  Csr by_src_r, Csr by_src_o, const scalar_t* w_r, const scalar_t* w_o,
                  const scalar_t* k_r, const scalar_t* k_o, const scalar_t* v_r0,
                  const scalar_t* z_r0, const scalar_t* v_o0, const scalar_t* z_o0,
                  const scalar_t* f0, scalar_t thr, scalar_t amount, scalar_t alpha,
                  scalar_t* pre_r, scalar_t* pre_o, scalar_t* z_r, scalar_t* z_o, scalar_t* y,
                  scalar_t* v_r_fin, scalar_t* v_o_fin) {
  std::vector<scalar_t> v_r(n_r), v_o(n_o), a_r(n_r), a_o(n_o), zr_prev(n_r), zo_prev(n_o),
      f(n_o);
  for (int64_t b = b0; b < b1; ++b) {
    std::copy(v_r0 + b * n_r, v_r0 + (b + 1) * n_r, v_r.begin());
    std::copy(z_r0 + b * n_r, z_r0 + (b + 1) * n_r, zr_prev.begin());
    std::copy(v_o0 + b * n_o, v_o0 + (b + 1) * n_o, v_o.begin());
    std::copy(z_o0 + b * n_o, z_o0 + (b + 1) * n_o, zo_prev.begin());
    std::copy(f0 + b * n_o, f0 + (b + 1) * n_o, f.begin());
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t row = t * batch + b;
      for (int64_t i = 0; i < n_r; ++i) a_r[i] = k_r[i] * v_r[i];
      for (int64_t q = xrp[row]; q < xrp[row + 1]; ++q) {
        const int64_t j = xcol[q];
        const scalar_t xv = xval[q];
        for (int64_t e = by_src_r.ptr[j]; e < by_src_r.ptr[j + 1]; ++e) {
          const int64_t s = by_src_r.idx[e];
          a_r[s / syn_r] += w_r[s] * xv;
        }
      }
      for (int64_t j = 0; j < n_r; ++j) {
        const scalar_t zv = zr_prev[j];
        if (zv == scalar_t(0)) continue;
        for (int64_t e = by_src_r.ptr[n_in + j]; e < by_src_r.ptr[n_in + j + 1]; ++e) {
          const int64_t s = by_src_r.idx[e];
          a_r[s / syn_r] += w_r[s] * zv;
        }
      }
      scalar_t* pr = pre_r + row * n_r;
      scalar_t* zr = z_r + row * n_r;
      for (int64_t i = 0; i < n_r; ++i) {
        const scalar_t a = a_r[i];
        const scalar_t z = (a - thr) > scalar_t(0) ? scalar_t(1) : scalar_t(0);
        pr[i] = a;
        zr[i] = z;
        v_r[i] = a - amount * z;
        zr_prev[i] = z;
      }
      for (int64_t o = 0; o < n_o; ++o) a_o[o] = k_o[o] * v_o[o];
      for (int64_t j = 0; j < n_r; ++j) {
        const scalar_t zv = zr[j];
        if (zv == scalar_t(0)) continue;
        for (int64_t e = by_src_o.ptr[j]; e < by_src_o.ptr[j + 1]; ++e) {
          const int64_t s = by_src_o.idx[e];
          a_o[s / syn_o] += w_o[s] * zv;
        }
      }
      for (int64_t j = 0; j < n_o; ++j) {
        const scalar_t zv = zo_prev[j];
        if (zv == scalar_t(0)) continue;
        for (int64_t e = by_src_o.ptr[n_r + j]; e < by_src_o.ptr[n_r + j + 1]; ++e) {
          const int64_t s = by_src_o.idx[e];
          a_o[s / syn_o] += w_o[s] * zv;
        }
      }
      scalar_t* po = pre_o + row * n_o;
      scalar_t* zo = z_o + row * n_o;
      scalar_t* yo = y + row * n_o;
      for (int64_t o = 0; o < n_o; ++o) {
        const scalar_t a = a_o[o];
        const scalar_t z = (a - thr) > scalar_t(0) ? scalar_t(1) : scalar_t(0);
        po[o] = a;
        zo[o] = z;
        v_o[o] = a - amount * z;
        zo_prev[o] = z;
        f[o] = alpha * f[o] + z;
        yo[o] = f[o];
      }
    }
    std::copy(v_r.begin(), v_r.end(), v_r_fin + b * n_r);
    std::copy(v_o.begin(), v_o.end(), v_o_fin + b * n_o);
  }
}

}  // namespace eisnn

// x_* : CSR of the (T*B, I) input rows; src_r (N_r, S_r) into [inputs, recurrent];
// src_o (N_o, S_o) into [recurrent, output]; by_src_*: synapse indices grouped by source.
std::vector<Tensor> eisnn_forward(const Tensor& x_row_ptr, const Tensor& x_col,
                                  const Tensor& x_val, int64_t steps, int64_t num_inputs,
                                  const Tensor& w_r, const Tensor& by_src_r_ptr,
                                  const Tensor& by_src_r_idx, const Tensor& w_o,
                                  const Tensor& by_src_o_ptr, const Tensor& by_src_o_idx,
                                  const Tensor& k_r, const Tensor& k_o, const Tensor& v_r0,
                                  const Tensor& z_r0, const Tensor& v_o0, const Tensor& z_o0,
                                  const Tensor& f0, double thr, double amount, double alpha) {
  for (const Tensor* t : {&w_r, &w_o, &k_r, &k_o, &v_r0, &z_r0, &v_o0, &z_o0, &f0, &x_val})
    check_cpu_contiguous(*t, "eisnn_forward argument");
  const int64_t batch = v_r0.size(0), n_r = w_r.size(0), n_o = w_o.size(0);
  const int64_t syn_r = w_r.size(1), syn_o = w_o.size(1);
  Tensor pre_r = at::empty({steps, batch, n_r}, w_r.options());
  Tensor pre_o = at::empty({steps, batch, n_o}, w_r.options());
  Tensor z_r = at::empty({steps, batch, n_r}, w_r.options());
  Tensor z_o = at::empty({steps, batch, n_o}, w_r.options());
  Tensor y = at::empty({steps, batch, n_o}, w_r.options());
  Tensor v_r_fin = at::empty({batch, n_r}, w_r.options());
  Tensor v_o_fin = at::empty({batch, n_o}, w_r.options());
  AT_DISPATCH_FLOATING_TYPES(w_r.scalar_type(), "eisnn_forward", [&] {
    eisnn::Csr cr{by_src_r_ptr.data_ptr<int64_t>(), by_src_r_idx.data_ptr<int64_t>()};
    eisnn::Csr co{by_src_o_ptr.data_ptr<int64_t>(), by_src_o_idx.data_ptr<int64_t>()};
    at::parallel_for(0, batch, 1, [&](int64_t b0, int64_t b1) {
      eisnn::forward_rows<scalar_t>(
          b0, b1, steps, batch, num_inputs, n_r, n_o, syn_r, syn_o,
          x_row_ptr.data_ptr<int64_t>(), x_col.data_ptr<int64_t>(), x_val.data_ptr<scalar_t>(),
          cr, co, w_r.data_ptr<scalar_t>(), w_o.data_ptr<scalar_t>(), k_r.data_ptr<scalar_t>(),
          k_o.data_ptr<scalar_t>(), v_r0.data_ptr<scalar_t>(), z_r0.data_ptr<scalar_t>(),
          v_o0.data_ptr<scalar_t>(), z_o0.data_ptr<scalar_t>(), f0.data_ptr<scalar_t>(),
          static_cast<scalar_t>(thr), static_cast<scalar_t>(amount),
          static_cast<scalar_t>(alpha), pre_r.data_ptr<scalar_t>(), pre_o.data_ptr<scalar_t>(),
          z_r.data_ptr<scalar_t>(), z_o.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
          v_r_fin.data_ptr<scalar_t>(), v_o_fin.data_ptr<scalar_t>());
    });
  });
  return {pre_r, pre_o, z_r, z_o, y, v_r_fin, v_o_fin};
}

// Reverse loop. s_r/s_o: surrogate derivatives at pre - thr; d v / d a through the reset is
// 1 with a detached reset, else 1 - amount * s. own_*: the recurrent layer's own-layer synapses
// grouped by target neuron (flat synapse indices). Returns grad of w_r, w_o, k_r, k_o,
// v_r0, z_r0, v_o0, z_o0, f0 and (if want_grad_a) the (T, B, N_r) gradient of a_r.
std::vector<Tensor> eisnn_backward(
    const Tensor& g_zr_seq, const Tensor& g_zo_seq, const Tensor& g_y, const Tensor& g_vr_fin,
    const Tensor& g_vo_fin, const Tensor& pre_r, const Tensor& pre_o, const Tensor& z_r,
    const Tensor& z_o, const Tensor& s_r, const Tensor& s_o, bool detach_reset,
    const Tensor& x_row_ptr, const Tensor& x_col, const Tensor& x_val,
    int64_t num_inputs, const Tensor& src_r, const Tensor& w_r, const Tensor& by_src_r_ptr,
    const Tensor& by_src_r_idx, const Tensor& own_ptr, const Tensor& own_idx,
    const Tensor& src_o, const Tensor& w_o, const Tensor& k_r, const Tensor& k_o,
    const Tensor& v_r0, const Tensor& z_r0, const Tensor& v_o0, const Tensor& z_o0,
    double amount, double alpha, bool want_grad_a) {
  const int64_t steps = pre_r.size(0), batch = pre_r.size(1), n_r = pre_r.size(2);
  const int64_t n_o = pre_o.size(2), syn_r = w_r.size(1), syn_o = w_o.size(1);
  const int64_t n_in = num_inputs;
  const int64_t grain = 1;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(batch, at::get_num_threads()));
  const int64_t per_chunk = (batch + chunks - 1) / chunks;
  Tensor gw_r_parts = at::zeros({chunks, n_r, syn_r}, w_r.options());
  Tensor gw_o_parts = at::zeros({chunks, n_o, syn_o}, w_r.options());
  Tensor gk_r_parts = at::zeros({chunks, n_r}, w_r.options());
  Tensor gk_o_parts = at::zeros({chunks, n_o}, w_r.options());
  Tensor g_vr0 = at::empty({batch, n_r}, w_r.options());
  Tensor g_zr0 = at::empty({batch, n_r}, w_r.options());
  Tensor g_vo0 = at::empty({batch, n_o}, w_r.options());
  Tensor g_zo0 = at::empty({batch, n_o}, w_r.options());
  Tensor g_f0 = at::empty({batch, n_o}, w_r.options());
  Tensor g_a = want_grad_a ? at::empty({steps, batch, n_r}, w_r.options())
                           : at::empty({0}, w_r.options());
  AT_DISPATCH_FLOATING_TYPES(w_r.scalar_type(), "eisnn_backward", [&] {
    const scalar_t amt = static_cast<scalar_t>(amount), al = static_cast<scalar_t>(alpha);
    const scalar_t* gzr_seq = g_zr_seq.data_ptr<scalar_t>();
    const scalar_t* gzo_seq = g_zo_seq.data_ptr<scalar_t>();
    const scalar_t* gy = g_y.data_ptr<scalar_t>();
    const scalar_t* gvr_fin = g_vr_fin.data_ptr<scalar_t>();
    const scalar_t* gvo_fin = g_vo_fin.data_ptr<scalar_t>();
    const scalar_t* prr = pre_r.data_ptr<scalar_t>();
    const scalar_t* pro = pre_o.data_ptr<scalar_t>();
    const scalar_t* zrp = z_r.data_ptr<scalar_t>();
    const scalar_t* zop = z_o.data_ptr<scalar_t>();
    const scalar_t* srp = s_r.data_ptr<scalar_t>();
    const scalar_t* sop = s_o.data_ptr<scalar_t>();
    const scalar_t keep = detach_reset ? scalar_t(0) : amt;  // dv/da = 1 - keep * s
    const int64_t* xrp = x_row_ptr.data_ptr<int64_t>();
    const int64_t* xcol = x_col.data_ptr<int64_t>();
    const scalar_t* xval = x_val.data_ptr<scalar_t>();
    const int64_t* srcr = src_r.data_ptr<int64_t>();
    const scalar_t* wr = w_r.data_ptr<scalar_t>();
    const int64_t* bsr_ptr = by_src_r_ptr.data_ptr<int64_t>();
    const int64_t* bsr_idx = by_src_r_idx.data_ptr<int64_t>();
    const int64_t* ownp = own_ptr.data_ptr<int64_t>();
    const int64_t* owni = own_idx.data_ptr<int64_t>();
    const int64_t* srco = src_o.data_ptr<int64_t>();
    const scalar_t* wo = w_o.data_ptr<scalar_t>();
    const scalar_t* kr = k_r.data_ptr<scalar_t>();
    const scalar_t* ko = k_o.data_ptr<scalar_t>();
    const scalar_t* vr0 = v_r0.data_ptr<scalar_t>();
    const scalar_t* zr0 = z_r0.data_ptr<scalar_t>();
    const scalar_t* vo0 = v_o0.data_ptr<scalar_t>();
    const scalar_t* zo0 = z_o0.data_ptr<scalar_t>();
    scalar_t* gwr_all = gw_r_parts.data_ptr<scalar_t>();
    scalar_t* gwo_all = gw_o_parts.data_ptr<scalar_t>();
    scalar_t* gkr_all = gk_r_parts.data_ptr<scalar_t>();
    scalar_t* gko_all = gk_o_parts.data_ptr<scalar_t>();
    scalar_t* ga_out = want_grad_a ? g_a.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, chunks, grain, [&](int64_t c0, int64_t c1) {
      std::vector<scalar_t> g_vr(n_r), g_zr(n_r), g_zr_next(n_r), g_ar(n_r);
      std::vector<scalar_t> g_vo(n_o), g_zo(n_o), g_zo_next(n_o), g_ao(n_o), g_f(n_o);
      for (int64_t c = c0; c < c1; ++c) {
        scalar_t* gwr = gwr_all + c * n_r * syn_r;
        scalar_t* gwo = gwo_all + c * n_o * syn_o;
        scalar_t* gkr = gkr_all + c * n_r;
        scalar_t* gko = gko_all + c * n_o;
        const int64_t b_end = std::min<int64_t>(batch, (c + 1) * per_chunk);
        for (int64_t b = c * per_chunk; b < b_end; ++b) {
          std::copy(gvr_fin + b * n_r, gvr_fin + (b + 1) * n_r, g_vr.begin());
          std::copy(gvo_fin + b * n_o, gvo_fin + (b + 1) * n_o, g_vo.begin());
          std::fill(g_zr_next.begin(), g_zr_next.end(), scalar_t(0));
          std::fill(g_zo_next.begin(), g_zo_next.end(), scalar_t(0));
          std::fill(g_f.begin(), g_f.end(), scalar_t(0));
          for (int64_t t = steps - 1; t >= 0; --t) {
            const int64_t row = t * batch + b;
            const int64_t prow = (t - 1) * batch + b;
            // output layer
            const scalar_t* zr_t = zrp + row * n_r;
            const scalar_t* zo_prev = t > 0 ? zop + prow * n_o : zo0 + b * n_o;
            for (int64_t o = 0; o < n_o; ++o) {
              g_f[o] = gy[row * n_o + o] + al * g_f[o];
              const scalar_t gz = gzo_seq[row * n_o + o] + g_f[o] + g_zo_next[o];
              const scalar_t so = sop[row * n_o + o];
              const scalar_t ga = g_vo[o] * (scalar_t(1) - keep * so) + gz * so;
              g_ao[o] = ga;
              const scalar_t vprev =
                  t > 0 ? pro[prow * n_o + o] - amt * zop[prow * n_o + o] : vo0[b * n_o + o];
              gko[o] += ga * vprev;
              g_vo[o] = ko[o] * ga;
            }
            for (int64_t j = 0; j < n_r; ++j) g_zr[j] = gzr_seq[row * n_r + j] + g_zr_next[j];
            std::fill(g_zo_next.begin(), g_zo_next.end(), scalar_t(0));
            for (int64_t o = 0; o < n_o; ++o) {
              const scalar_t ga = g_ao[o];
              for (int64_t s = 0; s < syn_o; ++s) {
                const int64_t e = o * syn_o + s;
                const int64_t src = srco[e];
                if (src < n_r) {
                  gwo[e] += ga * zr_t[src];
                  g_zr[src] += wo[e] * ga;
                } else {
                  gwo[e] += ga * zo_prev[src - n_r];
                  g_zo_next[src - n_r] += wo[e] * ga;
                }
              }
            }
            // recurrent layer
            const scalar_t* zr_prev = t > 0 ? zrp + prow * n_r : zr0 + b * n_r;
            for (int64_t i = 0; i < n_r; ++i) {
              const scalar_t sr = srp[row * n_r + i];
              const scalar_t ga = g_vr[i] * (scalar_t(1) - keep * sr) + g_zr[i] * sr;
              g_ar[i] = ga;
              const scalar_t vprev =
                  t > 0 ? prr[prow * n_r + i] - amt * zrp[prow * n_r + i] : vr0[b * n_r + i];
              gkr[i] += ga * vprev;
              g_vr[i] = kr[i] * ga;
            }
            if (ga_out != nullptr)
              std::copy(g_ar.begin(), g_ar.end(), ga_out + row * n_r);
            std::fill(g_zr_next.begin(), g_zr_next.end(), scalar_t(0));
            for (int64_t i = 0; i < n_r; ++i) {
              const scalar_t ga = g_ar[i];
              for (int64_t q = ownp[i]; q < ownp[i + 1]; ++q) {
                const int64_t e = owni[q];
                const int64_t j = srcr[e] - n_in;
                gwr[e] += ga * zr_prev[j];
                g_zr_next[j] += wr[e] * ga;
              }
            }
            for (int64_t q = xrp[row]; q < xrp[row + 1]; ++q) {
              const int64_t j = xcol[q];
              const scalar_t xv = xval[q];
              for (int64_t e = bsr_ptr[j]; e < bsr_ptr[j + 1]; ++e) {
                const int64_t s = bsr_idx[e];
                gwr[s] += g_ar[s / syn_r] * xv;
              }
            }
          }
          std::copy(g_vr.begin(), g_vr.end(), g_vr0.data_ptr<scalar_t>() + b * n_r);
          std::copy(g_zr_next.begin(), g_zr_next.end(), g_zr0.data_ptr<scalar_t>() + b * n_r);
          std::copy(g_vo.begin(), g_vo.end(), g_vo0.data_ptr<scalar_t>() + b * n_o);
          std::copy(g_zo_next.begin(), g_zo_next.end(), g_zo0.data_ptr<scalar_t>() + b * n_o);
          scalar_t* gf0 = g_f0.data_ptr<scalar_t>() + b * n_o;
          for (int64_t o = 0; o < n_o; ++o) gf0[o] = al * g_f[o];
        }
      }
    });
  });
  return {gw_r_parts.sum(0), gw_o_parts.sum(0), gk_r_parts.sum(0), gk_o_parts.sum(0),
          g_vr0, g_zr0, g_vo0, g_zo0, g_f0, g_a};
}
"""

EISNN_REGISTRATION = """
  m.def("eisnn_forward", &eisnn_forward);
  m.def("eisnn_backward", &eisnn_backward);
"""
