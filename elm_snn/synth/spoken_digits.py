"""Offline spoken digits in the layout of the Spiking Heidelberg Digits (SHD).

The real SHD (Cramer et al. 2020) holds studio recordings of 12 speakers saying the digits
0-9 in English (labels 0-9) and German (labels 10-19), turned into spikes on 700 channels by
the ``lauscher`` cochlea model; two speakers appear only in the test file. This module builds
a stand-in that needs no network:

* **speech**: eSpeak NG (PyPI ``espeakng-loader``, driven through ctypes) says "zero".."nine"
  with an English voice and "null".."neun" with a German voice. A *speaker* is an eSpeak
  voice variant (``m1``, ``f2``, ...) with its own base pitch, pitch range, speaking rate
  and vocal-tract scale (formant frequencies times ``formant_scale``). Every utterance
  jitters rate, pitch and formant scale around its speaker's values and seeds eSpeak's
  random generator. Rates of 86-110 words/min give SHD-like durations (0.5-1 s of speech).
* **cochlea**: :class:`elm_snn.synth.cochlea.Cochlea`, SHD's model and parameters. Audio
  (22.05 kHz) is trimmed to the speech plus ``margin_ms`` on each side, resampled to 48 kHz
  as if it had been recorded at ``formant_scale`` times its rate (which scales every
  frequency, formants and pitch, by that factor: a shorter or longer vocal tract), and
  zero-padded (centred) to the next length of a fixed set (multiples of 100 ms) so the
  basilar-membrane matrices can be cached. ``generator_version`` 3 (the default) runs the
  fast path, ``Cochlea.__call__`` (about 0.14 CPU-s per utterance); 2 runs
  ``Cochlea.legacy_spikes``, which remakes the files of elm-snn before version 3 bit for
  bit (the same statistics, other spikes).
* **files**: ``out_dir/shd_train.h5`` and ``out_dir/shd_test.h5`` written with
  :func:`elm_snn.data.shd_format.write_shd_file` (readable by ``tonic.datasets.SHD`` and
  :class:`elm_snn.data.SHD`), plus ``out_dir/spoken_digits.json``, a manifest of the
  parameters and file hashes: a second call with the same parameters reuses the files.

The output depends only on the parameters and the installed eSpeak NG, not on ``workers``:
eSpeak keeps hidden state between utterances, so each speaker's utterances are synthesised
in a fixed order in a fresh process, and every utterance has its own seeds.

Command line: ``elm-snn data spoken-digits --out DIR --per-class N --seed S [--workers W]``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elm_snn._validation import check_int
from elm_snn.synth._spoken_digits_config import (
    GENERATOR_VERSIONS,
    SHD_NUM_TEST,
    SHD_NUM_TRAIN,
    SpokenDigitsConfig,
)
from elm_snn.synth._utterances import (
    BUCKET_SAMPLES,
    COCHLEA_RATE_HZ,
    ENGLISH_DIGITS,
    GERMAN_DIGITS,
    MAX_FORMANT_SCALE,
    Speaker,
    _hear,
    _Jitter,
    _PartialCochlea,
    _plan,
    _speak,
    _split_stats,
    _Utterance,
)

__all__ = [
    "BUCKET_SAMPLES",
    "COCHLEA_RATE_HZ",
    "ENGLISH_DIGITS",
    "GERMAN_DIGITS",
    "MAX_FORMANT_SCALE",
    "SHD_NUM_TEST",
    "SHD_NUM_TRAIN",
    "Speaker",
    "SpokenDigitsConfig",
    "SpokenDigitsSummary",
    "default_speakers",
    "generate_spoken_digits",
]

MANIFEST_NAME = "spoken_digits.json"
#: Folder (inside ``out_dir``) of cochlea results saved during a run, removed when it ends.
PARTIAL_DIR_NAME = ".spoken_digits_partial"
#: The default speakers' voice variants: eSpeak's human-sounding male and female variants
#: (``m7``, with its heavy voicing, the robots, whisper and croak are left out). The last two
#: (``m3``, ``f2``), ordinary voices, are SHD's two test-only speakers.
_DEFAULT_VARIANTS = ("m1", "f1", "m2", "f3", "m4", "f4", "m5", "f5", "m6", "m8", "m3", "f2")
#: Ranges of the default speakers' seeded parameters (inclusive integers / uniform floats).
DEFAULT_PITCH = (35, 65)
DEFAULT_PITCH_RANGE = (40, 70)
DEFAULT_RATE_WPM = (86, 110)
DEFAULT_FORMANT_SCALE = (0.96, 1.04)


@dataclasses.dataclass(frozen=True)
class SpokenDigitsSummary:
    """What :func:`generate_spoken_digits` made (or found).

    Attributes:
        train_path: the training file (``out_dir/shd_train.h5``).
        test_path: the test file (``out_dir/shd_test.h5``).
        manifest_path: JSON manifest with the parameters and statistics.
        reused: ``True`` when existing files with the same parameters were kept.
        num_train: training samples.
        num_test: test samples.
        stats: per split, ``spikes_per_sample`` (mean), ``active_channels`` (mean number of
            channels with at least one spike), ``duration_ms`` (mean last spike time).
        timing: seconds of wall time (``total_s``), of eSpeak (``speech_cpu_s``, summed over
            processes) and of the cochlea (``cochlea_cpu_s``), and ``utterances``; from the run
            that made the files.
    """

    train_path: Path
    test_path: Path
    manifest_path: Path
    reused: bool
    num_train: int
    num_test: int
    stats: dict[str, dict[str, Any]]
    timing: dict[str, float]


def default_speakers(num_speakers: int = 12, seed: int = 0) -> list[Speaker]:
    """``num_speakers`` distinct speakers: variants m1, f1, m2, ... with seeded parameters.

    Base pitch is drawn from ``DEFAULT_PITCH`` (35..65), pitch range from
    ``DEFAULT_PITCH_RANGE`` (40..70), rate from ``DEFAULT_RATE_WPM`` (86..110 wpm: about
    0.5-0.9 s per digit, SHD's spread) and the formant scale uniformly from
    ``DEFAULT_FORMANT_SCALE`` (0.96..1.04). The variants cycle when ``num_speakers``
    exceeds 12; the last two of the default 12 are ordinary voices (``m3``, ``f2``).

    Args:
        num_speakers: number of speakers (>= 2).
        seed: seed of the draws.

    Returns:
        list of :class:`Speaker`.
    """
    check_int("num_speakers", num_speakers, minimum=2)
    check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5BEA]))
    out = []
    for i in range(num_speakers):
        out.append(
            Speaker(
                variant=_DEFAULT_VARIANTS[i % len(_DEFAULT_VARIANTS)],
                pitch=int(rng.integers(DEFAULT_PITCH[0], DEFAULT_PITCH[1] + 1)),
                pitch_range=int(rng.integers(DEFAULT_PITCH_RANGE[0], DEFAULT_PITCH_RANGE[1] + 1)),
                rate_wpm=int(rng.integers(DEFAULT_RATE_WPM[0], DEFAULT_RATE_WPM[1] + 1)),
                formant_scale=round(float(rng.uniform(*DEFAULT_FORMANT_SCALE)), 4),
            )
        )
    return out


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not (math.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


def _check_speakers(
    speakers: Sequence[Speaker], rate_jitter: float, pitch_jitter: int, formant_jitter: float
) -> None:
    from elm_snn.synth._espeak import (
        PITCH_RANGE,
        RATE_RANGE_WPM,
        available_variants,
        language_voice_exists,
    )

    variants = available_variants()
    for i, sp in enumerate(speakers):
        if not isinstance(sp, Speaker):
            raise TypeError(f"speakers[{i}]: expected a Speaker, got {type(sp).__name__}")
        if sp.variant and sp.variant not in variants:
            raise ValueError(
                f"speakers[{i}].variant: unknown eSpeak NG voice variant {sp.variant!r}; "
                f"known variants: {', '.join(variants)}"
            )
        for attr in ("english_voice", "german_voice"):
            name = getattr(sp, attr)
            if not isinstance(name, str) or not name or not language_voice_exists(name):
                raise ValueError(
                    f"speakers[{i}].{attr}: unknown eSpeak NG language voice {name!r} "
                    "(expected e.g. 'en-us', 'en', 'de')"
                )
        lo = math.floor(sp.rate_wpm * (1 - rate_jitter))
        hi = math.ceil(sp.rate_wpm * (1 + rate_jitter))
        if lo < RATE_RANGE_WPM[0] or hi > RATE_RANGE_WPM[1]:
            raise ValueError(
                f"speakers[{i}].rate_wpm: {sp.rate_wpm} wpm with rate_jitter={rate_jitter} "
                f"spans {lo}..{hi}, outside eSpeak's {RATE_RANGE_WPM[0]}..{RATE_RANGE_WPM[1]}"
            )
        for attr in ("pitch", "pitch_range"):
            v = getattr(sp, attr)
            j = pitch_jitter if attr == "pitch" else 0
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"speakers[{i}].{attr}: expected an int, got {type(v).__name__}")
            if v - j < PITCH_RANGE[0] or v + j > PITCH_RANGE[1]:
                raise ValueError(
                    f"speakers[{i}].{attr}: {v} (+-{j} jitter) leaves eSpeak's "
                    f"{PITCH_RANGE[0]}..{PITCH_RANGE[1]}"
                )
        f = sp.formant_scale
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f):
            raise TypeError(f"speakers[{i}].formant_scale: expected a finite number, got {f!r}")
        if f * (1 - formant_jitter) <= 0 or f * (1 + formant_jitter) > MAX_FORMANT_SCALE:
            raise ValueError(
                f"speakers[{i}].formant_scale: {f} with formant_jitter={formant_jitter} "
                f"leaves (0, {MAX_FORMANT_SCALE}]"
            )


def _check_counts(name: str, value: Any) -> list[int]:
    """A sample count: an int (split evenly over the 20 classes, the first classes get the
    remainder) -> per-class counts."""
    total = check_int(name, value, minimum=20)
    base, extra = divmod(total, 20)
    return [base + (1 if label < extra else 0) for label in range(20)]


def _check_out_dir(out_dir: str | os.PathLike) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir: expected a path, got {type(out_dir).__name__}")
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir: {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out_dir: cannot create {str(path)!r}: {exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"out_dir: {str(path)!r} is not writable")
    return path


# --------------------------------------------------------------------------------------
# the work
# --------------------------------------------------------------------------------------


def _try_reuse(out: Path, params: dict[str, Any]) -> SpokenDigitsSummary | None:
    """The summary of the files in ``out`` if its manifest has these ``params`` and both
    files still have their recorded hashes, else ``None``."""
    from elm_snn._manifest import matching_manifest

    manifest = out / MANIFEST_NAME
    data = matching_manifest(
        manifest, {"params": params}, files=("shd_train.h5", "shd_test.h5"), hashes="files"
    )
    if data is None:
        return None
    return SpokenDigitsSummary(
        train_path=out / "shd_train.h5",
        test_path=out / "shd_test.h5",
        manifest_path=manifest,
        reused=True,
        num_train=int(data["num_train"]),
        num_test=int(data["num_test"]),
        stats=data["stats"],
        timing=data["timing"],
    )


def _write_splits(
    out: Path,
    plan: list[_Utterance],
    spikes: list[tuple[np.ndarray, np.ndarray, float]],
    speakers: Sequence[Speaker],
    test_ids: Sequence[int],
    num_channels: int,
    time_dtype: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, str]]:
    """Write both SHD files; return per-split statistics (with a per-speaker breakdown),
    sample counts and file hashes."""
    from elm_snn._manifest import file_sha256
    from elm_snn.data.shd_format import write_shd_file

    meta = {
        "voice_variant": [s.variant or "none" for s in speakers],
        "pitch": [int(s.pitch) for s in speakers],
        "pitch_range": [int(s.pitch_range) for s in speakers],
        "rate_wpm": [int(s.rate_wpm) for s in speakers],
        "formant_scale": [float(s.formant_scale) for s in speakers],
        "test_only": [int(i in test_ids) for i in range(len(speakers))],
    }
    stats: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    hashes: dict[str, str] = {}
    for split in ("train", "test"):
        idx = [i for i, u in enumerate(plan) if u.split == split]
        times = [spikes[i][0] for i in idx]
        units = [spikes[i][1] for i in idx]
        path = out / f"shd_{split}.h5"
        write_shd_file(
            path,
            times,
            units,
            [plan[i].label for i in idx],
            [plan[i].speaker for i in idx],
            meta_info=meta,
            num_channels=num_channels,
            time_dtype=time_dtype,
        )
        stats[split] = _split_stats(times, units)
        per_speaker = {}
        for spk in sorted({plan[i].speaker for i in idx}):
            mine = [k for k, i in enumerate(idx) if plan[i].speaker == spk]
            per_speaker[str(spk)] = _split_stats([times[k] for k in mine], [units[k] for k in mine])
        stats[split]["per_speaker"] = per_speaker
        counts[split] = len(idx)
        hashes[path.name] = file_sha256(path)
    return stats, counts, hashes


def _config_with(config: SpokenDigitsConfig | None, fields: dict[str, Any]) -> SpokenDigitsConfig:
    """``config`` (default :class:`SpokenDigitsConfig`) with ``fields`` replaced; TypeError
    naming an unknown field."""
    if config is None:
        config = SpokenDigitsConfig()
    if not isinstance(config, SpokenDigitsConfig):
        raise TypeError(f"config: expected a SpokenDigitsConfig, got {type(config).__name__}")
    known = {f.name for f in dataclasses.fields(SpokenDigitsConfig)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(
            f"generate_spoken_digits: unknown argument(s) {unknown}; the config's fields are "
            f"{sorted(known)}"
        )
    return dataclasses.replace(config, **fields) if fields else config


def _check_sizes(cfg: SpokenDigitsConfig) -> dict[str, list[int]]:
    """Per-class utterance counts of each split (checking the size fields)."""
    per_class = check_int("per_class", cfg.per_class, minimum=1)
    check_int("seed", cfg.seed, minimum=0)
    test_per_class = cfg.test_per_class
    if test_per_class is None:
        test_per_class = max(1, round(per_class / 4))
    test_per_class = check_int("test_per_class", test_per_class, minimum=1)
    return {
        "train": [per_class] * 20
        if cfg.num_train is None
        else _check_counts("num_train", cfg.num_train),
        "test": [test_per_class] * 20
        if cfg.num_test is None
        else _check_counts("num_test", cfg.num_test),
    }


def _check_sound(cfg: SpokenDigitsConfig) -> _Jitter:
    """Check the channels, jitters, margin and time dtype; return the jitters."""
    check_int("num_channels", cfg.num_channels, minimum=1)
    jitter = _Jitter(
        rate=_check_fraction("rate_jitter", cfg.rate_jitter),
        pitch=check_int("pitch_jitter", cfg.pitch_jitter, minimum=0),
        formant=_check_fraction("formant_jitter", cfg.formant_jitter),
    )
    margin_ms = cfg.margin_ms
    if isinstance(margin_ms, bool) or not isinstance(margin_ms, (int, float)):
        raise TypeError(f"margin_ms: expected a number, got {type(margin_ms).__name__}")
    if not (math.isfinite(margin_ms) and margin_ms >= 0):
        raise ValueError(f"margin_ms: expected a finite number >= 0, got {margin_ms!r}")
    if cfg.time_dtype not in ("float16", "float32", "float64"):
        raise ValueError(
            f"time_dtype: expected one of ['float16', 'float32', 'float64'], got {cfg.time_dtype!r}"
        )
    version = cfg.generator_version
    if isinstance(version, bool) or version not in GENERATOR_VERSIONS:
        raise ValueError(
            f"generator_version: expected one of {list(GENERATOR_VERSIONS)}, got {version!r}"
        )
    return jitter


def _check_voices(cfg: SpokenDigitsConfig, jitter: _Jitter) -> tuple[list[Speaker], list[int]]:
    """The speakers (default or given, checked against eSpeak NG) and the indices of the
    test-only ones (the last ``test_speakers``)."""
    speakers = cfg.speakers
    if speakers is None:
        speakers = default_speakers(cfg.num_speakers, cfg.seed)
    else:
        if isinstance(speakers, (str, bytes)) or not isinstance(speakers, Sequence):
            raise TypeError(
                f"speakers: expected a sequence of Speaker, got {type(speakers).__name__}"
            )
        speakers = list(speakers)
    test_speakers = check_int("test_speakers", cfg.test_speakers, minimum=1)
    if test_speakers >= len(speakers):
        raise ValueError(
            f"test_speakers: expected fewer than the {len(speakers)} speakers (at least one "
            f"must remain for training), got {test_speakers}"
        )
    _check_speakers(speakers, jitter.rate, jitter.pitch, jitter.formant)
    return speakers, list(range(len(speakers) - test_speakers, len(speakers)))


def _manifest_params(
    cfg: SpokenDigitsConfig,
    counts: dict[str, list[int]],
    speakers: Sequence[Speaker],
    test_ids: list[int],
    jitter: _Jitter,
) -> dict[str, Any]:
    """The ``params`` of the manifest: everything the files depend on (the installed
    eSpeak NG included), compared on reuse."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        espeak_version = version("espeakng-loader")
    except PackageNotFoundError:  # pragma: no cover - depends on the environment
        espeak_version = "unknown"
    return {
        "format_version": int(cfg.generator_version),
        "train_per_class": counts["train"],
        "test_per_class": counts["test"],
        "seed": int(cfg.seed),
        "speakers": [dataclasses.asdict(s) for s in speakers],
        "test_speakers": test_ids,
        "num_channels": int(cfg.num_channels),
        "rate_jitter": jitter.rate,
        "pitch_jitter": jitter.pitch,
        "formant_jitter": jitter.formant,
        "margin_ms": float(cfg.margin_ms),
        "time_dtype": cfg.time_dtype,
        "espeakng_loader": espeak_version,
    }


def generate_spoken_digits(
    out_dir: str | os.PathLike,
    config: SpokenDigitsConfig | None = None,
    *,
    workers: int = 1,
    force: bool = False,
    progress: bool = False,
    **fields: Any,
) -> SpokenDigitsSummary:
    """Generate ``out_dir/shd_train.h5`` and ``out_dir/shd_test.h5`` (SHD's layout).

    Each of the 20 classes gets ``per_class`` training utterances spread over the training
    speakers and ``test_per_class`` test utterances spread over the held-out speakers (the
    last ``test_speakers`` of ``speakers``), like SHD's two test-only speakers. Spike times
    are in seconds in the files (SHD's convention), on a 1/24000 s grid before the float16
    rounding that real SHD also has.

    Example::

        generate_spoken_digits("data/digits", SpokenDigitsConfig(per_class=40, seed=1))
        generate_spoken_digits("data/digits", per_class=40, seed=1)  # the same

    Args:
        out_dir: output folder (created if needed).
        config: what to generate (:class:`SpokenDigitsConfig`; default its defaults).
        workers: processes to use (>= 1); the files do not depend on it.
        force: regenerate even when a manifest says the files match (and ignore the
            results an interrupted run saved).
        progress: print progress to stderr (a bar with the rate and ETA for the cochlea).
        **fields: :class:`SpokenDigitsConfig` fields that replace those of ``config``.

    Returns:
        :class:`SpokenDigitsSummary`; ``stats[split]["per_speaker"]`` breaks the statistics
        down by speaker.

    Raises:
        ValueError / TypeError: bad arguments (named in the message), unknown voice or
            variant, ``out_dir`` not writable.
    """
    cfg = _config_with(config, fields)
    counts = _check_sizes(cfg)
    workers = check_int("workers", workers, minimum=1)
    jitter = _check_sound(cfg)
    speakers, test_ids = _check_voices(cfg, jitter)
    out = _check_out_dir(out_dir)
    params = _manifest_params(cfg, counts, speakers, test_ids, jitter)
    from elm_snn._locks import GENERATOR_LOCK_WAIT_S, folder_lock

    def note(message: str) -> None:
        if progress:
            print(f"spoken digits: {message}", file=sys.stderr, flush=True)

    # one generator writes a folder at a time; a second one waits, then reuses its files
    with folder_lock(out, "out_dir", wait=GENERATOR_LOCK_WAIT_S, on_wait=note):
        return _generate_locked(
            out, params, counts, speakers, test_ids, jitter, workers, force, progress
        )


def _generate_locked(
    out: Path,
    params: dict[str, Any],
    counts: dict[str, list[int]],
    speakers: Sequence[Speaker],
    test_ids: list[int],
    jitter: _Jitter,
    workers: int,
    force: bool,
    progress: bool,
) -> SpokenDigitsSummary:
    """The work of :func:`generate_spoken_digits` once ``out`` is locked: reuse, or plan,
    speak, hear (resuming saved cochlea results) and write the files and the manifest."""
    seed, num_channels = params["seed"], params["num_channels"]
    margin_ms, time_dtype = params["margin_ms"], params["time_dtype"]
    if not force:
        reused = _try_reuse(out, params)
        if reused is not None:
            if progress:
                print(f"spoken digits: reusing {out} (same parameters)", file=sys.stderr)
            return reused

    t_start = time.perf_counter()
    # cochlea results saved as they come: a killed generation resumes where it stopped
    partial = _PartialCochlea(out / PARTIAL_DIR_NAME, params)
    if force:
        partial.clear()
    plan = _plan(counts, speakers, test_ids, seed, jitter)
    if progress:
        print(f"spoken digits: speaking {len(plan)} utterances ...", file=sys.stderr)
    audio, rate_hz, speech_cpu = _speak(plan, speakers, workers)
    if progress:
        print(
            f"spoken digits: speech done in {time.perf_counter() - t_start:.0f} s; cochlea on "
            f"{len(plan)} utterances ({workers} worker{'s' if workers > 1 else ''}) ...",
            file=sys.stderr,
        )
    spikes = _hear(
        plan,
        audio,
        rate_hz,
        num_channels,
        float(margin_ms),
        workers,
        generator_version=int(params["format_version"]),
        partial=partial,
        show_progress=progress,
    )
    stats, sizes, hashes = _write_splits(
        out, plan, spikes, speakers, test_ids, num_channels, time_dtype
    )
    timing = {
        "total_s": time.perf_counter() - t_start,
        "speech_cpu_s": speech_cpu,
        "cochlea_cpu_s": float(sum(r[2] for r in spikes)),
        "utterances": float(len(plan)),
        "workers": float(workers),
    }
    summary = _write_manifest(out, params, hashes, sizes, stats, timing)
    partial.clear()
    if progress:
        print(
            f"spoken digits: wrote {sizes['train']} train / {sizes['test']} test samples to "
            f"{out} in {timing['total_s']:.1f} s",
            file=sys.stderr,
        )
    return summary


def _write_manifest(
    out: Path,
    params: dict[str, Any],
    hashes: dict[str, str],
    sizes: dict[str, int],
    stats: dict[str, dict[str, Any]],
    timing: dict[str, float],
) -> SpokenDigitsSummary:
    """Write ``out/spoken_digits.json`` (what :func:`_try_reuse` checks) after the files;
    return the summary of the new files."""
    from elm_snn._io import atomic_write_text

    manifest = {
        "params": params,
        "files": hashes,
        "num_train": sizes["train"],
        "num_test": sizes["test"],
        "stats": stats,
        "timing": timing,
    }
    atomic_write_text(out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True))
    return SpokenDigitsSummary(
        train_path=out / "shd_train.h5",
        test_path=out / "shd_test.h5",
        manifest_path=out / MANIFEST_NAME,
        reused=False,
        num_train=sizes["train"],
        num_test=sizes["test"],
        stats=stats,
        timing=timing,
    )
