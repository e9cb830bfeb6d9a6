"""C++ source of the ELM recurrence's time loops (part of the library built by :mod:`._compiled`).

The forward and reverse loops of :class:`~elm_snn.kernels._recurrence._ELMRecurrence`. Batch
rows are independent, so both loops cut the batch into ``torch.get_num_threads()`` row
blocks (:cpp:func:`for_chunks` in :mod:`._cpp_source`) and run the whole time loop of one
block on one thread, with its own scratch buffers. Per step and block the loop calls
``at::cpu::mm_out`` on the block's rows (MKL set to one thread per block by ``for_chunks``:
left alone inside the OpenMP region it did not run on one thread, and two blocks were no
faster than one), ``at::cpu::tanh_out``/``silu_out``/``sigmoid_out``
(vectorised) and fuses everything else into plain loops.
"""

from __future__ import annotations

RECURRENCE_SOURCE = r"""
// ------------------------------------------------------------------ recurrence

// Forward loop of the sequential core (see _ELMRecurrence in _recurrence.py). p (T, B, H1),
// m0 (B, M), kappa/gain (M,), a_t (M, H1), first_bias (H1,) or empty, weights_t[l]
// (in_l, out_l) the transposed weights of the layers after the first, biases[l] (out_l,)
// or empty. Returns [memory, pre_0, ...].
std::vector<Tensor> rec_forward(const Tensor& p, const Tensor& m0, const Tensor& kappa,
                                const Tensor& gain, const Tensor& a_t, const Tensor& first_bias,
                                std::vector<Tensor> weights_t, std::vector<Tensor> biases,
                                bool relu) {
  check_cpu_contiguous(p, "p");
  check_cpu_contiguous(m0, "m0");
  check_cpu_contiguous(kappa, "kappa");
  check_cpu_contiguous(gain, "gain");
  const int64_t steps = p.size(0), batch = p.size(1), h1 = p.size(2), mem = m0.size(1);
  const int64_t layers = static_cast<int64_t>(weights_t.size());
  const bool hidden = layers > 0;
  for (const Tensor& b : biases) {
    if (present(b)) check_cpu_contiguous(b, "bias");
  }
  if (present(first_bias)) check_cpu_contiguous(first_bias, "first_bias");
  Tensor memory = at::empty({steps, batch, mem}, p.options());
  std::vector<Tensor> pre;
  pre.push_back(at::empty({steps, batch, h1}, p.options()));
  for (int64_t l = 0; l + 1 < layers; ++l)
    pre.push_back(at::empty({steps, batch, weights_t[l].size(1)}, p.options()));
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "rec_forward", [&] {
    const scalar_t* pp = p.data_ptr<scalar_t>();
    const scalar_t* kp = kappa.data_ptr<scalar_t>();
    const scalar_t* gp = gain.data_ptr<scalar_t>();
    scalar_t* memp = memory.data_ptr<scalar_t>();
    const scalar_t* b1p = present(first_bias) ? first_bias.data_ptr<scalar_t>() : nullptr;
    // rows [r0, r1) of the batch, all steps
    for_chunks(batch, 1, [&](int64_t r0, int64_t r1) {
      const int64_t rows = r1 - r0;
      // scratch (rows, width) buffers: z of every layer, activations, mk, tanh(o)
      std::vector<Tensor> zbuf, hbuf;
      zbuf.push_back(at::empty({rows, h1}, p.options()));
      for (int64_t l = 0; l < layers; ++l) {
        zbuf.push_back(at::empty({rows, weights_t[l].size(1)}, p.options()));
        hbuf.push_back(at::empty({rows, weights_t[l].size(0)}, p.options()));
      }
      Tensor mk = at::empty({rows, mem}, p.options());
      Tensor tanh_buf = at::empty({rows, mem}, p.options());
      scalar_t* mkp = mk.data_ptr<scalar_t>();
      scalar_t* thp = tanh_buf.data_ptr<scalar_t>();
      const scalar_t* prev = m0.data_ptr<scalar_t>() + r0 * mem;
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t row0 = t * batch + r0;  // first (t, b) row of this block
        for (int64_t b = 0; b < rows; ++b)
          for (int64_t j = 0; j < mem; ++j) mkp[b * mem + j] = prev[b * mem + j] * kp[j];
        // first layer: z1 = p_t + b1 + mk @ A^T
        at::cpu::mm_out(zbuf[0], mk, a_t);
        {
          scalar_t* z = zbuf[0].data_ptr<scalar_t>();
          const scalar_t* pt = pp + row0 * h1;
          scalar_t* store = pre[0].data_ptr<scalar_t>() + row0 * h1;
          for (int64_t b = 0; b < rows; ++b) {
            for (int64_t j = 0; j < h1; ++j) {
              const int64_t i = b * h1 + j;
              const scalar_t v = z[i] + pt[i] + (b1p != nullptr ? b1p[j] : scalar_t(0));
              z[i] = v;
              store[i] = v;
            }
          }
        }
        for (int64_t l = 0; l < layers; ++l) {
          const Tensor& z = zbuf[l];
          Tensor& h = hbuf[l];
          const int64_t n = z.numel();
          if (relu) {
            const scalar_t* zp = z.data_ptr<scalar_t>();
            scalar_t* hp = h.data_ptr<scalar_t>();
            // relu that keeps NaN (like torch.relu): NaN < 0 is false
            for (int64_t i = 0; i < n; ++i) hp[i] = zp[i] < scalar_t(0) ? scalar_t(0) : zp[i];
          } else {
            at::cpu::silu_out(h, z);
          }
          Tensor& zn = zbuf[l + 1];
          at::cpu::mm_out(zn, h, weights_t[l]);
          const int64_t width = zn.size(1);
          scalar_t* znp = zn.data_ptr<scalar_t>();
          if (present(biases[l])) {
            const scalar_t* bp = biases[l].data_ptr<scalar_t>();
            for (int64_t b = 0; b < rows; ++b)
              for (int64_t j = 0; j < width; ++j) znp[b * width + j] += bp[j];
          }
          if (l + 1 < layers) {
            std::memcpy(pre[l + 1].data_ptr<scalar_t>() + row0 * width, znp,
                        rows * width * sizeof(scalar_t));
          }
        }
        at::cpu::tanh_out(tanh_buf, hidden ? zbuf[layers] : zbuf[0]);
        scalar_t* mt = memp + row0 * mem;
        for (int64_t b = 0; b < rows; ++b)
          for (int64_t j = 0; j < mem; ++j)
            mt[b * mem + j] = mkp[b * mem + j] + gp[j] * thp[b * mem + j];
        prev = mt;
      }
    });
  });
  std::vector<Tensor> result;
  result.push_back(memory);
  for (Tensor& z : pre) result.push_back(z);
  return result;
}

// Reverse loop. grad_memory and tanh_all = tanh(o) (T, B, M), gain (M,); pre[l] (T, B, H_l)
// the hidden pre-activations z (the activation's derivative is formed per step: relu
// z > 0, silu s (1 + z (1 - s)) with s = sigmoid(z)); weights[l] (out_l, in_l) the layers
// after the first, a (H1, M), kappa (M,). Returns [grad_m_all, grad_o_all, carry,
// grad_pre_0, ...]; grad_m_all is empty unless want_grad_m (no grad_pre with no hidden
// layer: grad_o_all is the first layer's gradient then).
std::vector<Tensor> rec_backward(const Tensor& grad_memory, const Tensor& tanh_all,
                                 const Tensor& gain, std::vector<Tensor> pre,
                                 std::vector<Tensor> weights, const Tensor& a,
                                 const Tensor& kappa, bool relu, bool want_grad_m) {
  check_cpu_contiguous(grad_memory, "grad_memory");
  check_cpu_contiguous(tanh_all, "tanh_all");
  check_cpu_contiguous(gain, "gain");
  check_cpu_contiguous(kappa, "kappa");
  for (const Tensor& z : pre) check_cpu_contiguous(z, "pre");
  const int64_t steps = grad_memory.size(0), batch = grad_memory.size(1);
  const int64_t mem = grad_memory.size(2);
  const int64_t num_hidden = static_cast<int64_t>(pre.size());
  const auto opt = grad_memory.options();
  Tensor grad_m_all = want_grad_m ? at::empty_like(grad_memory) : at::empty({0}, opt);
  Tensor grad_o_all = at::empty_like(grad_memory);
  Tensor carry = at::zeros({batch, mem}, opt);
  std::vector<Tensor> grad_pre;
  for (const Tensor& z : pre) grad_pre.push_back(at::empty_like(z));
  AT_DISPATCH_FLOATING_TYPES(grad_memory.scalar_type(), "rec_backward", [&] {
    const scalar_t* gmp = grad_memory.data_ptr<scalar_t>();
    const scalar_t* thp = tanh_all.data_ptr<scalar_t>();
    const scalar_t* gainp = gain.data_ptr<scalar_t>();
    const scalar_t* kp = kappa.data_ptr<scalar_t>();
    scalar_t* gm_all = want_grad_m ? grad_m_all.data_ptr<scalar_t>() : nullptr;
    scalar_t* go_all = grad_o_all.data_ptr<scalar_t>();
    // rows [r0, r1) of the batch, all steps
    for_chunks(batch, 1, [&](int64_t r0, int64_t r1) {
      const int64_t rows = r1 - r0;
      std::vector<Tensor> gbuf, ghbuf, zbuf, sbuf;
      for (const Tensor& z : pre) {
        for (auto* v : {&gbuf, &ghbuf, &zbuf, &sbuf})
          v->push_back(at::empty({rows, z.size(2)}, opt));
      }
      Tensor gm_buf = at::empty({rows, mem}, opt);
      Tensor go_buf = at::empty({rows, mem}, opt);
      Tensor gmk = at::empty({rows, mem}, opt);
      scalar_t* gm_scratch = gm_buf.data_ptr<scalar_t>();
      scalar_t* gop = go_buf.data_ptr<scalar_t>();
      scalar_t* gmkp = gmk.data_ptr<scalar_t>();
      scalar_t* cp = carry.data_ptr<scalar_t>() + r0 * mem;
      for (int64_t t = steps - 1; t >= 0; --t) {
        const int64_t row0 = t * batch + r0;  // first (t, b) row of this block
        scalar_t* gm = want_grad_m ? gm_all + row0 * mem : gm_scratch;
        scalar_t* go = go_all + row0 * mem;
        const scalar_t* gin = gmp + row0 * mem;
        const scalar_t* th = thp + row0 * mem;
        for (int64_t b = 0; b < rows; ++b) {
          for (int64_t j = 0; j < mem; ++j) {
            const int64_t i = b * mem + j;
            const scalar_t v = gin[i] + cp[i];
            const scalar_t o = v * (gainp[j] * (scalar_t(1) - th[i] * th[i]));
            gm[i] = v;
            go[i] = o;
            gop[i] = o;
          }
        }
        const Tensor* g = &go_buf;
        for (int64_t l = num_hidden - 1; l >= 0; --l) {
          at::cpu::mm_out(ghbuf[l], *g, weights[l]);
          const int64_t width = pre[l].size(2);
          const int64_t n = rows * width;
          const scalar_t* ghp = ghbuf[l].data_ptr<scalar_t>();
          const scalar_t* zp = pre[l].data_ptr<scalar_t>() + row0 * width;
          scalar_t* gp = gbuf[l].data_ptr<scalar_t>();
          scalar_t* store = grad_pre[l].data_ptr<scalar_t>() + row0 * width;
          if (relu) {
            for (int64_t i = 0; i < n; ++i) {
              const scalar_t v = zp[i] > scalar_t(0) ? ghp[i] : scalar_t(0);
              gp[i] = v;
              store[i] = v;
            }
          } else {  // silu'(z) = s (1 + z (1 - s)), s = sigmoid(z) (vectorised by ATen)
            std::memcpy(zbuf[l].data_ptr<scalar_t>(), zp, n * sizeof(scalar_t));
            at::cpu::sigmoid_out(sbuf[l], zbuf[l]);
            const scalar_t* sp = sbuf[l].data_ptr<scalar_t>();
            for (int64_t i = 0; i < n; ++i) {
              const scalar_t sg = sp[i];
              const scalar_t v = ghp[i] * (sg * (scalar_t(1) + zp[i] * (scalar_t(1) - sg)));
              gp[i] = v;
              store[i] = v;
            }
          }
          g = &gbuf[l];
        }
        at::cpu::mm_out(gmk, *g, a);
        for (int64_t b = 0; b < rows; ++b)
          for (int64_t j = 0; j < mem; ++j)
            cp[b * mem + j] = (gmkp[b * mem + j] + gm[b * mem + j]) * kp[j];
      }
    });
  });
  std::vector<Tensor> result{grad_m_all, grad_o_all, carry};
  for (Tensor& g : grad_pre) result.push_back(g);
  return result;
}
"""
