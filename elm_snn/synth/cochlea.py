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
random numbers: ``lauscher`` draws ``T x 40`` uniforms per channel; here the 40 fibres of a
channel race exponential clocks on the hazard ``-log(1 - p_t)`` (one variate per fibre
spike), the same Bernoulli process with dead time, and each channel draws from a
SplitMix64 stream of its own, started from (seed, channel index).

Two paths compute the same model. The public stage methods (``basilar_membrane``,
``hair_cell``, ``auditory_nerve``, ``bushy_cells``, chained by :meth:`Cochlea.reference_spikes`)
are the reference, written to read like ``lauscher``. :meth:`Cochlea.__call__` is the fast
path, about 3x less CPU (``benchmarks/bench_cochlea.py``): stage 3 as the real inverse FFT of
each channel's Hermitian spectrum (half the work of the complex one; the same velocity to
single-precision rounding, which moves a few spikes in 100,000), a block of channels
at a time, then stages 4-5 fused in time order over blocks of channels side by side, which
gives the reference stages' spikes bit for bit on the same velocity. The hazard
``-log(1 - p)`` comes from a six-term ``atanh`` series for ``p <= 1/16`` in both paths
(within 2 ulp of ``log1p``, and unlike it, it vectorises). :meth:`Cochlea.legacy_spikes`
keeps the cochlea of elm-snn's spoken-digit generator version 2 (one random stream for all
fibres), so that sets made with it can be made again bit for bit. All of this is tested
(``tests/synth/test_cochlea.py``).

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
from collections.abc import Callable, Iterable, Iterator
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
#: Channels whose basilar membrane the fast path computes at once (their velocity, ~3 MB
#: for a second of audio, is still in cache when the fused kernel reads it).
_VELOCITY_BLOCK = 32


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
    gamma = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (odd, ~2**64 / phi)
    channel_odd = np.uint64(0xD1B54A32D192ED03)  # an odd multiplier spreading channel indices
    mix_1 = np.uint64(0xBF58476D1CE4E5B9)
    mix_2 = np.uint64(0x94D049BB133111EB)
    shift_30 = np.uint64(30)
    shift_27 = np.uint64(27)
    shift_31 = np.uint64(31)
    shift_11 = np.uint64(11)
    one = np.uint64(1)
    two_to_minus_53 = 1.0 / 9007199254740992.0

    # -log(1 - p) = 2 atanh(z) = 2 (z + z^3/3 + z^5/5 + ...) with z = p / (2 - p): for
    # p <= 1/16, z <= 1/31 and the six terms below are exact to double precision (the
    # first term left out is < 1e-19 of the sum); unlike ``log1p`` it compiles to SIMD.
    # It and ``log1p`` differ by at most 2 ulp (tested).
    @numba.njit(cache=True, nogil=True, inline="always")
    def series(p):  # pragma: no cover - compiled
        z = p / (2.0 - p)
        z2 = z * z
        s = 1.0 / 11.0
        s = 1.0 / 9.0 + z2 * s
        s = 1.0 / 7.0 + z2 * s
        s = 1.0 / 5.0 + z2 * s
        s = 1.0 / 3.0 + z2 * s
        s = 1.0 + z2 * s
        return 2.0 * z * s

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

    # Random numbers of the fibres: every channel has its own stream, a SplitMix64 sequence
    # (Steele, Lea & Flood, OOPSLA 2014: a Weyl sequence of 64-bit words, each scrambled
    # by a bijective mix) started at a scrambled (seed, channel) word. A channel's spikes
    # therefore depend on the seed and its own index only, not on the other channels or on
    # the order the channels are computed in, which lets the fused kernel run channels
    # side by side and draw in time order.
    @numba.njit(cache=True, nogil=True, inline="always")
    def mix(z):  # pragma: no cover - compiled
        z = (z ^ (z >> shift_30)) * mix_1
        z = (z ^ (z >> shift_27)) * mix_2
        return z ^ (z >> shift_31)

    @numba.njit(cache=True, nogil=True)
    def channel_stream(seed, channel):  # pragma: no cover - compiled
        """The first state of channel ``channel``'s stream under ``seed``."""
        return mix(mix(np.uint64(seed) + gamma) ^ (np.uint64(channel + 1) * channel_odd))

    @numba.njit(cache=True, nogil=True, inline="always")
    def exponential(state):  # pragma: no cover - compiled
        """An Exp(1) variate from an (already advanced) stream state: ``-log(u)`` with
        ``u`` uniform on the 2**53 doubles of (0, 1]."""
        return -np.log(((mix(state) >> shift_11) + one) * two_to_minus_53)

    # Stage 5a, the reference. The fibres of a channel are exchangeable, so the state is
    # how many are available (not refractory) and, for each of the next ``dead_steps``
    # steps, how many come back then. Each available fibre fires at step ``t`` with
    # probability ``p_t``, i.e. when its own Exp(1) clock, run on the hazard
    # ``h_t = -log(1 - p_t)``, expires; the first of the ``A`` clocks to expire is an Exp(1)
    # clock run on ``A h_t`` (``remaining`` below). When it expires inside step ``t``, the
    # ``-remaining / A`` of the step's hazard left over still acts on the ``A - 1`` others,
    # which gives the next ``remaining``; a fibre that fired is back ``dead_steps`` later.
    # By memorylessness this is the process of ``lauscher``'s per-step Bernoulli draws
    # (same distribution, tested against it), for one variate per fibre spike.
    @numba.njit(cache=True, nogil=True)
    def fibres(prob, n_fibres, dead_steps, seed, first_channel):  # pragma: no cover
        n_ch, n_t = prob.shape
        counts = np.zeros((n_ch, n_t), dtype=np.uint8)
        returning = np.zeros(dead_steps, dtype=np.float64)  # by step modulo dead_steps
        for ch in range(n_ch):
            state = channel_stream(seed, first_channel + ch)
            state += gamma
            remaining = exponential(state)
            available = float(n_fibres)
            returning[:] = 0.0
            for t in range(n_t):
                slot = t % dead_steps
                available = available + returning[slot]
                returning[slot] = 0.0
                remaining = remaining - available * hazard_increment(prob[ch, t])
                while remaining <= 0.0 and available > 0.0:
                    counts[ch, t] += 1
                    returning[slot] += 1.0  # back at t + dead_steps
                    state += gamma
                    remaining = exponential(state) + remaining * ((available - 1.0) / available)
                    available = available - 1.0
        return counts

    # The hazard as generator version 2 summed it: -log(1 - p) = p + p^2/2 + p^3/3 + ...
    # (16 terms for p <= 1/16), within 2 ulp of ``series`` but not always the same double,
    # so ``fibres_legacy`` keeps it to remake version-2 spikes exactly.
    @numba.njit(cache=True, nogil=True)
    def legacy_hazard_increment(p):  # pragma: no cover - compiled
        if p >= 1.0:
            return 1000.0
        if p > series_max_p:
            return -np.log1p(-p)
        if p <= 0.0:
            return 0.0
        s = 1.0 / 16.0
        for k in range(15, 0, -1):
            s = 1.0 / k + p * s
        return p * s

    # Stage 5a as elm-snn drew it before generator version 3: one numba stream, seeded once,
    # fibre after fibre and channel after channel; each spike's exponential variate sets
    # the cumulative hazard it fires at, found by binary search. The same process as
    # ``fibres`` (in distribution), other spikes; kept to make version-2 data again.
    @numba.njit(cache=True, nogil=True)
    def fibres_legacy(prob, n_fibres, dead_steps, seed):  # pragma: no cover - compiled
        np.random.seed(seed)  # noqa: NPY002 - numba supports only the legacy API
        n_ch, n_t = prob.shape
        counts = np.zeros((n_ch, n_t), dtype=np.uint8)
        hazard = np.empty(n_t + 1, dtype=np.float64)
        for ch in range(n_ch):
            hazard[0] = 0.0
            for t in range(n_t):
                hazard[t + 1] = hazard[t] + legacy_hazard_increment(prob[ch, t])
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

    # The fast path: stages 4-5 fused per block of ``block`` channels, bit-identical to calling
    # ``meddis``, ``fibres`` and ``lif`` in turn on the same velocity (tested). Why it is
    # faster:
    # - everything runs in time order, ``block`` channels side by side (a small time-major
    #   tile of the channel-major velocity), so the hair-cell recurrence, the hazard
    #   increments, the fibres' clocks and the bushy cells are elementwise across channels
    #   with no calls and LLVM vectorises them; nothing of the size of the clip is stored;
    # - ``error_model="numpy"`` drops the division-by-zero check that blocks vectorisation
    #   (the divisor ``v + b`` is > 0 wherever it is used); the arithmetic per channel is
    #   the reference's, in the same order, so the floats are the same;
    # - only the channels whose fibre clock expired this step (about one in ten) go through
    #   the scalar code that draws the next variate, gathered into a short list first;
    # - spikes come out as (step, unit) lists, not a boolean raster.
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def fused(
        velocity,
        first_channel,
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
        n_ch, n_t = velocity.shape
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

        tile_steps = 16  # velocity tile: one cache line of each channel's row
        tile = np.empty((tile_steps, block), dtype=np.float32)
        counts = np.zeros((tile_steps, block))  # fibre spikes per step of the tile
        fired = np.zeros((tile_steps, block), dtype=np.uint8)  # bushy spikes (step - 1)
        returning = np.zeros((dead_steps, block))  # fibres back at step (mod dead_steps)
        large_p = np.empty(block)  # p > series_max_p (its hazard via log1p), else -1
        expired = np.empty(block, dtype=np.int64)  # channels with work for the scalar code
        cs = np.empty(block)
        qs = np.empty(block)
        ws = np.empty(block)
        available = np.empty(block)
        remaining = np.empty(block)
        state = np.empty(block, dtype=np.uint64)
        v_prev = np.empty(block)
        isyn = np.empty(block)
        counter = np.empty(block)
        out_steps = np.empty(capacity, dtype=np.int64)
        out_units = np.empty(capacity, dtype=np.int64)
        n_out = 0
        for ch0 in range(0, n_ch, block):
            nb = min(block, n_ch - ch0)
            for k in range(nb):
                cs[k] = c0
                qs[k] = q0
                ws[k] = w0
                st = channel_stream(seed, first_channel + ch0 + k) + gamma
                state[k] = st
                remaining[k] = exponential(st)
                available[k] = float(n_fibres)
                v_prev[k] = 0.0
                isyn[k] = 0.0
                counter[k] = 0.0
            returning[:, :nb] = 0.0
            for t0 in range(0, n_t, tile_steps):
                nt = min(tile_steps, n_t - t0)
                for jj in range(nt):
                    for k in range(nb):
                        tile[jj, k] = velocity[ch0 + k, t0 + jj]
                for jj in range(nt):
                    slot = (t0 + jj) % dead_steps
                    for k in range(nb):
                        # -- stage 4: Meddis hair cells, as in ``meddis``
                        v = tile[jj, k] + a
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
                        # -- stage 5a: the hazard as ``hazard_increment`` gives it (the
                        #    series in SIMD; a large p waits for the scalar code), then the
                        #    fibres' clocks as in ``fibres``
                        p = c * hdt
                        large = p > series_max_p
                        increment = 0.0 if large else (series(p) if p > 0.0 else 0.0)
                        large_p[k] = p if large else -1.0
                        avail = available[k] + returning[slot, k]
                        returning[slot, k] = 0.0
                        available[k] = avail
                        remaining[k] = remaining[k] - avail * increment
                        counts[jj, k] = 0.0
                    n_expired = 0
                    for k in range(nb):  # branch-free list of the channels to visit
                        expired[n_expired] = k
                        n_expired += (remaining[k] <= 0.0) | (large_p[k] >= 0.0)
                    for e in range(n_expired):
                        k = expired[e]
                        if large_p[k] >= 0.0:
                            remaining[k] = remaining[k] - available[k] * hazard_increment(
                                large_p[k]
                            )
                        while remaining[k] <= 0.0 and available[k] > 0.0:
                            avail = available[k]
                            counts[jj, k] += 1.0
                            returning[slot, k] += 1.0
                            st = state[k] + gamma
                            state[k] = st
                            remaining[k] = exponential(st) + remaining[k] * ((avail - 1.0) / avail)
                            available[k] = avail - 1.0
                # -- stage 5b: bushy cells over the tile, as in ``lif``
                n_tile = 0
                for jj in range(nt):
                    step = t0 + jj
                    for k in range(nb):
                        v = 0.0
                        fired[jj, k] = 0
                        if step > 0:
                            if counter[k] <= 0:
                                if v_prev[k] < 1.0:
                                    v = v_prev[k] * mem_decay
                                else:
                                    counter[k] = n_refrac
                                    v = 0.0
                                    fired[jj, k] = 1
                                    n_tile += 1
                            isyn[k] = isyn[k] * syn_decay
                        isyn[k] += counts[jj, k]
                        if counter[k] <= 0:
                            v += isyn[k] * weight * dt
                        if v > 1.0:
                            v = 1.0
                        counter[k] -= 1
                        v_prev[k] = v
                if n_tile == 0:
                    continue
                # the tile's spikes, by time then channel (reported one step back)
                if n_out + n_tile > capacity:
                    capacity = max(2 * capacity, n_out + n_tile)
                    grown_steps = np.empty(capacity, dtype=np.int64)
                    grown_units = np.empty(capacity, dtype=np.int64)
                    grown_steps[:n_out] = out_steps[:n_out]
                    grown_units[:n_out] = out_units[:n_out]
                    out_steps = grown_steps
                    out_units = grown_units
                for jj in range(nt):
                    for k in range(nb):
                        if fired[jj, k]:
                            out_steps[n_out] = t0 + jj - 1
                            out_units[n_out] = first_channel + ch0 + k
                            n_out += 1
        return out_steps[:n_out], out_units[:n_out]

    # Stage 3's spectrum for the fast path: channel ``c`` of the product ``X = V[c] * S`` is
    # zero from bin ``K`` on (the matrix's width); the real part of its length-``M``
    # inverse DFT is the inverse real DFT of its Hermitian part
    # ``(X_k + conj(X_{M-k})) / 2``, ``k = 0 .. M // 2``: half the work of the complex
    # transform. Each output bin is written once, from the products it needs.
    @numba.njit(cache=True, nogil=True)
    def hermitian_spectrum(matrix, spectrum, m):  # pragma: no cover - compiled
        n_ch, n_bins = matrix.shape
        half = m // 2 + 1
        out = np.empty((n_ch, half), dtype=np.complex64)
        for c in range(n_ch):
            direct = min(n_bins, half)  # bins k with X_k (k < n_bins)
            mirrored = max(m - n_bins + 1, 1)  # from here on X_{M-k} too (m - k < n_bins)
            out[c, 0] = (matrix[c, 0] * spectrum[0]).real if n_bins > 0 else 0.0
            for k in range(1, min(direct, mirrored)):
                out[c, k] = 0.5 * (matrix[c, k] * spectrum[k])
            for k in range(max(direct, 1), min(mirrored, half)):
                out[c, k] = 0.0
            for k in range(mirrored, direct):
                out[c, k] = 0.5 * (
                    matrix[c, k] * spectrum[k] + np.conj(matrix[c, m - k] * spectrum[m - k])
                )
            for k in range(max(mirrored, direct), half):
                out[c, k] = 0.5 * np.conj(matrix[c, m - k] * spectrum[m - k])
        return out

    _KERNELS.update(
        meddis=meddis,
        fibres=fibres,
        fibres_legacy=fibres_legacy,
        legacy_hazard_increment=legacy_hazard_increment,
        lif=lif,
        fused=fused,
        hazard_increment=hazard_increment,
        hermitian_spectrum=hermitian_spectrum,
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

        matrix, spectrum, m, fs = self._transfer_and_spectrum(audio, sample_rate_hz)
        velocity = scipy.fft.ifft(matrix * spectrum[None, :], n=m, axis=1, workers=1)
        return np.ascontiguousarray(velocity.real), fs // 2

    def _transfer_and_spectrum(
        self, audio: np.ndarray, sample_rate_hz: int
    ) -> tuple[np.ndarray, np.ndarray, int, int]:
        """What both paths of stage 3 start from: the ``(num_channels, K)`` complex64
        transfer matrix (cached), the clip's first ``K`` DFT bins as complex64, the output
        length ``M = N // 2 + 1`` and the checked input rate."""
        import scipy.fft

        x = _check_audio(audio)
        fs = _check_rate(sample_rate_hz)
        matrix = _cached_transfer(
            x.size, fs, self.num_channels, self.bm_params, self.max_frequency_hz, self.disk_cache
        )
        spectrum = scipy.fft.rfft(x)[: matrix.shape[1]].astype(np.complex64)
        return matrix, spectrum, x.size // 2 + 1, fs

    def _velocity_rows(
        self, matrix_rows: np.ndarray, spectrum: np.ndarray, num_steps: int
    ) -> np.ndarray:
        """Stage 3 for the fast path, for the channels of ``matrix_rows``: ``(rows,
        num_steps)`` float32, the real inverse FFT of each channel's Hermitian part (half
        the work of :meth:`basilar_membrane`'s complex one; the same numbers to single-
        precision rounding, tested). Run a block of channels at a time, so that the
        velocity is still in cache when stages 4-5 read it."""
        import scipy.fft

        half = _kernels()["hermitian_spectrum"](matrix_rows, spectrum, num_steps)
        return scipy.fft.irfft(half, n=num_steps, axis=1, workers=1, overwrite_x=True)

    def _fast_velocity(
        self, audio: np.ndarray, sample_rate_hz: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stage 3 of the fast path, block by block: ``(first channel, (rows, N // 2 + 1)
        float32 velocity)`` for consecutive blocks of :data:`_VELOCITY_BLOCK` channels."""
        matrix, spectrum, m, _ = self._transfer_and_spectrum(audio, sample_rate_hz)
        for start in range(0, self.num_channels, _VELOCITY_BLOCK):
            stop = min(start + _VELOCITY_BLOCK, self.num_channels)
            yield start, self._velocity_rows(matrix[start:stop], spectrum, m)

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

    def auditory_nerve(
        self, probability: np.ndarray, sample_rate_hz: int, seed: int, first_channel: int = 0
    ) -> np.ndarray:
        """Stage 5a: sample ``n_convergence`` refractory fibres per channel.

        Each fibre fires at step ``t`` with probability ``probability[c, t]`` unless it fired
        within the last ``tau_refrac`` (a spike at ``j`` blocks steps ``j+1 .. j+d-1`` with
        ``d = max(1, ceil(tau_refrac * fs))``, as ``lauscher``'s correction does). The
        fibres of a channel are simulated together, as a race of exponential clocks on the
        hazard ``-log(1 - p)`` (one variate per fibre spike; the same process as per-step
        Bernoulli draws), from a random stream of that channel's own: row ``c`` is
        channel ``first_channel + c``.

        Args:
            probability: ``(C, T)`` per-step firing probability (>= 0).
            sample_rate_hz: its sample rate (Hz).
            seed: integer seed ``0 <= seed < 2**32`` of the random streams.
            first_channel: the channel index of row 0 (its stream; default 0).

        Returns:
            ``(C, T)`` uint8 number of fibres of each channel that fired at each step.
        """
        prob = _check_matrix("probability", probability, np.floating)
        if prob.size and (not np.all(np.isfinite(prob)) or prob.min() < 0):
            raise ValueError("probability: expected finite values >= 0")
        fs = _check_rate(sample_rate_hz)
        seed = _check_seed(seed)
        if isinstance(first_channel, bool) or not isinstance(first_channel, (int, np.integer)):
            raise TypeError(f"first_channel: expected an int, got {type(first_channel).__name__}")
        if first_channel < 0:
            raise ValueError(f"first_channel: expected >= 0, got {first_channel}")
        dead = self._dead_steps(fs)
        return _kernels()["fibres"](
            prob.astype(np.float64, copy=False),
            int(self.bc_params.n_convergence),
            dead,
            seed,
            int(first_channel),
        )

    def _dead_steps(self, sample_rate_hz: int) -> int:
        """A fibre's dead time in steps: a spike at ``j`` blocks ``j+1 .. j+d-1``."""
        return max(1, math.ceil(self.bc_params.tau_refrac * sample_rate_hz))

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
        """Run all stages on one clip (the fast path).

        Args:
            audio: ``(N,)`` mono samples (any scale; the clip is RMS-normalised).
            sample_rate_hz: input sample rate (Hz); keep the signal below a quarter of it.
            seed: seed of the fibre sampling, ``0 <= seed < 2**32``.

        Returns:
            :class:`CochleaSpikes` on the ``sample_rate_hz // 2`` grid.
        """
        fs = _check_rate(sample_rate_hz)
        seed = _check_seed(seed)
        x = self.preprocess(audio)
        return self._fused_spikes(self._fast_velocity(x, fs), x.size // 2 + 1, fs // 2, seed)

    def _fused_spikes(
        self,
        velocity_blocks: Iterable[tuple[int, np.ndarray]],
        num_steps: int,
        out_rate: int,
        seed: int,
    ) -> CochleaSpikes:
        """Stages 4-5 fused on channel-major velocity blocks ``(first channel, (rows,
        num_steps) float32)``: the same spikes as :meth:`hair_cell`, :meth:`auditory_nerve`
        and :meth:`bushy_cells` run on the whole velocity (tested bit for bit). Each channel
        draws from its own stream (seed, channel index), so blocks may come in any order
        and need not cover every channel."""
        hc, bc = self.hc_params, self.bc_params
        fused = _kernels()["fused"]
        steps_parts, units_parts = [], []
        for start, velocity in velocity_blocks:
            steps, units = fused(
                velocity, start, float(out_rate),
                hc.y, hc.g, hc.l, hc.r, hc.x, hc.a, hc.b, hc.h, hc.m,
                int(bc.n_convergence), self._dead_steps(out_rate), seed,
                bc.tau_mem, bc.tau_syn, bc.tau_refrac, bc.weight / bc.n_convergence,
                _FUSED_BLOCK, _FUSED_FIRST_CAPACITY,
            )  # fmt: skip
            steps_parts.append(steps)
            units_parts.append(units)
        steps = np.concatenate(steps_parts) if steps_parts else np.zeros(0, np.int64)
        units = np.concatenate(units_parts) if units_parts else np.zeros(0, np.int64)
        order = np.lexsort((units, steps))  # by time, then channel (as the raster's nonzero)
        return CochleaSpikes(
            steps=steps[order],
            units=units[order],
            sample_rate_hz=out_rate,
            num_steps=int(num_steps),
            num_channels=self.num_channels,
        )

    def reference_spikes(
        self, audio: np.ndarray, sample_rate_hz: int, seed: int = 0
    ) -> CochleaSpikes:
        """All stages one after the other through the public stage methods: the reference
        that :meth:`__call__`'s fast path is tested against (stages 4-5 bit for bit; stage
        3 to single-precision rounding, which may move a rare spike)."""
        fs = _check_rate(sample_rate_hz)
        velocity, out_rate = self.basilar_membrane(self.preprocess(audio), fs)
        prob = self.hair_cell(velocity, out_rate)
        return self._bushy_spikes(self.auditory_nerve(prob, out_rate, seed), out_rate)

    def legacy_spikes(self, audio: np.ndarray, sample_rate_hz: int, seed: int = 0) -> CochleaSpikes:
        """The spikes of elm-snn's spoken-digit generator before version 3: the reference
        stages, with the fibres drawn from one numba stream seeded with ``seed``, fibre
        after fibre and channel after channel (each channel's fibres depend on the channels
        before it). The same model and distribution as :meth:`__call__`, other spikes;
        kept so that a set made with generator version 2 can be made again bit for bit, at
        the reference's speed (~4x the fast path's CPU time)."""
        fs = _check_rate(sample_rate_hz)
        seed = _check_seed(seed)
        velocity, out_rate = self.basilar_membrane(self.preprocess(audio), fs)
        prob = self.hair_cell(velocity, out_rate)
        counts = _kernels()["fibres_legacy"](
            prob, int(self.bc_params.n_convergence), self._dead_steps(out_rate), seed
        )
        return self._bushy_spikes(counts, out_rate)

    def _bushy_spikes(self, fibre_counts: np.ndarray, out_rate: int) -> CochleaSpikes:
        """Stage 5b on ``(C, T)`` fibre counts, as a spike list sorted by time then channel."""
        raster = self.bushy_cells(fibre_counts, out_rate)
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
