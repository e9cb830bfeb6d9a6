"""C++ source of the compiled ELM loops (built on first use by :mod:`._compiled`).

The extension registers plain ATen operators (``TORCH_LIBRARY``), so it needs no Python
headers and no pybind11: it is compiled against the installed torch's headers and loaded
with ``torch.ops.load_library``. Every function allocates and returns its outputs (no
argument is modified). Matmuls go through ``at::cpu::mm_out`` (MKL/oneDNN, without the
dispatcher), ``tanh``/``silu`` through ``at::cpu::*_out`` (vectorised), everything else is
a plain loop over fixed scratch buffers. ``@NS@`` is replaced by the operator namespace.

Threads: loops over independent rows (batch rows of the scans and of the recurrence in
:mod:`._cpp_recurrence`, rows of the sparse products, blocks of the nonzero pass) are cut
into ``torch.get_num_threads()`` blocks by ``for_chunks`` and run on ATen's OpenMP pool
(the library is built with ``-fopenmp``); each block writes only its own outputs and sums
in the same order as one thread.
"""

from __future__ import annotations

from ._cpp_eisnn import EISNN_REGISTRATION, EISNN_SOURCE
from ._cpp_recurrence import RECURRENCE_SOURCE

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

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define ELM_SNN_HAS_MXCSR 1
#endif

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

// The calling thread's floating-point control (flush-to-zero / denormals-are-zero, set by
// torch.set_flush_denormal) applied on another thread for the lifetime of the guard: the
// pool's worker threads do not inherit later changes of the caller's setting.
class FloatModeGuard {
 public:
  explicit FloatModeGuard(unsigned int mode) {
#ifdef ELM_SNN_HAS_MXCSR
    saved_ = _mm_getcsr();
    _mm_setcsr(mode);
#endif
  }
  ~FloatModeGuard() {
#ifdef ELM_SNN_HAS_MXCSR
    _mm_setcsr(saved_);
#endif
  }
  static unsigned int current() {
#ifdef ELM_SNN_HAS_MXCSR
    return _mm_getcsr();
#else
    return 0;
#endif
  }

 private:
  unsigned int saved_ = 0;
};

// MKL's thread count of the calling thread, set to one for the lifetime of the guard (a
// no-op without MKL). Inside an OpenMP region MKL does not fall back to one thread on its
// own: measured on the recurrence's per-step GEMMs of 4-8 rows, two blocks ran no faster
// than one (B = 8, 2 threads: 12.8 ms per 1000 steps against 13.2 on one thread; with
// this guard 9.3). Resolved weakly: torch builds without MKL (OpenBLAS, Accelerate) leave
// the symbol null and their BLAS is called as before.
extern "C" int MKL_Set_Num_Threads_Local(int) __attribute__((weak));

class OneBlasThread {
 public:
  OneBlasThread() {
    if (MKL_Set_Num_Threads_Local != nullptr) saved_ = MKL_Set_Num_Threads_Local(1);
  }
  ~OneBlasThread() {
    if (MKL_Set_Num_Threads_Local != nullptr) MKL_Set_Num_Threads_Local(saved_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int saved_ = 0;  // 0: the thread follows the global setting again
};

// fn(begin, end) over [0, n) cut into min(threads, n / min_per_chunk) contiguous blocks, run
// in parallel on ATen's intra-op pool (OpenMP; the library is built with -fopenmp, else
// at::parallel_for runs them one after the other). The cut depends only on n and the thread
// count, and every block writes its own rows, so results do not depend on the scheduling.
// Inside the region ATen ops and MKL (OneBlasThread) run on one thread each: no nested
// parallelism.
template <typename F>
void for_chunks(int64_t n, int64_t min_per_chunk, const F& fn) {
  if (n <= 0) return;
  const int64_t threads = at::in_parallel_region() ? 1 : at::get_num_threads();
  const int64_t by_size = std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_chunk));
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads, by_size));
  if (chunks == 1) {
    fn(int64_t(0), n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  const unsigned int mode = FloatModeGuard::current();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    FloatModeGuard guard(mode);
    OneBlasThread one_blas_thread;
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t begin = c * per, end = std::min<int64_t>(n, begin + per);
      if (begin < end) fn(begin, end);
    }
  });
}

// ------------------------------------------------------------------ sparse rows

// Appends the nonzeros of rows [r0, r1) (row r = t * batch + b) of x to cols/vals and the
// running count after each row to counts[r - r0]; false once there are more than max_nnz.
template <typename scalar_t, typename bits_t>
bool collect_nonzeros(const scalar_t* xp, int64_t st, int64_t sb, int64_t batch, int64_t width,
                      int64_t r0, int64_t r1, int64_t max_nnz, std::vector<int64_t>& cols,
                      std::vector<scalar_t>& vals, int64_t* counts) {
  constexpr int64_t kBlock = 16;
  bits_t block[kBlock];
  for (int64_t r = r0; r < r1; ++r) {
    const scalar_t* row = xp + (r / batch) * st + (r % batch) * sb;
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
    if (static_cast<int64_t>(cols.size()) > max_nnz) return false;
    counts[r - r0] = static_cast<int64_t>(cols.size());
  }
  return true;
}

template <typename scalar_t, typename bits_t>
std::tuple<Tensor, Tensor, Tensor> csr_build_impl(const Tensor& x, int64_t max_nnz) {
  const int64_t steps = x.size(0), batch = x.size(1), width = x.size(2);
  const int64_t st = x.stride(0), sb = x.stride(1);
  const scalar_t* xp = x.data_ptr<scalar_t>();
  const int64_t rows = steps * batch;
  const auto long_opt = x.options().dtype(at::kLong);
  Tensor row_ptr = at::empty({rows + 1}, long_opt);
  int64_t* rp = row_ptr.data_ptr<int64_t>();
  rp[0] = 0;
  // blocks of rows in parallel, each into its own lists; then one prefix sum and copy
  const int64_t threads = at::in_parallel_region() ? 1 : at::get_num_threads();
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(threads, rows / 64));
  const int64_t per = (rows + blocks - 1) / blocks;
  std::vector<std::vector<int64_t>> cols(blocks);
  std::vector<std::vector<scalar_t>> vals(blocks);
  std::vector<char> ok(blocks, 1);
  for_chunks(blocks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = c * per, r1 = std::min<int64_t>(rows, r0 + per);
      const int64_t estimate = std::min<int64_t>(max_nnz, (r1 - r0) * width / 50 + 16);
      cols[c].reserve(estimate);
      vals[c].reserve(estimate);
      ok[c] = r0 >= r1 || collect_nonzeros<scalar_t, bits_t>(xp, st, sb, batch, width, r0, r1,
                                                             max_nnz, cols[c], vals[c],
                                                             rp + r0 + 1);
    }
  });
  int64_t nnz = 0;
  for (int64_t c = 0; c < blocks; ++c) {
    if (!ok[c]) nnz = max_nnz + 1;
    if (nnz > max_nnz) break;
    const int64_t r0 = c * per, r1 = std::min<int64_t>(rows, r0 + per);
    for (int64_t r = r0; r < r1; ++r) rp[r + 1] += nnz;
    nnz += static_cast<int64_t>(cols[c].size());
  }
  if (nnz > max_nnz) {
    return {at::empty({0}, long_opt), at::empty({0}, long_opt), at::empty({0}, x.options())};
  }
  Tensor col = at::empty({nnz}, long_opt);
  Tensor val = at::empty({nnz}, x.options());
  int64_t offset = 0;
  for (int64_t c = 0; c < blocks; ++c) {
    const int64_t n = static_cast<int64_t>(cols[c].size());
    if (n > 0) {
      std::memcpy(col.data_ptr<int64_t>() + offset, cols[c].data(), n * sizeof(int64_t));
      std::memcpy(val.data_ptr<scalar_t>() + offset, vals[c].data(), n * sizeof(scalar_t));
    }
    offset += n;
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

// out (rows, C) = X @ W for X in CSR form and W (I, C); blocks of rows in parallel.
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
    for_chunks(rows, 256, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        scalar_t* o = op + r * width;
        for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
          const scalar_t v = vp[k];
          const scalar_t* wr = wp + cp[k] * width;
          for (int64_t j = 0; j < width; ++j) o[j] += v * wr[j];
        }
      }
    });
  });
  return out;
}

// out (I, C) = X^T @ G for X in CSR form and G (rows, C); blocks of the C columns in
// parallel (each sums over the rows in the same order as one thread). A block sums into a
// buffer of its own and copies it out at the end: written in place, the two blocks' halves
// of an output row share a cache line wherever the cut is not 64-byte aligned, and the
// writes of both threads to it made two threads 2.8x slower than one (B = 16, T = 1000).
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
    for_chunks(width, 16, [&](int64_t j0, int64_t j1) {
      const int64_t block = j1 - j0;
      const bool whole = block == width;  // one block: its own rows already, no copy
      std::vector<scalar_t> own(whole ? 0 : num_cols * block, scalar_t(0));
      scalar_t* acc = whole ? op : own.data();
      for (int64_t r = 0; r < rows; ++r) {
        const scalar_t* gr = gp + r * width + j0;
        for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
          const scalar_t v = vp[k];
          scalar_t* o = acc + cp[k] * block;
          for (int64_t j = 0; j < block; ++j) o[j] += v * gr[j];
        }
      }
      if (!whole) {
        for (int64_t i = 0; i < num_cols; ++i)
          std::memcpy(op + i * width + j0, acc + i * block, block * sizeof(scalar_t));
      }
    });
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
// init (B, C). Blocks of batch rows in parallel.
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
    for_chunks(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t t = 0; t < steps; ++t) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t r = t * batch + b;
          scalar_t* o = op + r * width;
          const scalar_t* prev = t == 0 ? ip + b * width : o - batch * width;
          for (int64_t j = 0; j < width; ++j) o[j] = prev[j] * dp[j];
          for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
            const scalar_t v = vp[k];
            const scalar_t* wr = wp + cp[k] * width;
            for (int64_t j = 0; j < width; ++j) o[j] += v * wr[j];
          }
        }
      }
    });
  });
  return out;
}

// ------------------------------------------------------------------ linear scan

// out_t = decay * out_{t-1} + u_t, out_{-1} = init; u (T, B, C), decay (C,), init (B, C).
// Blocks of batch rows in parallel.
Tensor scan_forward(const Tensor& u, const Tensor& decay, const Tensor& init) {
  check_cpu_contiguous(u, "u");
  check_cpu_contiguous(decay, "decay");
  check_cpu_contiguous(init, "init");
  const int64_t steps = u.size(0), batch = u.size(1), width = u.size(2);
  Tensor out = at::empty_like(u);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "scan_forward", [&] {
    const scalar_t* up = u.data_ptr<scalar_t>();
    const scalar_t* dp = decay.data_ptr<scalar_t>();
    const scalar_t* ip = init.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    const int64_t n = batch * width;
    for_chunks(batch, 1, [&](int64_t b0, int64_t b1) {
      const scalar_t* prev = ip + b0 * width;
      const int64_t len = (b1 - b0) * width;
      for (int64_t t = 0; t < steps; ++t) {
        scalar_t* o = op + t * n + b0 * width;
        const scalar_t* ut = up + t * n + b0 * width;
        for (int64_t b = 0; b < len; b += width)
          for (int64_t j = 0; j < width; ++j) o[b + j] = ut[b + j] + prev[b + j] * dp[j];
        prev = o;
      }
    });
  });
  return out;
}

// grad_u_t = grad_out_t + decay * grad_u_{t+1}. Blocks of batch rows in parallel.
Tensor scan_backward(const Tensor& grad_out, const Tensor& decay) {
  check_cpu_contiguous(grad_out, "grad_out");
  check_cpu_contiguous(decay, "decay");
  const int64_t steps = grad_out.size(0), batch = grad_out.size(1), width = grad_out.size(2);
  Tensor grad_u = at::empty_like(grad_out);
  if (steps == 0) return grad_u;
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "scan_backward", [&] {
    const scalar_t* gp = grad_out.data_ptr<scalar_t>();
    const scalar_t* dp = decay.data_ptr<scalar_t>();
    scalar_t* op = grad_u.data_ptr<scalar_t>();
    const int64_t n = batch * width;
    for_chunks(batch, 1, [&](int64_t b0, int64_t b1) {
      const int64_t off = b0 * width, len = (b1 - b0) * width;
      std::memcpy(op + (steps - 1) * n + off, gp + (steps - 1) * n + off, len * sizeof(scalar_t));
      for (int64_t t = steps - 2; t >= 0; --t) {
        scalar_t* o = op + t * n + off;
        const scalar_t* next = o + n;
        const scalar_t* g = gp + t * n + off;
        for (int64_t b = 0; b < len; b += width)
          for (int64_t j = 0; j < width; ++j) o[b + j] = g[b + j] + next[b + j] * dp[j];
      }
    });
  });
  return grad_u;
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
SOURCE = _ELM_SOURCE + RECURRENCE_SOURCE + EISNN_SOURCE + _REGISTRATION + EISNN_REGISTRATION + "}\n"
