"""A fast implementation of the cochlea model that made the Spiking Heidelberg Digits.

SHD (Cramer et al. 2020) turned audio into spikes with the ``lauscher`` package, a chain of
five stages; this module implements the same model, with the same default parameters, fast
enough for data generation (well under a second of CPU per second of audio, against minutes
for ``lauscher``):

1. **RMS normalisation** of the whole clip to ``rms_level`` (0.3).
2. **Hann window** over the whole clip (the first half ramps up, the second half down).
3. **Basilar membrane**: the hydrodynamic shallow-water model of Sieroka, Dosch & Rupp
   (J. Acoust. Soc. Am. 120(1), 2006). For the clip's spectrum ``S_k`` (first ``N//2 + 1``
   bins of the DFT of the ``N`` samples) the velocity of channel ``c`` is
   ``Re(IDFT_M(V(w_k, c) * S_k))`` with ``M = N//2 + 1`` samples at ``fs // 2`` Hz, where
   ``w_k = 2 pi linspace(1, fs // 2, M)`` and ``c = linspace(0, 3.5, num_channels)`` (base to
   apex; channel 0 resonates near 22 kHz, the last near 110 Hz). Because the inverse DFT
   has only ``M`` points, input above ``fs / 4`` folds back: feed audio sampled at >= 2x
   its bandwidth (speech at 22.05 kHz upsampled to 48 kHz is fine).
4. **Inner hair cell**: Meddis' transmitter-pool model (J. Acoust. Soc. Am. 79(3), 1986 and
   83(3), 1988), integrated with forward Euler at ``fs // 2``; its output is a per-step
   release (firing) probability.
5. **Bushy cells**: each channel has ``n_convergence`` (40) auditory-nerve fibres that fire
   with that probability per step, with an absolute refractory time ``tau_refrac`` (1 ms);
   their spikes drive one leaky integrate-and-fire cell through exponential synapses.

Stages 1-4 and the LIF of stage 5 are deterministic and reproduce ``lauscher`` to floating-
point precision (the basilar membrane runs its inverse FFT in single precision: about 1e-6
of each channel's peak). The fibre sampling is exact in distribution but uses its own
random stream: ``lauscher`` draws ``T x 40`` uniforms per channel, here the waiting time to
each fibre spike is drawn from the cumulative hazard ``sum -log(1 - p_t)`` (one exponential
variate per fibre spike), the same Bernoulli process with dead time.

Two paths compute the same model. The public stage methods (``basilar_membrane``,
``hair_cell``, ``auditory_nerve``, ``bushy_cells``, chained by :meth:`Cochlea.reference_spikes`)
are the reference, written to read like ``lauscher``. :meth:`Cochlea.__call__` is the fast
path: the same basilar-membrane floats in time-major layout, then stages 4-5 fused over
blocks of channels, which gives the reference's spikes bit for bit. The hazard
``-log(1 - p)`` comes from a 16-term series for ``p <= 1/16`` in both paths (within 2 ulp of
``log1p``, and unlike it, it vectorises; on 240 generated utterances no spike moved against
the earlier ``log1p`` hazard). All of this is tested (``tests/synth/test_cochlea.py``).

Why one file of ~1,000 lines: the five stages share one parameter set and are checked stage
by stage against ``lauscher`` (``tests/synth/test_cochlea.py``); kept together, the module
reads side by side with the model it reproduces.

The basilar-membrane transfer matrix ``V`` (``num_channels x M`` complex) depends on the exact
number of samples ``N`` and costs seconds to build, so it is cached in memory (and, with
``disk_cache=True``, in ``elm_snn._io.cache_dir("cochlea")``); feed clips padded to a few
fixed lengths. Spikes are reported on the ``fs // 2`` grid like ``lauscher`` (spike ``i`` at
``steps[i] / (fs // 2)`` seconds).

Heavy dependencies (scipy, numba) are imported on first use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "BasilarMembraneParameters",
    "HairCellParameters",
    "BushyCellParameters",
    "CochleaSpikes",
    "Cochlea",
    "rms_normalize",
    "hann_window",
    "basilar_membrane_transfer",
    "clear_transfer_cache",
]


@dataclasses.dataclass(frozen=True)
class BasilarMembraneParameters:
    """Parameters of the Sieroka et al. (2006) basilar-membrane model (``lauscher``'s defaults).

    Attributes:
        a: stiffness offset ``a`` in ``s(c) = c0 exp(-alpha c) - a``.
        alpha: exponential decay of stiffness along the membrane.
        rho: fluid density.
        length: membrane coordinate of the last channel (channels sit at
            ``linspace(0, length, num_channels)``; ``lauscher``'s ``c``).
        c0: stiffness at the base.
        damping: damping factor ``de``; the damping is ``de sqrt(c0 m) exp(-alpha c / 2)``.
        h: height of the fluid channel.
        mass: membrane mass per area ``m``.
    """

    a: float = 3500.0
    alpha: float = 3.0
    rho: float = 1.0
    length: float = 3.5
    c0: float = 10e8
    damping: float = 0.15
    h: float = 0.1
    mass: float = 0.05


@dataclasses.dataclass(frozen=True)
class HairCellParameters:
    """Parameters of Meddis' inner-hair-cell model (rates in 1/s; ``lauscher``'s defaults).

    Attributes:
        y: replenishment rate of the free transmitter pool.
        g: maximum permeability rate.
        l: loss rate from the cleft.
        r: re-uptake rate from the cleft.
        x: reprocessing rate back into the free pool.
        a: permeability offset (added to the membrane velocity).
        b: permeability half-saturation.
        h: scale from cleft contents to firing probability rate.
        m: maximum free transmitter.
    """

    y: float = 5.05
    g: float = 2000.0
    l: float = 2500.0
    r: float = 6580.0
    x: float = 66.3
    a: float = 5.0
    b: float = 300.0
    h: float = 50000.0
    m: float = 1.0


@dataclasses.dataclass(frozen=True)
class BushyCellParameters:
    """Parameters of the auditory-nerve fibres and the bushy cell (``lauscher``'s defaults).

    Attributes:
        n_convergence: fibres converging on one bushy cell per channel.
        tau_mem: membrane time constant, seconds.
        tau_syn: synaptic time constant, seconds.
        tau_refrac: refractory time of fibres and bushy cell, seconds.
        weight: total synaptic weight (each fibre gets ``weight / n_convergence``), 1/s.
    """

    n_convergence: int = 40
    tau_mem: float = 1e-3
    tau_syn: float = 5e-4
    tau_refrac: float = 1e-3
    weight: float = 13e3


@dataclasses.dataclass(frozen=True)
class CochleaSpikes:
    """Output spikes of a :class:`Cochlea`, sorted by time then channel.

    Attributes:
        steps: ``(S,)`` int64 spike times as indices of the output grid (``sample_rate_hz``).
        units: ``(S,)`` int64 channel of each spike, ``0 <= unit < num_channels``.
        sample_rate_hz: rate of the output grid, ``input rate // 2``.
        num_steps: length of the output grid (``N // 2 + 1`` for ``N`` input samples).
        num_channels: number of channels.
    """

    steps: np.ndarray
    units: np.ndarray
    sample_rate_hz: int
    num_steps: int
    num_channels: int

    @property
    def times_ms(self) -> np.ndarray:
        """``(S,)`` float64 spike times in milliseconds."""
        return self.steps * (1000.0 / self.sample_rate_hz)

    @property
    def times_seconds(self) -> np.ndarray:
        """``(S,)`` float64 spike times in seconds, computed as ``steps / sample_rate_hz``
        exactly like ``lauscher`` (for writing SHD files, whose times are in seconds)."""
        return self.steps / self.sample_rate_hz

    def __len__(self) -> int:
        return int(self.steps.size)


# --------------------------------------------------------------------------------------
# Stages 1-2: level and window
# --------------------------------------------------------------------------------------


def _check_audio(audio: Any) -> np.ndarray:
    if isinstance(audio, (str, bytes)) or not hasattr(audio, "__len__"):
        raise TypeError(f"audio: expected a 1-D array of samples, got {type(audio).__name__}")
    x = np.asarray(audio)
    if x.ndim != 1:
        raise ValueError(f"audio: expected a 1-D array of samples (mono), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"audio: expected real samples, got dtype {x.dtype}")
    if x.size < 4:
        raise ValueError(f"audio: expected at least 4 samples, got {x.size}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("audio: expected finite samples, got NaN or inf")
    return x


def rms_normalize(audio: np.ndarray, level: float = 0.3) -> np.ndarray:
    """Scale a clip so that its RMS over all samples equals ``level``.

    Args:
        audio: ``(N,)`` samples (any real dtype; any scale).
        level: target RMS (``lauscher``/SHD: 0.3 of full scale).

    Returns:
        ``(N,)`` float64 scaled copy.
    """
    x = _check_audio(audio)
    if not (math.isfinite(level) and level > 0):
        raise ValueError(f"level: expected a finite number > 0, got {level!r}")
    rms = float(np.sqrt(np.mean(x**2)))
    if rms == 0.0:
        raise ValueError("audio: the clip is silent (RMS 0); it cannot be normalised")
    return x * (level / rms)


def hann_window(audio: np.ndarray) -> np.ndarray:
    """Apply a Hann window spanning the whole clip, as ``lauscher`` does.

    The first ``N // 2`` samples are multiplied by the rising half of a Hann window of
    length ``2 (N // 2)``, the last ``N // 2`` by the falling half (the middle sample of an
    odd-length clip is left as it is).

    Args:
        audio: ``(N,)`` samples.

    Returns:
        ``(N,)`` float64 windowed copy.
    """
    x = _check_audio(audio).copy()
    half = x.size // 2
    ramp = np.hanning(2 * half)[:half]
    x[:half] *= ramp
    x[x.size - half :] *= ramp[::-1]
    return x


# --------------------------------------------------------------------------------------
# Stage 3: basilar membrane
# --------------------------------------------------------------------------------------


def _transfer_block(
    omega: np.ndarray, place: np.ndarray, p: BasilarMembraneParameters
) -> np.ndarray:
    """Velocity transfer ``V(omega, c)`` for ``(len(place), len(omega))`` (complex128)."""
    from scipy import special

    w = omega[None, :]
    c = place[:, None]
    r0 = p.damping * np.sqrt(p.c0 * p.mass)

    def xi(cc: Any) -> Any:
        stiffness = p.c0 * np.exp(-p.alpha * cc) - p.a
        resistance = r0 * np.exp(-p.alpha * cc / 2.0)
        return stiffness - p.mass * w**2 - 1j * w * resistance

    def wavenumber(cc: Any) -> Any:
        return w * np.sqrt(p.rho / (p.h * xi(cc)))

    root_am = np.sqrt(p.a + p.mass * w**2)  # real, > 0
    # Numerator of the WKB phase integral's logarithm (independent of the place).
    num = -p.alpha * np.sqrt(-p.a + p.c0 - w * (p.mass * w + 1j * r0)) + 1j * p.alpha * (
        2.0 * p.a + w * (2.0 * p.mass * w + 1j * r0)
    ) / (2.0 * root_am)
    k0 = wavenumber(0.0)
    prefactor = 2.0j * np.sqrt(2.0) * w / (p.alpha * np.sqrt(p.h * 2.0 * (p.mass * w**2 + p.a)))

    def phase(cc: Any) -> Any:
        decay = np.exp(-p.alpha * cc / 2.0)
        den = (
            0.5
            * p.alpha
            * np.exp(p.alpha * cc / 2.0)
            * (
                -2.0 * np.sqrt(-p.a + p.c0 * np.exp(-p.alpha * cc) - p.mass * w**2
                               - 1j * decay * w * r0)
                + 1j * (2.0 * p.a + w * (2.0 * p.mass * w + 1j * decay * r0)) / root_am
            )
        )  # fmt: skip
        return 2.0 * k0 / p.alpha - prefactor * np.log(num / den)

    def pressure(cc: Any) -> Any:
        big_g = phase(cc)
        return np.sqrt(big_g / wavenumber(cc)) * special.hankel1(0, big_g)

    # Impedance of the oval window (a function of frequency only).
    u = 4.0 * np.pi * (w / (2.0 * np.pi)) / p.alpha * np.sqrt(2.0 / (p.h * p.c0))
    impedance = (
        np.sqrt(2.0 * p.c0 / p.h)
        * (1j * special.j0(u) + special.y0(u))
        / (special.j1(u) - 1j * special.y1(u))
    )
    return 2.0 * w / xi(c) * pressure(c) * impedance / pressure(0.0)


def _output_grid(num_samples: int, sample_rate_hz: int) -> tuple[int, int, np.ndarray]:
    m = num_samples // 2 + 1
    out_rate = sample_rate_hz // 2
    omega = 2.0 * np.pi * np.linspace(1, out_rate, m)
    return m, out_rate, omega


def _num_bins(num_samples: int, sample_rate_hz: int, max_frequency_hz: float | None) -> int:
    m = num_samples // 2 + 1
    if max_frequency_hz is None:
        return m
    # bin k of the input DFT holds frequency k * fs / N
    return min(m, int(math.floor(max_frequency_hz * num_samples / sample_rate_hz)) + 1)


def basilar_membrane_transfer(
    num_samples: int,
    sample_rate_hz: int,
    num_channels: int = 700,
    params: BasilarMembraneParameters | None = None,
    max_frequency_hz: float | None = None,
    block_channels: int = 32,
) -> np.ndarray:
    """Build the basilar-membrane transfer matrix for clips of exactly ``num_samples``.

    Args:
        num_samples: clip length ``N`` in samples.
        sample_rate_hz: input sample rate ``fs`` (Hz).
        num_channels: number of places along the membrane.
        params: model parameters (defaults: :class:`BasilarMembraneParameters`).
        max_frequency_hz: keep only input DFT bins up to this frequency (``None``: all
            ``N // 2 + 1``); use it when the input is known to be band-limited.
        block_channels: channels computed per vectorised block (memory/speed trade-off).

    Returns:
        ``(num_channels, K)`` complex128 matrix ``V``, ``K <= N // 2 + 1``: the velocity of
        channel ``i`` is ``Re(ifft(V[i] * S[:K], n=N // 2 + 1))``.
    """
    params = params or BasilarMembraneParameters()
    m, _, omega = _output_grid(num_samples, sample_rate_hz)
    k = _num_bins(num_samples, sample_rate_hz, max_frequency_hz)
    places = np.linspace(0.0, params.length, num_channels)
    out = np.empty((num_channels, k), dtype=np.complex128)
    with np.errstate(all="ignore"):
        for start in range(0, num_channels, block_channels):
            stop = min(start + block_channels, num_channels)
            out[start:stop] = _transfer_block(omega[:k], places[start:stop], params)
    bad = ~np.isfinite(out)
    if bad.any():
        raise FloatingPointError(
            f"basilar_membrane_transfer: {int(bad.sum())} non-finite entries for "
            f"num_samples={num_samples}, sample_rate_hz={sample_rate_hz}, params={params}"
        )
    return out


_CACHE_LOCK = threading.Lock()
_TRANSFER_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_TRANSFER_CACHE_SIZE = 6  # clip lengths (x layouts asked for); generation asks one layout


def clear_transfer_cache() -> None:
    """Drop the in-memory cache of basilar-membrane transfer matrices."""
    with _CACHE_LOCK:
        _TRANSFER_CACHE.clear()


def _transfer_key(
    num_samples: int,
    sample_rate_hz: int,
    num_channels: int,
    params: BasilarMembraneParameters,
    num_bins: int,
) -> str:
    text = repr(("bm-v1", num_samples, sample_rate_hz, num_channels, params, num_bins))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cached_transfer(
    num_samples: int,
    sample_rate_hz: int,
    num_channels: int,
    params: BasilarMembraneParameters,
    max_frequency_hz: float | None,
    disk_cache: bool,
    time_major: bool = False,
) -> np.ndarray:
    """complex64 transfer matrix from memory, disk or freshly built.

    ``time_major=True`` gives its contiguous transpose, ``(K, num_channels)``. The memory
    cache holds each layout under its own key and only the layouts asked for (the fast path
    keeps no channel-major copy); the disk holds the channel-major matrix.
    """
    k = _num_bins(num_samples, sample_rate_hz, max_frequency_hz)
    key = _transfer_key(num_samples, sample_rate_hz, num_channels, params, k)
    memory_key = key + ("-T" if time_major else "")
    with _CACHE_LOCK:
        hit = _TRANSFER_CACHE.get(memory_key)
        if hit is not None:
            _TRANSFER_CACHE.move_to_end(memory_key)
            return hit
    matrix = _stored_transfer(
        key, num_samples, sample_rate_hz, num_channels, params, max_frequency_hz, disk_cache
    )
    if time_major:
        matrix = np.ascontiguousarray(matrix.T)
    with _CACHE_LOCK:
        _TRANSFER_CACHE[memory_key] = matrix
        while len(_TRANSFER_CACHE) > _TRANSFER_CACHE_SIZE:
            _TRANSFER_CACHE.popitem(last=False)
    return matrix


def _stored_transfer(
    key: str,
    num_samples: int,
    sample_rate_hz: int,
    num_channels: int,
    params: BasilarMembraneParameters,
    max_frequency_hz: float | None,
    disk_cache: bool,
) -> np.ndarray:
    """The channel-major complex64 matrix from the disk cache, else built (and stored)."""
    k = _num_bins(num_samples, sample_rate_hz, max_frequency_hz)
    path = None
    if disk_cache:
        from elm_snn._io import atomic_path, cache_dir

        path = cache_dir("cochlea") / f"bm_{key}.npy"
        if path.exists():
            try:
                loaded = np.load(path)
                if loaded.shape == (num_channels, k) and loaded.dtype == np.complex64:
                    return loaded
            except (OSError, ValueError):
                pass  # unreadable cache entry: rebuild and overwrite it
    matrix = basilar_membrane_transfer(
        num_samples, sample_rate_hz, num_channels, params, max_frequency_hz
    ).astype(np.complex64)
    if path is not None:
        with atomic_path(path) as tmp:
            np.save(tmp, matrix)
    return matrix


# --------------------------------------------------------------------------------------
# Stages 4-5: numba kernels (compiled on first use)
# --------------------------------------------------------------------------------------

_KERNELS: dict[str, Callable[..., Any]] = {}
#: Channels the fused kernel runs side by side (independent recurrences to overlap).
_FUSED_BLOCK = 32
#: Largest per-step firing probability whose hazard comes from the series, not ``log1p``.
_SERIES_MAX_P = 1.0 / 16.0
#: First size of the fused kernel's spike list (it doubles when full).
_FUSED_FIRST_CAPACITY = 4096


def _kernels() -> dict[str, Callable[..., Any]]:
    """The numba kernels of stages 4-5, compiled on first use and kept in ``_KERNELS``.

    This function is far over the project's 80 lines per function, on purpose: the kernels
    are closures over one lazily imported numba (importing the module stays cheap) and call
    each other (``series``, ``hazard_increment``), and the fused kernel repeats the stage
    kernels' arithmetic line for line, so it reads best right below them."""
    if _KERNELS:
        return _KERNELS
    import numba

    series_max_p = _SERIES_MAX_P

    # -log(1 - p) = p + p^2/2 + p^3/3 + ...: for p <= 1/16 the 16 terms below are exact to
    # double precision (the first term left out is < 1e-20 of the sum); unlike ``log1p``
    # it compiles to SIMD. It and ``log1p`` differ by at most a few ulp (tested).
    @numba.njit(cache=True, nogil=True, inline="always")
    def series(p):  # pragma: no cover - compiled
        s = 1.0 / 16.0
        s = 1.0 / 15.0 + p * s
        s = 1.0 / 14.0 + p * s
        s = 1.0 / 13.0 + p * s
        s = 1.0 / 12.0 + p * s
        s = 1.0 / 11.0 + p * s
        s = 1.0 / 10.0 + p * s
        s = 1.0 / 9.0 + p * s
        s = 1.0 / 8.0 + p * s
        s = 1.0 / 7.0 + p * s
        s = 1.0 / 6.0 + p * s
        s = 1.0 / 5.0 + p * s
        s = 1.0 / 4.0 + p * s
        s = 1.0 / 3.0 + p * s
        s = 1.0 / 2.0 + p * s
        s = 1.0 + p * s
        return p * s

    @numba.njit(cache=True, nogil=True)
    def hazard_increment(p):  # pragma: no cover - compiled
        """The fibres' hazard for a per-step firing probability ``p``: ``-log(1 - p)``."""
        if p >= 1.0:
            return 1000.0  # exp(-1000) == 0: a certain spike
        if p > series_max_p:
            return -np.log1p(-p)
        if p > 0.0:
            return series(p)
        return 0.0

    @numba.njit(cache=True, nogil=True)
    def meddis(velocity, fs, y, g, l, r, x, a, b, h, m):  # pragma: no cover - compiled
        n_ch, n_t = velocity.shape
        out = np.empty((n_ch, n_t), dtype=np.float64)
        ymdt = y * m / fs
        xdt = x / fs
        ydt = y / fs
        rdt = r / fs
        gdt = g / fs
        hdt = h / fs
        lplusrdt = (l + r) / fs
        kt0 = g * a / (a + b)
        c0 = m * y * kt0 / (l * kt0 + y * (l + r))
        q0 = c0 * (l + r) / kt0
        w0 = c0 * r / x
        for ch in range(n_ch):
            c = c0
            q = q0
            w = w0
            for j in range(n_t):
                v = velocity[ch, j] + a
                kt = gdt * v / (v + b) if v > 0 else 0.0
                replenish = ymdt - ydt * q if q < m else 0.0
                eject = kt * q
                loss = lplusrdt * c
                reuptake = rdt * c
                reprocess = xdt * w
                q = max(q + replenish - eject + reprocess, 0.0)
                c = max(c + eject - loss, 0.0)
                w = max(w + reuptake - reprocess, 0.0)
                out[ch, j] = c * hdt
        return out

    @numba.njit(cache=True, nogil=True)
    def fibres(prob, n_fibres, dead_steps, seed):  # pragma: no cover - compiled
        np.random.seed(seed)  # noqa: NPY002 - numba supports only the legacy API
        n_ch, n_t = prob.shape
        counts = np.zeros((n_ch, n_t), dtype=np.uint8)
        hazard = np.empty(n_t + 1, dtype=np.float64)
        for ch in range(n_ch):
            hazard[0] = 0.0
            for t in range(n_t):
                hazard[t + 1] = hazard[t] + hazard_increment(prob[ch, t])
            total = hazard[n_t]
            for _ in range(n_fibres):
                s = 0
                while s < n_t:
                    target = hazard[s] + np.random.exponential(1.0)  # noqa: NPY002
                    if target > total:
                        break
                    lo = s + 1
                    hi = n_t
                    while lo < hi:  # first index in [s+1, n_t] with hazard >= target
                        mid = (lo + hi) // 2
                        if hazard[mid] >= target:
                            hi = mid
                        else:
                            lo = mid + 1
                    j = lo - 1
                    counts[ch, j] += 1
                    s = j + dead_steps
        return counts

    @numba.njit(cache=True, nogil=True)
    def lif(counts, fs, tau_mem, tau_syn, tau_refrac, weight):  # pragma: no cover - compiled
        n_ch, n_t = counts.shape
        spikes = np.zeros((n_ch, n_t), dtype=np.bool_)
        dt = 1.0 / fs
        mem_decay = np.exp(-dt / tau_mem)
        syn_decay = np.exp(-dt / tau_syn)
        n_refrac = tau_refrac * fs
        for ch in range(n_ch):
            v_prev = 0.0
            isyn = 0.0
            counter = 0.0
            for step in range(n_t):
                v = 0.0
                if step > 0:
                    if counter <= 0:
                        if v_prev < 1.0:
                            v = v_prev * mem_decay
                        else:
                            counter = n_refrac
                            v = 0.0
                            spikes[ch, step - 1] = True
                    isyn = isyn * syn_decay
                isyn += counts[ch, step]
                if counter <= 0:
                    v += isyn * weight * dt
                if v > 1.0:
                    v = 1.0
                counter -= 1
                v_prev = v
        return spikes

    # The fast path: stages 4-5 fused per block of channels, bit-identical to calling the
    # three kernels above in turn on the same velocity (tested). Why it is faster:
    # - the velocity comes in time-major, ``(T, C)`` float32: a block's channels sit side by
    #   side in memory, and the hair-cell recurrence and the hazard increments are
    #   elementwise across channels with no calls, which lets LLVM vectorise them over the
    #   block (measured: the increments take 0.02 s per utterance against log1p's ~0.1 s);
    # - ``error_model="numpy"`` drops the division-by-zero check that blocks vectorisation
    #   (the divisor ``v + b`` is > 0 wherever it is used); the arithmetic per channel is
    #   the reference's, in the same order, so the floats are the same;
    # - each channel's cumulative hazard is contiguous for the fibres' binary searches, and
    #   spikes come out as (step, unit) lists, not a boolean raster.
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def fused(
        velocity_tm,
        fs,
        y,
        g,
        l,
        r,
        x,
        a,
        b,
        h,
        m,
        n_fibres,
        dead_steps,
        seed,
        tau_mem,
        tau_syn,
        tau_refrac,
        weight,
        block,
        capacity,
    ):  # pragma: no cover - compiled
        np.random.seed(seed)  # noqa: NPY002 - numba supports only the legacy API
        n_t, n_ch = velocity_tm.shape
        # hair-cell constants, as in ``meddis``
        ymdt = y * m / fs
        xdt = x / fs
        ydt = y / fs
        rdt = r / fs
        gdt = g / fs
        hdt = h / fs
        lplusrdt = (l + r) / fs
        kt0 = g * a / (a + b)
        c0 = m * y * kt0 / (l * kt0 + y * (l + r))
        q0 = c0 * (l + r) / kt0
        w0 = c0 * r / x
        # bushy-cell constants, as in ``lif``
        dt = 1.0 / fs
        mem_decay = np.exp(-dt / tau_mem)
        syn_decay = np.exp(-dt / tau_syn)
        n_refrac = tau_refrac * fs

        increments = np.empty((n_t, block), dtype=np.float64)  # time-major, per lane
        hazard = np.empty((block, n_t + 1), dtype=np.float64)  # channel-major
        counts = np.zeros((n_t, block), dtype=np.uint8)
        fired = np.zeros((n_t, block), dtype=np.uint8)
        cs = np.empty(block)
        qs = np.empty(block)
        ws = np.empty(block)
        v_prev = np.empty(block)
        isyn = np.empty(block)
        counter = np.empty(block)
        out_steps = np.empty(capacity, dtype=np.int64)
        out_units = np.empty(capacity, dtype=np.int64)
        n_out = 0
        for ch0 in range(0, n_ch, block):
            nb = min(block, n_ch - ch0)
            # -- stage 4: Meddis hair cells, nb channels side by side
            for k in range(nb):
                cs[k] = c0
                qs[k] = q0
                ws[k] = w0
            for j in range(n_t):
                for k in range(nb):
                    v = velocity_tm[j, ch0 + k] + a
                    kt = gdt * v / (v + b) if v > 0 else 0.0
                    q = qs[k]
                    c = cs[k]
                    w = ws[k]
                    replenish = ymdt - ydt * q if q < m else 0.0
                    eject = kt * q
                    loss = lplusrdt * c
                    reuptake = rdt * c
                    reprocess = xdt * w
                    qs[k] = max(q + replenish - eject + reprocess, 0.0)
                    c = max(c + eject - loss, 0.0)
                    cs[k] = c
                    ws[k] = max(w + reuptake - reprocess, 0.0)
                    increments[j, k] = c * hdt
            # -- stage 5a: hazard increments -log(1 - p), as ``hazard_increment`` gives them:
            #    the series for every lane (SIMD; a large p is kept, negated, for later),
            #    then the rare large p through ``log1p``
            n_large = 0
            for j in range(n_t):
                for k in range(nb):
                    p = increments[j, k]
                    large = p > series_max_p
                    n_large += large
                    increments[j, k] = -p if large else (series(p) if p > 0.0 else 0.0)
            if n_large:
                for j in range(n_t):
                    for k in range(nb):
                        if increments[j, k] < 0.0:
                            increments[j, k] = hazard_increment(-increments[j, k])
            # -- stage 5a: cumulative hazard, channel-major (each channel's row contiguous
            #    for its binary searches; row by row, the nb rows written stay in L1)
            for k in range(nb):
                hazard[k, 0] = 0.0
            for j in range(n_t):
                for k in range(nb):
                    hazard[k, j + 1] = hazard[k, j] + increments[j, k]
            # -- stage 5a: fibres, channel by channel (one random stream, channel order)
            counts[:, :nb] = 0
            for k in range(nb):
                total = hazard[k, n_t]
                for _ in range(n_fibres):
                    s = 0
                    while s < n_t:
                        target = hazard[k, s] + np.random.exponential(1.0)  # noqa: NPY002
                        if target > total:
                            break
                        # first index in [s+1, n_t] with hazard >= target (hazard[n_t] is):
                        # gallop from s (the next spike is usually close, and the rows
                        # near s are in cache), then a branch-free lower bound in the
                        # bracket found, the answer always in [lo, lo + n)
                        prev = s
                        step = 1
                        hi = s + 1
                        while hi < n_t and hazard[k, hi] < target:
                            prev = hi
                            step *= 2
                            hi = min(s + step, n_t)
                        lo = prev + 1
                        n = hi - prev
                        while n > 1:
                            half = n >> 1
                            lo = lo + half if hazard[k, lo + half - 1] < target else lo
                            n -= half
                        j = lo - 1
                        counts[j, k] += 1
                        s = j + dead_steps
            # -- stage 5b: bushy cells, nb channels side by side; spikes flagged in place
            for k in range(nb):
                v_prev[k] = 0.0
                isyn[k] = 0.0
                counter[k] = 0.0
            fired[:, :nb] = 0
            n_block = 0
            for step in range(n_t):
                for k in range(nb):
                    v = 0.0
                    if step > 0:
                        if counter[k] <= 0:
                            if v_prev[k] < 1.0:
                                v = v_prev[k] * mem_decay
                            else:
                                counter[k] = n_refrac
                                v = 0.0
                                fired[step - 1, k] = 1
                                n_block += 1
                        isyn[k] = isyn[k] * syn_decay
                    isyn[k] += counts[step, k]
                    if counter[k] <= 0:
                        v += isyn[k] * weight * dt
                    if v > 1.0:
                        v = 1.0
                    counter[k] -= 1
                    v_prev[k] = v
            # -- the block's spikes, by time then channel
            if n_out + n_block > capacity:
                capacity = max(2 * capacity, n_out + n_block)
                grown_steps = np.empty(capacity, dtype=np.int64)
                grown_units = np.empty(capacity, dtype=np.int64)
                grown_steps[:n_out] = out_steps[:n_out]
                grown_units[:n_out] = out_units[:n_out]
                out_steps = grown_steps
                out_units = grown_units
            if n_block:
                for step in range(n_t):
                    for k in range(nb):
                        if fired[step, k]:
                            out_steps[n_out] = step
                            out_units[n_out] = ch0 + k
                            n_out += 1
        return out_steps[:n_out], out_units[:n_out]

    _KERNELS.update(
        meddis=meddis, fibres=fibres, lif=lif, fused=fused, hazard_increment=hazard_increment
    )
    return _KERNELS


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


class Cochlea:
    """Audio -> spikes on ``num_channels`` channels with ``lauscher``'s (SHD's) cochlea model.

    Example::

        cochlea = Cochlea()                      # 700 channels, SHD's parameters
        spikes = cochlea(audio_48k, 48_000, seed=0)
        spikes.times_ms, spikes.units            # (S,), (S,)

    Args:
        num_channels: channels along the basilar membrane (SHD: 700).
        rms_level: RMS the whole clip is scaled to before windowing (SHD: 0.3).
        basilar_membrane: basilar-membrane parameters.
        hair_cell: hair-cell parameters.
        bushy_cell: fibre and bushy-cell parameters.
        max_frequency_hz: ignore input DFT bins above this frequency (``None``: use all).
            Only exact when the input has no energy there, e.g. speech upsampled from
            22.05 kHz with ``max_frequency_hz=11025``; halves the cost of stage 3.
        disk_cache: also cache transfer matrices (complex64, ~9 MB per 100 ms of 48 kHz
            audio at 700 channels) in ``cache_dir("cochlea")``.
    """

    def __init__(
        self,
        num_channels: int = 700,
        *,
        rms_level: float = 0.3,
        basilar_membrane: BasilarMembraneParameters | None = None,
        hair_cell: HairCellParameters | None = None,
        bushy_cell: BushyCellParameters | None = None,
        max_frequency_hz: float | None = None,
        disk_cache: bool = False,
    ) -> None:
        if isinstance(num_channels, bool) or not isinstance(num_channels, (int, np.integer)):
            raise TypeError(f"num_channels: expected an int, got {type(num_channels).__name__}")
        if num_channels < 1:
            raise ValueError(f"num_channels: expected >= 1, got {num_channels}")
        if not (isinstance(rms_level, (int, float)) and math.isfinite(rms_level) and rms_level > 0):
            raise ValueError(f"rms_level: expected a finite number > 0, got {rms_level!r}")
        if max_frequency_hz is not None and not (
            isinstance(max_frequency_hz, (int, float))
            and math.isfinite(max_frequency_hz)
            and max_frequency_hz > 0
        ):
            raise ValueError(
                f"max_frequency_hz: expected None or a finite number > 0, got {max_frequency_hz!r}"
            )
        self.num_channels = int(num_channels)
        self.rms_level = float(rms_level)
        self.bm_params = basilar_membrane or BasilarMembraneParameters()
        self.hc_params = hair_cell or HairCellParameters()
        self.bc_params = bushy_cell or BushyCellParameters()
        if self.bc_params.n_convergence < 1 or self.bc_params.n_convergence > 255:
            raise ValueError(
                "bushy_cell.n_convergence: expected 1..255 fibres per channel, got "
                f"{self.bc_params.n_convergence}"
            )
        self.max_frequency_hz = None if max_frequency_hz is None else float(max_frequency_hz)
        self.disk_cache = bool(disk_cache)

    # -- stages ---------------------------------------------------------------------------

    def preprocess(self, audio: np.ndarray) -> np.ndarray:
        """Stages 1-2: RMS normalisation to ``rms_level`` and a whole-clip Hann window.

        Args:
            audio: ``(N,)`` samples.

        Returns:
            ``(N,)`` float64.
        """
        return hann_window(rms_normalize(audio, self.rms_level))

    def basilar_membrane(self, audio: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, int]:
        """Stage 3: basilar-membrane velocity of every channel (no preprocessing applied).

        Args:
            audio: ``(N,)`` samples (normally the output of :meth:`preprocess`).
            sample_rate_hz: input sample rate (Hz), an integer >= 2.

        Returns:
            ``(velocity, out_rate_hz)``: ``(num_channels, N // 2 + 1)`` float32 velocity and
            its sample rate ``sample_rate_hz // 2``.
        """
        import scipy.fft

        x = _check_audio(audio)
        fs = _check_rate(sample_rate_hz)
        m = x.size // 2 + 1
        matrix = _cached_transfer(
            x.size, fs, self.num_channels, self.bm_params, self.max_frequency_hz, self.disk_cache
        )
        spectrum = scipy.fft.rfft(x)[: matrix.shape[1]].astype(np.complex64)
        velocity = scipy.fft.ifft(matrix * spectrum[None, :], n=m, axis=1, workers=1)
        return np.ascontiguousarray(velocity.real), fs // 2

    def _time_major_velocity(
        self, audio: np.ndarray, sample_rate_hz: int
    ) -> tuple[np.ndarray, int]:
        """Stage 3 for the fused path: ``(N // 2 + 1, num_channels)`` float32, time-major.

        The very floats of :meth:`basilar_membrane`, transposed: the inverse FFT along axis
        0 of the transposed product gives the same numbers as along axis 1 (tested). (A
        real inverse FFT of the spectrum's Hermitian part would save a quarter of this
        stage but round differently and move a few spikes per thousand utterances, so that
        data made before and after would differ; not done.) Time-major puts a block's
        channels side by side for the SIMD stages.
        """
        import scipy.fft

        x = _check_audio(audio)
        fs = _check_rate(sample_rate_hz)
        m = x.size // 2 + 1
        matrix_t = _cached_transfer(
            x.size, fs, self.num_channels, self.bm_params, self.max_frequency_hz,
            self.disk_cache, time_major=True,
        )  # fmt: skip
        spectrum = scipy.fft.rfft(x)[: matrix_t.shape[0]].astype(np.complex64)
        velocity = scipy.fft.ifft(matrix_t * spectrum[:, None], n=m, axis=0, workers=1)
        return np.ascontiguousarray(velocity.real), fs // 2

    def hair_cell(self, velocity: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """Stage 4: Meddis hair cells; firing probability per output step.

        Args:
            velocity: ``(C, T)`` basilar-membrane velocity.
            sample_rate_hz: its sample rate (Hz).

        Returns:
            ``(C, T)`` float64 spike probability per step of each fibre.
        """
        v = _check_matrix("velocity", velocity, np.floating)
        fs = _check_rate(sample_rate_hz)
        p = self.hc_params
        return _kernels()["meddis"](v, float(fs), p.y, p.g, p.l, p.r, p.x, p.a, p.b, p.h, p.m)

    def auditory_nerve(self, probability: np.ndarray, sample_rate_hz: int, seed: int) -> np.ndarray:
        """Stage 5a: sample ``n_convergence`` refractory fibres per channel.

        Each fibre fires at step ``t`` with probability ``probability[c, t]`` unless it fired
        within the last ``tau_refrac`` (a spike at ``j`` blocks steps ``j+1 .. j+d-1`` with
        ``d = max(1, ceil(tau_refrac * fs))``, as ``lauscher``'s correction does).

        Args:
            probability: ``(C, T)`` per-step firing probability (>= 0).
            sample_rate_hz: its sample rate (Hz).
            seed: integer seed ``0 <= seed < 2**32`` of this call's random stream.

        Returns:
            ``(C, T)`` uint8 number of fibres of each channel that fired at each step.
        """
        prob = _check_matrix("probability", probability, np.floating)
        if prob.size and (not np.all(np.isfinite(prob)) or prob.min() < 0):
            raise ValueError("probability: expected finite values >= 0")
        fs = _check_rate(sample_rate_hz)
        seed = _check_seed(seed)
        dead = max(1, math.ceil(self.bc_params.tau_refrac * fs))
        return _kernels()["fibres"](
            prob.astype(np.float64, copy=False), int(self.bc_params.n_convergence), dead, seed
        )

    def bushy_cells(self, fibre_counts: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """Stage 5b: leaky integrate-and-fire bushy cells driven by the fibre spikes.

        Args:
            fibre_counts: ``(C, T)`` integer number of fibre spikes per step.
            sample_rate_hz: its sample rate (Hz).

        Returns:
            ``(C, T)`` bool spike raster (a spike at step ``t`` is reported at ``t``, one
            step before the membrane resets, as in ``lauscher``).
        """
        counts = _check_matrix("fibre_counts", fibre_counts, np.integer)
        fs = _check_rate(sample_rate_hz)
        p = self.bc_params
        return _kernels()["lif"](
            counts, float(fs), p.tau_mem, p.tau_syn, p.tau_refrac, p.weight / p.n_convergence
        )

    def __call__(self, audio: np.ndarray, sample_rate_hz: int, seed: int = 0) -> CochleaSpikes:
        """Run all stages on one clip.

        Args:
            audio: ``(N,)`` mono samples (any scale; the clip is RMS-normalised).
            sample_rate_hz: input sample rate (Hz); keep the signal below a quarter of it.
            seed: seed of the fibre sampling, ``0 <= seed < 2**32``.

        Returns:
            :class:`CochleaSpikes` on the ``sample_rate_hz // 2`` grid.
        """
        fs = _check_rate(sample_rate_hz)
        seed = _check_seed(seed)
        velocity_tm, out_rate = self._time_major_velocity(self.preprocess(audio), fs)
        return self._fused_spikes(velocity_tm, out_rate, seed)

    def _fused_spikes(self, velocity_tm: np.ndarray, out_rate: int, seed: int) -> CochleaSpikes:
        """Stages 4-5 fused on a ``(T, num_channels)`` float32 time-major velocity: the same
        spikes as :meth:`hair_cell`, :meth:`auditory_nerve` and :meth:`bushy_cells` run on
        its transpose (tested bit for bit)."""
        hc, bc = self.hc_params, self.bc_params
        steps, units = _kernels()["fused"](
            velocity_tm, float(out_rate),
            hc.y, hc.g, hc.l, hc.r, hc.x, hc.a, hc.b, hc.h, hc.m,
            int(bc.n_convergence), max(1, math.ceil(bc.tau_refrac * out_rate)), seed,
            bc.tau_mem, bc.tau_syn, bc.tau_refrac, bc.weight / bc.n_convergence,
            _FUSED_BLOCK, _FUSED_FIRST_CAPACITY,
        )  # fmt: skip
        order = np.lexsort((units, steps))  # by time, then channel (as the raster's nonzero)
        return CochleaSpikes(
            steps=steps[order],
            units=units[order],
            sample_rate_hz=out_rate,
            num_steps=int(velocity_tm.shape[0]),
            num_channels=self.num_channels,
        )

    def reference_spikes(
        self, audio: np.ndarray, sample_rate_hz: int, seed: int = 0
    ) -> CochleaSpikes:
        """All stages one after the other through the public stage methods: the reference
        that :meth:`__call__`'s fast path is tested against (same spikes, bit for bit)."""
        fs = _check_rate(sample_rate_hz)
        x = self.preprocess(audio)
        velocity, out_rate = self.basilar_membrane(x, fs)
        prob = self.hair_cell(velocity, out_rate)
        counts = self.auditory_nerve(prob, out_rate, seed)
        raster = self.bushy_cells(counts, out_rate)
        steps, units = np.nonzero(raster.T)
        return CochleaSpikes(
            steps=steps.astype(np.int64),
            units=units.astype(np.int64),
            sample_rate_hz=out_rate,
            num_steps=int(raster.shape[1]),
            num_channels=self.num_channels,
        )


def _check_rate(sample_rate_hz: Any) -> int:
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, (int, np.integer)):
        raise TypeError(
            f"sample_rate_hz: expected an int (Hz), got {type(sample_rate_hz).__name__}"
        )
    if sample_rate_hz < 2:
        raise ValueError(f"sample_rate_hz: expected >= 2 Hz, got {sample_rate_hz}")
    return int(sample_rate_hz)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected 0 <= seed < 2**32, got {seed}")
    return int(seed)


def _check_matrix(name: str, value: Any, kind: type) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (channels, steps) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, kind):
        raise TypeError(f"{name}: expected a {kind.__name__} array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)
