"""C++ source of the compiled ELM loops (built on first use by :mod:`._compiled`).

The extension registers plain ATen operators (``TORCH_LIBRARY``), so it needs no Python
headers and no pybind11: it is compiled against the installed torch's headers and loaded
with ``torch.ops.load_library``. Every function allocates and returns its outputs (no
argument is modified). Matmuls go through ``at::cpu::mm_out`` (MKL/oneDNN, without the
dispatcher), ``tanh``/``silu`` through ``at::cpu::*_out`` (vectorised), everything else is
a plain loop over fixed scratch buffers. ``@NS@`` is replaced by the operator namespace.
"""

from __future__ import annotations

from ._cpp_eisnn import EISNN_REGISTRATION, EISNN_SOURCE

_ELM_SOURCE = r"""
#include <ATen/ATen.h>
#include <ATen/CPUFunctions.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using at::Tensor;

void check_cpu_contiguous(const Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), name, ": expected a CPU tensor");
  TORCH_CHECK(t.is_contiguous(), name, ": expected a contiguous tensor");
}

bool present(const Tensor& t) { return t.defined() && t.numel() > 0; }

// fn(c) for c in [0, n) on n threads (the calling thread runs c = 0), for loops that call no
// ATen op. Plain std::threads: at::parallel_for's OpenMP pragmas are inline in ATen's
// headers and would need this library compiled with OpenMP.
template <typename F>
void run_on_threads(int64_t n, F fn) {
  if (n <= 1) {
    if (n == 1) fn(0);
    return;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n);
  for (int64_t c = 1; c < n; ++c) {
    threads.emplace_back([&, c] {
      try {
        fn(c);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    });
  }
  try {
    fn(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// ------------------------------------------------------------------ sparse rows

template <typename scalar_t, typename bits_t>
std::tuple<Tensor, Tensor, Tensor> csr_build_impl(const Tensor& x, int64_t max_nnz) {
  const int64_t steps = x.size(0), batch = x.size(1), width = x.size(2);
  const int64_t st = x.stride(0), sb = x.stride(1);
  const scalar_t* xp = x.data_ptr<scalar_t>();
  const int64_t rows = steps * batch;
  Tensor row_ptr = at::empty({rows + 1}, x.options().dtype(at::kLong));
  int64_t* rp = row_ptr.data_ptr<int64_t>();
  std::vector<int64_t> cols;
  std::vector<scalar_t> vals;
  rp[0] = 0;
  constexpr int64_t kBlock = 16;
  bits_t block[kBlock];
  const int64_t estimate = std::min<int64_t>(max_nnz, rows * width / 50 + 16);
  cols.reserve(estimate);
  vals.reserve(estimate);
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t b = 0; b < batch; ++b) {
      const scalar_t* row = xp + t * st + b * sb;
      int64_t i = 0;
      for (; i + kBlock <= width; i += kBlock) {
        std::memcpy(block, row + i, sizeof(block));
        bits_t any = 0;
        for (int64_t j = 0; j < kBlock; ++j) any |= block[j];
        if (any == 0) continue;  // sixteen +0.0
        uint32_t mask = 0;
        for (int64_t j = 0; j < kBlock; ++j)
          mask |= static_cast<uint32_t>(row[i + j] != scalar_t(0)) << j;
        while (mask != 0) {
          const int j = __builtin_ctz(mask);
          mask &= mask - 1;
          cols.push_back(i + j);
          vals.push_back(row[i + j]);
        }
      }
      for (; i < width; ++i) {
        const scalar_t v = row[i];
        if (v != scalar_t(0)) {
          cols.push_back(i);
          vals.push_back(v);
        }
      }
      if (static_cast<int64_t>(cols.size()) > max_nnz) {
        return {at::empty({0}, x.options().dtype(at::kLong)),
                at::empty({0}, x.options().dtype(at::kLong)), at::empty({0}, x.options())};
      }
      rp[t * batch + b + 1] = static_cast<int64_t>(cols.size());
    }
  }
  const int64_t nnz = static_cast<int64_t>(cols.size());
  Tensor col = at::empty({nnz}, x.options().dtype(at::kLong));
  Tensor val = at::empty({nnz}, x.options());
  if (nnz > 0) {
    std::memcpy(col.data_ptr<int64_t>(), cols.data(), nnz * sizeof(int64_t));
    std::memcpy(val.data_ptr<scalar_t>(), vals.data(), nnz * sizeof(scalar_t));
  }
  return {row_ptr, col, val};
}

// Nonzeros of x (T, B, I) (last dim contiguous) as CSR over the T*B time-major rows;
// empty tensors when there are more than max_nnz of them.
std::tuple<Tensor, Tensor, Tensor> csr_build(const Tensor& x, int64_t max_nnz) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 3, "x: expected a 3-D CPU tensor");
  TORCH_CHECK(x.stride(2) == 1 || x.size(2) <= 1, "x: expected a contiguous last dimension");
  if (x.scalar_type() == at::kFloat) return csr_build_impl<float, uint32_t>(x, max_nnz);
  TORCH_CHECK(x.scalar_type() == at::kDouble, "x: expected float32 or float64");
  return csr_build_impl<double, uint64_t>(x, max_nnz);
}

// out (rows, C) = X @ W for X in CSR form and W (I, C).
Tensor csr_mm(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& w) {
  check_cpu_contiguous(w, "weight");
  const int64_t rows = row_ptr.numel() - 1, width = w.size(1);
  Tensor out = at::zeros({rows, width}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "csr_mm", [&] {
    const int64_t* rp = row_ptr.data_ptr<int64_t>();
    const int64_t* cp = col.data_ptr<int64_t>();
    const scalar_t* vp = val.data_ptr<scalar_t>();
    const scalar_t* wp = w.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      scalar_t* o = op + r * width;
      for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
        const scalar_t v = vp[k];
        const scalar_t* wr = wp + cp[k] * width;
        for (int64_t j = 0; j < width; ++j) o[j] += v * wr[j];
      }
    }
  });
  return out;
}

// out (I, C) = X^T @ G for X in CSR form and G (rows, C).
Tensor csr_tmm(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& g,
               int64_t num_cols) {
  check_cpu_contiguous(g, "grad");
  const int64_t rows = row_ptr.numel() - 1, width = g.size(1);
  Tensor out = at::zeros({num_cols, width}, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "csr_tmm", [&] {
    const int64_t* rp = row_ptr.data_ptr<int64_t>();
    const int64_t* cp = col.data_ptr<int64_t>();
    const scalar_t* vp = val.data_ptr<scalar_t>();
    const scalar_t* gp = g.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t* gr = gp + r * width;
      for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
        const scalar_t v = vp[k];
        scalar_t* o = op + cp[k] * width;
        for (int64_t j = 0; j < width; ++j) o[j] += v * gr[j];
      }
    }
  });
  return out;
}

// r (B, I) = sum_t powers[t] * x_t for X in CSR form over T*B time-major rows, powers (T,).
Tensor csr_decayed_sum(const Tensor& row_ptr, const Tensor& col, const Tensor& val,
                       const Tensor& powers, int64_t batch, int64_t num_cols) {
  check_cpu_contiguous(powers, "powers");
  const int64_t rows = row_ptr.numel() - 1;
  TORCH_CHECK(batch > 0 && rows % batch == 0, "csr_decayed_sum: rows not a multiple of batch");
  Tensor out = at::zeros({batch, num_cols}, powers.options());
  AT_DISPATCH_FLOATING_TYPES(powers.scalar_type(), "csr_decayed_sum", [&] {
    const int64_t* rp = row_ptr.data_ptr<int64_t>();
    const int64_t* cp = col.data_ptr<int64_t>();
    const scalar_t* vp = val.data_ptr<scalar_t>();
    const scalar_t* pw = powers.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t f = pw[r / batch];
      scalar_t* o = op + (r % batch) * num_cols;
      for (int64_t k = rp[r]; k < rp[r + 1]; ++k) o[cp[k]] += f * vp[k];
    }
  });
  return out;
}

// out_t = decay * out_{t-1} + X_t @ W with out_{-1} = init: the sparse projection and the
// trace scan in one pass. X in CSR form over T*B time-major rows, W (I, C), decay (C,),
// init (B, C).
Tensor csr_mm_scan(const Tensor& row_ptr, const Tensor& col, const Tensor& val, const Tensor& w,
                   const Tensor& decay, const Tensor& init, int64_t batch) {
  check_cpu_contiguous(w, "weight");
  check_cpu_contiguous(decay, "decay");
  check_cpu_contiguous(init, "init");
  const int64_t rows = row_ptr.numel() - 1, width = w.size(1);
  TORCH_CHECK(batch > 0 && rows % batch == 0, "csr_mm_scan: rows not a multiple of batch");
  const int64_t steps = rows / batch;
  Tensor out = at::empty({steps, batch, width}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "csr_mm_scan", [&] {
    const int64_t* rp = row_ptr.data_ptr<int64_t>();
    const int64_t* cp = col.data_ptr<int64_t>();
    const scalar_t* vp = val.data_ptr<scalar_t>();
    const scalar_t* wp = w.data_ptr<scalar_t>();
    const scalar_t* dp = decay.data_ptr<scalar_t>();
    const scalar_t* ip = init.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      scalar_t* o = op + r * width;
      const scalar_t* prev = r < batch ? ip + r * width : o - batch * width;
      for (int64_t j = 0; j < width; ++j) o[j] = prev[j] * dp[j];
      for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
        const scalar_t v = vp[k];
        const scalar_t* wr = wp + cp[k] * width;
        for (int64_t j = 0; j < width; ++j) o[j] += v * wr[j];
      }
    }
  });
  return out;
}

// ------------------------------------------------------------------ linear scan

// out_t = decay * out_{t-1} + u_t, out_{-1} = init; u (T, B, C), decay (C,), init (B, C).
Tensor scan_forward(const Tensor& u, const Tensor& decay, const Tensor& init) {
  check_cpu_contiguous(u, "u");
  check_cpu_contiguous(decay, "decay");
  check_cpu_contiguous(init, "init");
  const int64_t steps = u.size(0), batch = u.size(1), width = u.size(2);
  Tensor out = at::empty_like(u);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "scan_forward", [&] {
    const scalar_t* up = u.data_ptr<scalar_t>();
    const scalar_t* dp = decay.data_ptr<scalar_t>();
    const scalar_t* prev = init.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    const int64_t n = batch * width;
    for (int64_t t = 0; t < steps; ++t) {
      scalar_t* o = op + t * n;
      const scalar_t* ut = up + t * n;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < width; ++j)
          o[b * width + j] = ut[b * width + j] + prev[b * width + j] * dp[j];
      prev = o;
    }
  });
  return out;
}

// grad_u_t = grad_out_t + decay * grad_u_{t+1}.
Tensor scan_backward(const Tensor& grad_out, const Tensor& decay) {
  check_cpu_contiguous(grad_out, "grad_out");
  check_cpu_contiguous(decay, "decay");
  const int64_t steps = grad_out.size(0), batch = grad_out.size(1), width = grad_out.size(2);
  Tensor grad_u = at::empty_like(grad_out);
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "scan_backward", [&] {
    const scalar_t* gp = grad_out.data_ptr<scalar_t>();
    const scalar_t* dp = decay.data_ptr<scalar_t>();
    scalar_t* op = grad_u.data_ptr<scalar_t>();
    const int64_t n = batch * width;
    if (steps == 0) return;
    std::memcpy(op + (steps - 1) * n, gp + (steps - 1) * n, n * sizeof(scalar_t));
    for (int64_t t = steps - 2; t >= 0; --t) {
      scalar_t* o = op + t * n;
      const scalar_t* next = op + (t + 1) * n;
      const scalar_t* g = gp + t * n;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < width; ++j)
          o[b * width + j] = g[b * width + j] + next[b * width + j] * dp[j];
    }
  });
  return grad_u;
}

// ------------------------------------------------------------------ recurrence

// Forward loop of the sequential core (see _ELMRecurrence in fused.py). p (T, B, H1),
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
  // scratch (B, width) buffers: z of every hidden layer, activations, o, tanh(o)
  std::vector<Tensor> zbuf, hbuf;
  zbuf.push_back(at::empty({batch, h1}, p.options()));
  for (int64_t l = 0; l < layers; ++l) {
    zbuf.push_back(at::empty({batch, weights_t[l].size(1)}, p.options()));
    hbuf.push_back(at::empty({batch, weights_t[l].size(0)}, p.options()));
  }
  Tensor mk = at::empty({batch, mem}, p.options());
  Tensor tanh_buf = at::empty({batch, mem}, p.options());
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "rec_forward", [&] {
    const scalar_t* pp = p.data_ptr<scalar_t>();
    const scalar_t* kp = kappa.data_ptr<scalar_t>();
    const scalar_t* gp = gain.data_ptr<scalar_t>();
    scalar_t* memp = memory.data_ptr<scalar_t>();
    scalar_t* mkp = mk.data_ptr<scalar_t>();
    scalar_t* thp = tanh_buf.data_ptr<scalar_t>();
    const scalar_t* prev = m0.data_ptr<scalar_t>();
    const scalar_t* b1p = present(first_bias) ? first_bias.data_ptr<scalar_t>() : nullptr;
    const int64_t nm = batch * mem;
    for (int64_t t = 0; t < steps; ++t) {
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < mem; ++j) mkp[b * mem + j] = prev[b * mem + j] * kp[j];
      // first layer: z1 = p_t + mk @ A^T
      at::cpu::mm_out(zbuf[0], mk, a_t);
      {
        scalar_t* z = zbuf[0].data_ptr<scalar_t>();
        const scalar_t* pt = pp + t * batch * h1;
        scalar_t* store = pre[0].data_ptr<scalar_t>() + t * batch * h1;
        for (int64_t b = 0; b < batch; ++b) {
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
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t j = 0; j < width; ++j) znp[b * width + j] += bp[j];
        }
        if (l + 1 < layers) {
          std::memcpy(pre[l + 1].data_ptr<scalar_t>() + t * batch * width, znp,
                      batch * width * sizeof(scalar_t));
        }
      }
      at::cpu::tanh_out(tanh_buf, hidden ? zbuf[layers] : zbuf[0]);
      scalar_t* mt = memp + t * nm;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < mem; ++j)
          mt[b * mem + j] = mkp[b * mem + j] + gp[j] * thp[b * mem + j];
      prev = mt;
    }
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
  Tensor grad_m_all = want_grad_m ? at::empty_like(grad_memory)
                                  : at::empty({0}, grad_memory.options());
  Tensor gm_buf = at::empty({batch, mem}, grad_memory.options());
  Tensor grad_o_all = at::empty_like(grad_memory);
  Tensor carry = at::zeros({batch, mem}, grad_memory.options());
  std::vector<Tensor> grad_pre, gbuf, ghbuf, zbuf, sbuf;
  for (const Tensor& z : pre) {
    grad_pre.push_back(at::empty_like(z));
    gbuf.push_back(at::empty({batch, z.size(2)}, z.options()));
    ghbuf.push_back(at::empty({batch, z.size(2)}, z.options()));
    zbuf.push_back(at::empty({batch, z.size(2)}, z.options()));
    sbuf.push_back(at::empty({batch, z.size(2)}, z.options()));
  }
  Tensor go_buf = at::empty({batch, mem}, grad_memory.options());
  Tensor gmk = at::empty({batch, mem}, grad_memory.options());
  AT_DISPATCH_FLOATING_TYPES(grad_memory.scalar_type(), "rec_backward", [&] {
    const scalar_t* gmp = grad_memory.data_ptr<scalar_t>();
    const scalar_t* thp = tanh_all.data_ptr<scalar_t>();
    const scalar_t* gainp = gain.data_ptr<scalar_t>();
    const scalar_t* kp = kappa.data_ptr<scalar_t>();
    scalar_t* gm_all = want_grad_m ? grad_m_all.data_ptr<scalar_t>() : nullptr;
    scalar_t* gm_scratch = gm_buf.data_ptr<scalar_t>();
    scalar_t* go_all = grad_o_all.data_ptr<scalar_t>();
    scalar_t* cp = carry.data_ptr<scalar_t>();
    scalar_t* gop = go_buf.data_ptr<scalar_t>();
    scalar_t* gmkp = gmk.data_ptr<scalar_t>();
    const int64_t nm = batch * mem;
    for (int64_t t = steps - 1; t >= 0; --t) {
      scalar_t* gm = want_grad_m ? gm_all + t * nm : gm_scratch;
      scalar_t* go = go_all + t * nm;
      const scalar_t* gin = gmp + t * nm;
      const scalar_t* th = thp + t * nm;
      for (int64_t b = 0; b < batch; ++b) {
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
        const int64_t n = ghbuf[l].numel();
        const scalar_t* ghp = ghbuf[l].data_ptr<scalar_t>();
        const scalar_t* zp = pre[l].data_ptr<scalar_t>() + t * n;
        scalar_t* gp = gbuf[l].data_ptr<scalar_t>();
        scalar_t* store = grad_pre[l].data_ptr<scalar_t>() + t * n;
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
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < mem; ++j)
          cp[b * mem + j] = (gmkp[b * mem + j] + gm[b * mem + j]) * kp[j];
    }
  });
  std::vector<Tensor> result{grad_m_all, grad_o_all, carry};
  for (Tensor& g : grad_pre) result.push_back(g);
  return result;
}

"""

_REGISTRATION = r"""
}  // namespace

TORCH_LIBRARY(@NS@, m) {
  m.def("csr_build", &csr_build);
  m.def("csr_mm", &csr_mm);
  m.def("csr_tmm", &csr_tmm);
  m.def("csr_mm_scan", &csr_mm_scan);
  m.def("csr_decayed_sum", &csr_decayed_sum);
  m.def("scan_forward", &scan_forward);
  m.def("scan_backward", &scan_backward);
  m.def("rec_forward", &rec_forward);
  m.def("rec_backward", &rec_backward);
"""

#: The whole library: the ELM loops, the E/I SNN loops (:mod:`._cpp_eisnn`) and the operator
#: registrations.
SOURCE = _ELM_SOURCE + EISNN_SOURCE + _REGISTRATION + EISNN_REGISTRATION + "}\n"
