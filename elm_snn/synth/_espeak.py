"""Minimal ctypes binding to eSpeak NG as bundled by PyPI ``espeakng-loader``.

Only what the spoken-digit generator needs: initialise in synchronous mode, pick a voice by
name (``"en-us+m3"``: language voice + variant), set rate/pitch/range, seed eSpeak's random
generator, and collect the 16-bit samples of one utterance through the synth callback.

eSpeak NG keeps hidden global state between utterances (e.g. the phase of its pitch
flutter), so the same call with the same seed gives the same audio only when the process
made the same sequence of calls before it. Callers that need reproducible audio synthesise
each fixed group of utterances, in a fixed order, in a fresh process.
"""

from __future__ import annotations

import ctypes
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = [
    "ESpeak",
    "espeak_data_path",
    "available_variants",
    "language_voice_exists",
    "synthesize_in_fresh_process",
]

# espeak_AUDIO_OUTPUT / espeak_PARAMETER / flags from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_POS_CHARACTER = 1
_CHARS_UTF8 = 1

#: eSpeak's accepted parameter ranges (speak_lib.h).
RATE_RANGE_WPM = (80, 450)
PITCH_RANGE = (0, 99)


def _loader():  # noqa: ANN202 - module object
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the spoken-digit generator needs eSpeak NG from PyPI 'espeakng-loader': "
            "pip install 'elm-snn[synth]'"
        ) from exc
    return espeakng_loader


def espeak_data_path() -> Path:
    """Folder ``espeak-ng-data`` bundled with ``espeakng-loader``."""
    return Path(_loader().get_data_path())


@functools.lru_cache(maxsize=1)
def available_variants() -> tuple[str, ...]:
    """Names of the voice variants (``voices/!v``) bundled with eSpeak NG, sorted."""
    folder = espeak_data_path() / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))


@functools.lru_cache(maxsize=64)
def language_voice_exists(name: str) -> bool:
    """Whether eSpeak NG has a language voice file called ``name`` (case-insensitive),
    e.g. ``"en-us"``, ``"en"``, ``"de"``."""
    target = name.lower()
    root = espeak_data_path() / "lang"
    return any(p.is_file() and p.name.lower() == target for p in root.rglob("*"))


class ESpeak:
    """One eSpeak NG engine in this process (the library is global: create one per process).

    Attributes:
        sample_rate_hz: output sample rate of the engine (22050 Hz for eSpeak NG).
    """

    _CALLBACK = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def __init__(self) -> None:
        loader = _loader()
        self._lib = ctypes.CDLL(loader.get_library_path())
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(espeak_data_path()).encode(), 0
        )
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise (espeak_Initialize -> {rate})")
        self.sample_rate_hz = int(rate)
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._collect)  # keep a reference alive
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, num_samples, events) -> int:  # noqa: ANN001 - ctypes callback
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def synthesize(
        self,
        text: str,
        voice: str,
        *,
        rate_wpm: int,
        pitch: int,
        pitch_range: int,
        seed: int,
    ) -> np.ndarray:
        """Speak ``text`` and return its samples.

        Args:
            text: UTF-8 text.
            voice: eSpeak voice name, optionally with a variant (``"de+f2"``).
            rate_wpm: speaking rate in words per minute (80..450).
            pitch: base pitch (0..99; 50 is eSpeak's default).
            pitch_range: pitch range (0..99; 50 default).
            seed: seed of eSpeak's random generator, set just before synthesis.

        Returns:
            ``(N,)`` int16 samples at :attr:`sample_rate_hz`.
        """
        lib = self._lib
        err = lib.espeak_SetVoiceByName(voice.encode())
        if err != 0:
            raise ValueError(f"voice: eSpeak NG does not know the voice {voice!r} (error {err})")
        for param, value in ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch),
                             (_PARAM_RANGE, pitch_range), (_PARAM_VOLUME, 100)):  # fmt: skip
            err = lib.espeak_SetParameter(param, int(value), 0)
            if err != 0:
                raise RuntimeError(f"espeak_SetParameter({param}, {value}) failed (error {err})")
        lib.espeak_ng_SetRandSeed(int(seed))
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed for {text!r} with voice {voice!r} ({err})")
        lib.espeak_Synchronize()
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16, copy=False)


def _serve() -> int:
    """Script entry: read a JSON list of utterances on stdin, write audio to stdout.

    Output: one JSON header line ``{"sample_rate_hz", "lengths", "cpu_s"}`` followed by the
    concatenated int16 samples (native byte order).
    """
    jobs = json.loads(sys.stdin.read())
    t0 = time.process_time()
    engine = ESpeak()
    clips = []
    for job in jobs:
        try:
            clips.append(engine.synthesize(job["text"], job["voice"], rate_wpm=job["rate_wpm"],
                                           pitch=job["pitch"], pitch_range=job["pitch_range"],
                                           seed=job["seed"]))  # fmt: skip
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 3
    header = {
        "sample_rate_hz": engine.sample_rate_hz,
        "lengths": [int(c.size) for c in clips],
        "cpu_s": time.process_time() - t0,
    }
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    for c in clips:
        out.write(np.ascontiguousarray(c, dtype=np.int16).tobytes())
    out.flush()
    return 0


def synthesize_in_fresh_process(jobs: list[dict]) -> tuple[list[np.ndarray], int, float]:
    """Speak utterances in order in a new Python process (so eSpeak starts from its
    initial state and the audio is reproducible).

    Args:
        jobs: dicts with keys ``text``, ``voice``, ``rate_wpm``, ``pitch``, ``pitch_range``,
            ``seed`` (see :meth:`ESpeak.synthesize`).

    Returns:
        ``(clips, sample_rate_hz, cpu_seconds)``: int16 arrays in the order of ``jobs``.
    """
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        input=json.dumps(jobs).encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode == 3:
        raise ValueError(proc.stderr.decode(errors="replace").strip())
    if proc.returncode != 0:
        raise RuntimeError(
            f"eSpeak NG worker failed (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()[-2000:]}"
        )
    head, _, body = proc.stdout.partition(b"\n")
    header = json.loads(head)
    samples = np.frombuffer(body, dtype=np.int16)
    lengths = header["lengths"]
    if samples.size != sum(lengths):
        raise RuntimeError("eSpeak NG worker returned truncated audio")
    clips = np.split(samples.copy(), np.cumsum(lengths)[:-1]) if lengths else []
    return list(clips), int(header["sample_rate_hz"]), float(header["cpu_s"])


if __name__ == "__main__":
    sys.exit(_serve())
