"""The utterance pipeline of :mod:`elm_snn.synth.spoken_digits`: plan, speak, hear.

* :func:`_plan`: every utterance to make (split, label, speaker, jittered rate, pitch and
  formant scale, seeds);
* :func:`_speak`: eSpeak NG audio of each speaker's utterances, in order, in a fresh process;
* :func:`_hear`: audio to cochlea spikes (:func:`_prepare_audio` trims, resamples with the
  formant scale and pads to a cached bucket length), in a process pool;
* :func:`_split_stats`: spikes per sample, active channels and durations.

:class:`Speaker` lives here, below :mod:`elm_snn.synth.spoken_digits` (which re-exports it),
so that the two modules import in one direction only.

Private: the public entry point is :func:`elm_snn.synth.spoken_digits.generate_spoken_digits`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENGLISH_DIGITS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip
GERMAN_DIGITS: tuple[str, ...] = (
    "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
)  # fmt: skip

#: Audio rate fed to the cochlea (lauscher folds input above a quarter of the rate).
COCHLEA_RATE_HZ = 48_000
#: Clips are padded to ``k * BUCKET_SAMPLES - 2`` samples at 48 kHz (k = 1, 2, ...), so that
#: the basilar membrane's inverse FFT has the smooth length ``k * 2400``.
BUCKET_SAMPLES = 4800
#: Highest formant scale accepted: the cochlea keeps input frequencies up to
#: ``MAX_FORMANT_SCALE`` times eSpeak's Nyquist frequency.
MAX_FORMANT_SCALE = 1.25


@dataclasses.dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak voice variant with its own pitch, rate and formants.

    Attributes:
        variant: eSpeak voice variant (a file in ``espeak-ng-data/voices/!v``, e.g. ``"m3"``,
            ``"f2"``), or ``""`` for the plain language voice.
        pitch: base pitch, eSpeak units 0..99 (50 is eSpeak's default).
        pitch_range: pitch range (intonation), 0..99.
        rate_wpm: base speaking rate, words per minute (80..450; eSpeak default 175).
        formant_scale: vocal-tract scale; every frequency of the speech (formants and pitch)
            is multiplied by it before the cochlea (1.0: eSpeak's voice; > 1: a shorter
            tract, higher formants). In (0, MAX_FORMANT_SCALE].
        english_voice: eSpeak language voice for labels 0-9.
        german_voice: eSpeak language voice for labels 10-19.
    """

    variant: str
    pitch: int = 50
    pitch_range: int = 50
    rate_wpm: int = 100
    formant_scale: float = 1.0
    english_voice: str = "en-us"
    german_voice: str = "de"

    def voice(self, german: bool) -> str:
        """eSpeak voice name, e.g. ``"de+f2"``."""
        base = self.german_voice if german else self.english_voice
        return f"{base}+{self.variant}" if self.variant else base


@dataclasses.dataclass(frozen=True)
class _Utterance:
    split: str  # "train" | "test"
    label: int
    speaker: int
    index: int  # running index within (split, label)
    rate_wpm: int
    pitch: int
    formant_scale: float
    espeak_seed: int
    cochlea_seed: int


@dataclasses.dataclass(frozen=True)
class _Jitter:
    """Per-utterance variation around the speaker's values (uniform, +-)."""

    rate: float  # relative
    pitch: int  # eSpeak units
    formant: float  # relative


def _plan(
    counts: dict[str, list[int]],
    speakers: Sequence[Speaker],
    test_ids: Sequence[int],
    seed: int,
    jitter: _Jitter,
) -> list[_Utterance]:
    """Every utterance to make: split, label, speaker (round-robin) and its own draws."""
    train_ids = [i for i in range(len(speakers)) if i not in set(test_ids)]
    plan = []
    for split, ids in (("train", train_ids), ("test", list(test_ids))):
        for label in range(20):
            for index in range(counts[split][label]):
                spk = ids[(label + index) % len(ids)]
                ss = np.random.SeedSequence([seed, 0 if split == "train" else 1, label, index])
                rng = np.random.default_rng(ss)
                sp = speakers[spk]
                rate = int(round(sp.rate_wpm * (1 + rng.uniform(-jitter.rate, jitter.rate))))
                pitch = int(sp.pitch + rng.integers(-jitter.pitch, jitter.pitch + 1))
                s1, s2 = (int(v) for v in rng.integers(0, 2**31 - 1, size=2))
                scale = sp.formant_scale * (1 + rng.uniform(-jitter.formant, jitter.formant))
                plan.append(
                    _Utterance(split, label, spk, index, rate, pitch, round(scale, 5), s1, s2)
                )
    return plan


def _synthesize_speaker(
    job: tuple[Speaker, list[_Utterance]],
) -> tuple[list[np.ndarray], int, float]:
    """Speak one speaker's utterances, in order, in a fresh process."""
    from elm_snn.synth._espeak import synthesize_in_fresh_process

    speaker, utterances = job
    return synthesize_in_fresh_process(
        [
            {
                "text": GERMAN_DIGITS[u.label - 10] if u.label >= 10 else ENGLISH_DIGITS[u.label],
                "voice": speaker.voice(german=u.label >= 10),
                "rate_wpm": u.rate_wpm,
                "pitch": u.pitch,
                "pitch_range": speaker.pitch_range,
                "seed": u.espeak_seed,
            }
            for u in utterances
        ]
    )


def _prepare_audio(
    samples: np.ndarray, rate_hz: int, margin_ms: float, formant_scale: float = 1.0
) -> np.ndarray:
    """Trim to the speech (+ margin), resample to 48 kHz with every frequency times
    ``formant_scale`` (the clip is read as if recorded at ``formant_scale * rate_hz``, so it
    also gets ``1 / formant_scale`` times as long), pad centred to a bucket length."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    x = samples.astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max()) if x.size else np.zeros(0, int)
    if loud.size == 0:
        raise RuntimeError("eSpeak NG returned a silent utterance")
    margin = int(round(margin_ms * 1e-3 * rate_hz))
    x = x[max(0, loud[0] - margin) : loud[-1] + margin + 1]
    ratio = Fraction(COCHLEA_RATE_HZ) / Fraction(rate_hz)
    if formant_scale != 1.0:
        # a rational close to 48 kHz / (scale * rate): at most 0.05 % off the asked scale
        ratio = (ratio / Fraction(formant_scale)).limit_denominator(2000)
    y = resample_poly(x, ratio.numerator, ratio.denominator)
    k = max(1, math.ceil((y.size + 2) / BUCKET_SAMPLES))
    n = k * BUCKET_SAMPLES - 2
    out = np.zeros(n)
    start = (n - y.size) // 2
    out[start : start + y.size] = y
    return out


_WORKER_COCHLEA: dict[int, Any] = {}


def _cochlea_job(
    job: tuple[np.ndarray, int, int, int, float, float, int],
) -> tuple[np.ndarray, np.ndarray, float]:
    """Worker: audio (22.05 kHz int16) -> (times in s, units), CPU seconds. Generator
    version 3 runs the fast cochlea, version 2 the earlier one (bit for bit)."""
    from elm_snn.synth.cochlea import Cochlea

    samples, rate_hz, cochlea_seed, num_channels, margin_ms, formant_scale, version = job
    t0 = time.process_time()
    cochlea = _WORKER_COCHLEA.get(num_channels)
    if cochlea is None:
        # scaled speech reaches up to MAX_FORMANT_SCALE x eSpeak's Nyquist frequency
        top = MAX_FORMANT_SCALE * rate_hz / 2
        cochlea = Cochlea(num_channels, max_frequency_hz=top, disk_cache=True)
        _WORKER_COCHLEA[num_channels] = cochlea
    audio = _prepare_audio(samples, rate_hz, margin_ms, formant_scale)
    if version == 2:
        spikes = cochlea.legacy_spikes(audio, COCHLEA_RATE_HZ, seed=cochlea_seed)
    else:
        spikes = cochlea(audio, COCHLEA_RATE_HZ, seed=cochlea_seed)
    return spikes.times_seconds, spikes.units.astype(np.uint16), time.process_time() - t0


def _split_stats(times: Sequence[np.ndarray], units: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean spikes per sample, active channels and duration (last spike, ms), plus the
    10th and 90th percentiles of the duration."""
    if not times:
        return {"spikes_per_sample": 0.0, "active_channels": 0.0, "duration_ms": 0.0}
    counts = [len(t) for t in times]
    active = [len(np.unique(u)) for u in units]
    dur = np.array([float(t.max()) * 1e3 if len(t) else 0.0 for t in times])
    return {
        "spikes_per_sample": float(np.mean(counts)),
        "active_channels": float(np.mean(active)),
        "duration_ms": float(np.mean(dur)),
        "duration_p10_ms": float(np.percentile(dur, 10)),
        "duration_p90_ms": float(np.percentile(dur, 90)),
    }


def _map_threads(func: Any, jobs: list[Any], workers: int) -> list[Any]:
    """``[func(j) for j in jobs]`` on ``workers`` threads (func starts its own process)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(jobs)))) as pool:
        return list(pool.map(func, jobs))


def _imap_processes(func: Any, jobs: list[Any], workers: int) -> Iterator[Any]:
    """``func(j) for j in jobs``, in order, in this process or a pool of ``workers``
    processes; results are yielded as they arrive (so a caller can save and count them)."""
    import multiprocessing

    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield func(job)
        return
    # fork avoids re-importing the package (and torch) in each worker; the jobs only use
    # numpy, scipy.fft and single-threaded numba kernels, which are safe after fork
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(processes=min(workers, len(jobs))) as pool:
        # small chunks: results reach the caller (progress, partial saves) within seconds
        yield from pool.imap(func, jobs, chunksize=max(1, min(8, len(jobs) // (8 * workers))))


class _PartialCochlea:
    """Cochlea results saved while a generation runs, so that a killed run resumes.

    Results go to ``folder/part-NNNNN.npz`` (atomic writes, ``flush_every`` utterances or
    ``flush_seconds`` per file) beside ``folder/params.json``, the generation's parameters:
    a folder written with other parameters is discarded, never mixed in.
    """

    def __init__(
        self,
        folder: Path,
        params: dict[str, Any],
        flush_every: int = 256,
        flush_seconds: float = 60.0,
    ) -> None:
        self.folder = folder
        self.params = params
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._pending: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self._last_flush = time.monotonic()
        self._next_part = 0

    def load(self) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
        """Results of an earlier, interrupted run with the same parameters ({} if none)."""
        params_path = self.folder / "params.json"
        try:
            same = json.loads(params_path.read_text(encoding="utf-8")) == self.params
        except (OSError, ValueError):
            same = False
        if not same:
            self.clear()
            return {}
        done: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        for part in sorted(self.folder.glob("part-*.npz")):
            try:
                with np.load(part, allow_pickle=False) as data:
                    offsets = data["offsets"]
                    for k, index in enumerate(data["indices"].tolist()):
                        lo, hi = int(offsets[k]), int(offsets[k + 1])
                        done[int(index)] = (
                            data["times"][lo:hi].copy(),
                            data["units"][lo:hi].copy(),
                            float(data["cpu"][k]),
                        )
            except (OSError, ValueError, KeyError):
                continue  # a damaged part: its utterances are simply made again
            self._next_part = max(self._next_part, int(part.stem.split("-")[1]) + 1)
        return done

    def add(self, index: int, result: tuple[np.ndarray, np.ndarray, float]) -> None:
        """Keep one utterance's result; write a part file when enough have gathered."""
        self._pending[index] = result
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if len(self._pending) >= self.flush_every or due:
            self.flush()

    def flush(self) -> None:
        """Write the pending results as one part file (atomically)."""
        from elm_snn._io import atomic_path, atomic_write_text

        self._last_flush = time.monotonic()
        if not self._pending:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        params_path = self.folder / "params.json"
        if not params_path.is_file():
            atomic_write_text(params_path, json.dumps(self.params, sort_keys=True))
        indices = sorted(self._pending)
        lengths = [len(self._pending[i][0]) for i in indices]
        with atomic_path(self.folder / f"part-{self._next_part:05d}.npz") as tmp:
            np.savez(
                tmp,
                indices=np.asarray(indices, dtype=np.int64),
                offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                times=np.concatenate([self._pending[i][0] for i in indices]),
                units=np.concatenate([self._pending[i][1] for i in indices]),
                cpu=np.asarray([self._pending[i][2] for i in indices], dtype=np.float64),
            )
        self._next_part += 1
        self._pending.clear()

    def clear(self) -> None:
        """Remove the saved results (after a finished run, or when they do not match)."""
        import shutil

        self._pending.clear()
        if self.folder.is_dir():
            shutil.rmtree(self.folder, ignore_errors=True)


def _speak(
    plan: list[_Utterance], speakers: Sequence[Speaker], workers: int
) -> tuple[list[np.ndarray], int, float]:
    """eSpeak audio of every planned utterance (plan order), its sample rate, CPU seconds."""
    by_speaker: dict[int, list[int]] = {}
    for i, u in enumerate(plan):
        by_speaker.setdefault(u.speaker, []).append(i)
    order = sorted(by_speaker)
    speech_jobs = [(speakers[s], [plan[i] for i in by_speaker[s]]) for s in order]
    speech = _map_threads(_synthesize_speaker, speech_jobs, workers)
    audio: list[Any] = [None] * len(plan)
    speech_cpu = 0.0
    rates = set()
    for s, (clips, clip_rate, cpu) in zip(order, speech, strict=True):
        speech_cpu += cpu
        rates.add(clip_rate)
        for i, clip in zip(by_speaker[s], clips, strict=True):
            audio[i] = clip
    if len(rates) != 1:
        raise RuntimeError(f"eSpeak NG processes reported different sample rates: {rates}")
    return audio, rates.pop(), speech_cpu


def _hear(
    plan: list[_Utterance],
    audio: list[np.ndarray],
    rate_hz: int,
    num_channels: int,
    margin_ms: float,
    workers: int,
    generator_version: int = 3,
    partial: _PartialCochlea | None = None,
    show_progress: bool = False,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Cochlea spikes (times s, units, CPU s) of every utterance, in plan order.

    With ``partial``, results of an interrupted run with the same parameters are reused and
    new ones are saved as they come; ``show_progress`` draws a bar with the rate and ETA.
    """
    from elm_snn._progress import progress, progress_enabled

    results: list[Any] = [None] * len(plan)
    done = partial.load() if partial is not None else {}
    for i, r in done.items():
        if 0 <= i < len(plan):
            results[i] = r
    todo = [i for i in range(len(plan)) if results[i] is None]
    # longest clips first balances the pool; the order does not affect any result
    job_order = sorted(todo, key=lambda i: (-audio[i].size, i))
    jobs = [
        (audio[i], rate_hz, plan[i].cochlea_seed, num_channels, margin_ms,
         plan[i].formant_scale, generator_version)
        for i in job_order
    ]  # fmt: skip
    with progress(
        total=len(plan), desc="cochlea", unit="utt", enabled=show_progress and progress_enabled()
    ) as bar:
        bar.update(len(plan) - len(todo))
        for i, r in zip(job_order, _imap_processes(_cochlea_job, jobs, workers), strict=True):
            results[i] = r
            if partial is not None:
                partial.add(i, r)
            bar.update(1)
    if partial is not None:
        partial.flush()
    return results
