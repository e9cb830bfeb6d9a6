"""Offline spoken digits in SHD's layout: reproducibility, reuse, readers, argument errors.

Runs are tiny (1 utterance per class, 3 speakers) and use 16 cochlea channels so that a
generation takes a few seconds (700 channels only change the basilar-membrane matrix size;
the cochlea itself is tested against ``lauscher`` in ``test_cochlea.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_module

require_module("espeakng_loader")

from elm_snn.cli.data.spoken_digits import add_arguments, run_from_args  # noqa: E402
from elm_snn.data.shd_format import read_shd_file  # noqa: E402
from elm_snn.synth.spoken_digits import (  # noqa: E402
    Speaker,
    default_speakers,
    generate_spoken_digits,
)

TINY = dict(per_class=1, num_speakers=3, test_speakers=1, num_channels=16)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # transfer matrices go to a per-session temporary cache, never to the user's home
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path_factory.getbasetemp() / "elm-snn-cache"))


def _arrays(path):
    rec = read_shd_file(path, num_channels=700)
    return rec


def test_same_seed_gives_identical_files_and_reuse(tmp_path) -> None:
    a = generate_spoken_digits(tmp_path / "a", seed=3, **TINY)
    b = generate_spoken_digits(tmp_path / "b", seed=3, workers=2, **TINY)
    assert not a.reused and not b.reused
    assert (a.num_train, a.num_test) == (20, 20)
    for split in ("train_path", "test_path"):
        ra, rb = _arrays(getattr(a, split)), _arrays(getattr(b, split))
        np.testing.assert_array_equal(ra.labels, rb.labels)
        np.testing.assert_array_equal(ra.speakers, rb.speakers)
        assert len(ra) == 20
        for ta, tb, ua, ub in zip(ra.times, rb.times, ra.units, rb.units, strict=True):
            assert ta.tobytes() == tb.tobytes() and ua.tobytes() == ub.tobytes()
            assert len(ta) > 0 and ua.max() < 16
    train = _arrays(a.train_path)
    test = _arrays(a.test_path)
    assert sorted(train.labels.tolist()) == list(range(20))
    assert sorted(test.labels.tolist()) == list(range(20))
    # held-out speaker (the last one) only in the test file
    assert set(test.speakers.tolist()) == {2} and 2 not in set(train.speakers.tolist())
    # a second call with the same parameters reuses the files
    mtime = a.train_path.stat().st_mtime_ns
    again = generate_spoken_digits(tmp_path / "a", seed=3, **TINY)
    assert again.reused and again.train_path.stat().st_mtime_ns == mtime
    assert again.stats == json.loads(a.manifest_path.read_text())["stats"]


def test_different_seed_differs_and_parameters_change_regenerates(tmp_path) -> None:
    a = generate_spoken_digits(tmp_path / "x", seed=0, **TINY)
    ra = _arrays(a.train_path)
    b = generate_spoken_digits(tmp_path / "x", seed=1, **TINY)  # same folder, new seed
    assert not b.reused
    rb = _arrays(b.train_path)
    assert any(len(x) != len(y) or x.tobytes() != y.tobytes() for x, y in
               zip(ra.units, rb.units, strict=True))  # fmt: skip


def test_interrupted_generation_resumes_to_the_same_files(tmp_path, monkeypatch) -> None:
    """A run killed during the cochlea stage keeps what it made; the rerun makes only the
    rest and writes the files an uninterrupted run writes; the saved results go away."""
    from elm_snn.synth import _utterances
    from elm_snn.synth.spoken_digits import PARTIAL_DIR_NAME

    whole = generate_spoken_digits(tmp_path / "whole", seed=4, **TINY)
    real_job = _utterances._cochlea_job
    calls = {"n": 0}

    def dies_after_25(job):
        calls["n"] += 1
        if calls["n"] > 25:
            raise KeyboardInterrupt
        return real_job(job)

    monkeypatch.setattr(_utterances, "_cochlea_job", dies_after_25)
    partial = _utterances._PartialCochlea
    monkeypatch.setattr(
        _utterances,
        "_PartialCochlea",
        lambda folder, params: partial(folder, params, flush_every=10),
    )
    from elm_snn.synth import spoken_digits

    monkeypatch.setattr(spoken_digits, "_PartialCochlea", _utterances._PartialCochlea)
    with pytest.raises(KeyboardInterrupt):
        generate_spoken_digits(tmp_path / "cut", seed=4, **TINY)
    saved = tmp_path / "cut" / PARTIAL_DIR_NAME
    assert len(list(saved.glob("part-*.npz"))) == 2  # 20 of the 25 results were flushed
    calls["n"] = -1000  # the rerun must not die
    resumed = generate_spoken_digits(tmp_path / "cut", seed=4, **TINY)
    assert calls["n"] == -1000 + 40 - 20  # only the 20 missing utterances were heard
    assert not saved.exists()
    for split in ("train_path", "test_path"):
        assert getattr(whole, split).read_bytes() == getattr(resumed, split).read_bytes()


def test_saved_results_of_other_parameters_are_not_mixed_in(tmp_path) -> None:
    from elm_snn.synth._utterances import _PartialCochlea

    folder = tmp_path / "partial"
    store = _PartialCochlea(folder, {"seed": 1}, flush_every=1)
    store.add(3, (np.array([0.5]), np.array([7], dtype=np.uint16), 0.1))
    assert set(_PartialCochlea(folder, {"seed": 1}).load()) == {3}
    times, units, cpu = _PartialCochlea(folder, {"seed": 1}).load()[3]
    assert times.tolist() == [0.5] and units.tolist() == [7] and cpu == 0.1
    assert _PartialCochlea(folder, {"seed": 2}).load() == {}  # other parameters: discarded
    assert not folder.exists()


def test_cli_runs_and_reports(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--out",
            str(tmp_path / "cli"),
            "--per-class",
            "1",
            "--speakers",
            "3",
            "--test-speakers",
            "1",
            "--channels",
            "16",
            "--quiet",
        ]  # fmt: skip
    )
    args_ok = run_from_args(args)
    assert args_ok == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_train"] == 20 and info["num_test"] == 20 and not info["reused"]
    assert info["stats"]["train"]["spikes_per_sample"] > 10
    assert info["stats"]["train"]["active_channels"] <= 16
    from elm_snn.cli import main

    rc = main(["data", "spoken-digits", "--out", str(tmp_path / "bad"), "--per-class", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1  # one line, through the CLI's one error handler
    assert err[0].startswith("elm-snn: error:") and "per_class" in err[0]
    # the generator version: 3 unless asked, 2 or 3 only
    base = ["--out", str(tmp_path / "v")]
    assert parser.parse_args(base).generator_version == 3
    assert parser.parse_args([*base, "--generator-version", "2"]).generator_version == 2
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--generator-version", "1"])
    capsys.readouterr()


def test_tonic_reads_generated_files(tmp_path) -> None:
    """The files load through ``tonic.datasets.SHD`` (via the offline subclass
    :class:`elm_snn.data.SHD`). 16 channels keep it fast; the layout is the same at 700."""
    from elm_snn.data import SHD

    summary = generate_spoken_digits(tmp_path / "shd", seed=0, **TINY)
    for train, n in ((True, summary.num_train), (False, summary.num_test)):
        ds = SHD(str(tmp_path / "shd"), train=train)
        assert len(ds) == n == 20
        events, label = ds[0]
        assert "t" in events.dtype.names and "x" in events.dtype.names and len(events) > 0
        assert 0 <= int(label) < 20 and events["x"].max() < 16
        assert np.all(np.diff(events["t"].astype(np.int64)) >= 0)
    rec = read_shd_file(summary.test_path)
    assert len(rec) == 20 and rec.times[0].dtype == np.float64


def test_default_speakers_are_distinct_and_seeded() -> None:
    sp = default_speakers(12, seed=0)
    assert len({(s.variant, s.pitch, s.rate_wpm) for s in sp}) == 12
    assert sp == default_speakers(12, seed=0) and sp != default_speakers(12, seed=1)
    assert sp[1].voice(german=True) == "de+f1" and sp[0].voice(german=False) == "en-us+m1"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(per_class=0), "per_class"),
        (dict(per_class=1.5), "per_class"),
        (dict(seed=-1), "seed"),
        (dict(workers=0), "workers"),
        (dict(test_speakers=3, num_speakers=3), "test_speakers"),
        (dict(speakers=[Speaker("m1"), Speaker("nonexistent-variant")]), "variant"),
        (
            dict(speakers=[Speaker("m1"), Speaker("f1", english_voice="xx-nowhere")]),
            "english_voice",
        ),  # fmt: skip
        (dict(speakers=[Speaker("m1"), Speaker("f1", pitch=98)]), "pitch"),
        (dict(speakers=[Speaker("m1"), Speaker("f1", rate_wpm=440)]), "rate_wpm"),
        (dict(rate_jitter=1.5), "rate_jitter"),
        (dict(formant_jitter=1.0), "formant_jitter"),
        (dict(speakers=[Speaker("m1"), Speaker("f1", formant_scale=1.3)]), "formant_scale"),
        (dict(num_train=10), "num_train"),
        (dict(time_dtype="int8"), "time_dtype"),
        (dict(generator_version=1), "generator_version"),
        (dict(generator_version=True), "generator_version"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match) -> None:
    args = dict(per_class=1, num_speakers=3, test_speakers=1)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        generate_spoken_digits(tmp_path / "out", **args)


def test_out_dir_errors(tmp_path, monkeypatch) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        generate_spoken_digits(a_file, **TINY)
    # cannot be created, whoever runs the tests (root included): a parent is a regular file
    with pytest.raises(ValueError, match="out_dir: cannot create") as info:
        generate_spoken_digits(a_file / "sub" / "out", **TINY)
    assert isinstance(info.value.__cause__, NotADirectoryError)
    assert not (tmp_path / "sub").exists()
    # exists but not writable: permissions are not enforced for root, so the access check
    # answers "no" here (the real answer for an ordinary user of a 0o500 folder)
    import elm_snn.synth.spoken_digits as sd

    locked = tmp_path / "locked"
    locked.mkdir()
    asked = []
    real_access = sd.os.access

    def no_write_access(path, mode, **kwargs):
        if Path(path) == locked:
            asked.append(mode)
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(sd.os, "access", no_write_access)
    with pytest.raises(ValueError, match="is not writable"):
        generate_spoken_digits(locked, **TINY)
    assert asked and asked[0] & sd.os.W_OK
    assert not any(locked.iterdir())


def test_formant_scale_multiplies_every_frequency() -> None:
    """_prepare_audio reads the clip as recorded at scale x its rate: a 1 kHz tone comes out
    at scale x 1 kHz (and 1 / scale times as long)."""
    from elm_snn.synth._utterances import _prepare_audio
    from elm_snn.synth.spoken_digits import COCHLEA_RATE_HZ

    rate = 22050
    t = np.arange(int(0.3 * rate)) / rate
    tone = (8000 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.int16)
    lengths = {}
    for scale in (1.0, 0.92, 1.08):
        y = _prepare_audio(tone, rate, margin_ms=0.0, formant_scale=scale)
        spectrum = np.abs(np.fft.rfft(y))
        peak_hz = np.argmax(spectrum) * COCHLEA_RATE_HZ / y.size
        assert abs(peak_hz - 1000.0 * scale) < 15.0, (scale, peak_hz)
        lengths[scale] = np.count_nonzero(np.abs(y) > 0.01)
    assert lengths[1.08] < lengths[1.0] < lengths[0.92]


def test_default_speakers_parameters_in_documented_ranges() -> None:
    from elm_snn.synth import spoken_digits as sd

    sp = default_speakers(12, seed=0)
    assert [s.variant for s in sp][-2:] == ["m3", "f2"]  # the held-out ones: ordinary voices
    assert "m7" not in {s.variant for s in sp}
    for s in sp:
        assert sd.DEFAULT_PITCH[0] <= s.pitch <= sd.DEFAULT_PITCH[1]
        assert sd.DEFAULT_RATE_WPM[0] <= s.rate_wpm <= sd.DEFAULT_RATE_WPM[1]
        assert sd.DEFAULT_FORMANT_SCALE[0] <= s.formant_scale <= sd.DEFAULT_FORMANT_SCALE[1]
    assert len({s.formant_scale for s in sp}) == 12


def test_total_sample_counts_and_per_speaker_stats(tmp_path) -> None:
    from elm_snn.synth.spoken_digits import SHD_NUM_TEST, SHD_NUM_TRAIN, _check_counts

    # SHD's size spreads over the 20 classes as evenly as possible
    for total in (SHD_NUM_TRAIN, SHD_NUM_TEST, 23):
        counts = _check_counts("num_train", total)
        assert sum(counts) == total and max(counts) - min(counts) <= 1
    with pytest.raises(ValueError, match="num_train"):
        _check_counts("num_train", 19)
    summary = generate_spoken_digits(tmp_path / "n", num_train=23, num_test=21, **TINY)
    assert (summary.num_train, summary.num_test) == (23, 21)
    train = _arrays(summary.train_path)
    assert np.bincount(train.labels, minlength=20).tolist() == [2, 2, 2] + [1] * 17
    per = summary.stats["train"]["per_speaker"]
    assert set(per) == {"0", "1"} and set(summary.stats["test"]["per_speaker"]) == {"2"}
    n0 = int(np.sum(train.speakers == 0))
    counts0 = [len(t) for t, s in zip(train.times, train.speakers, strict=True) if s == 0]
    assert per["0"]["spikes_per_sample"] == pytest.approx(sum(counts0) / n0)
    assert summary.stats["train"]["duration_p10_ms"] <= summary.stats["train"]["duration_ms"]


def test_generator_versions_differ_in_spikes_not_in_statistics(tmp_path) -> None:
    """Version 2 (the earlier cochlea, one stream for all fibres) and version 3 (the fast
    one, a stream per channel) are recorded in the manifest, make different files, and
    agree in spikes per sample and active channels (16 channels, 25 utterances)."""
    import json

    old = generate_spoken_digits(tmp_path / "v2", seed=5, generator_version=2, **TINY)
    new = generate_spoken_digits(tmp_path / "v3", seed=5, **TINY)
    versions = [
        json.loads((tmp_path / v / "spoken_digits.json").read_text())["params"]["format_version"]
        for v in ("v2", "v3")
    ]
    assert versions == [2, 3]
    a, b = _arrays(old.train_path), _arrays(new.train_path)
    assert not all(np.array_equal(x, y) for x, y in zip(a.times, b.times, strict=True))
    for split in ("train", "test"):
        s2, s3 = old.stats[split], new.stats[split]
        assert s3["spikes_per_sample"] == pytest.approx(s2["spikes_per_sample"], rel=0.05)
        assert s3["active_channels"] == pytest.approx(s2["active_channels"], rel=0.05)
    # asking for the other version regenerates instead of reusing
    assert not generate_spoken_digits(tmp_path / "v2", seed=5, **TINY).reused


def test_a_second_generator_into_the_same_folder_waits_then_reuses(tmp_path, capsys) -> None:
    """While another process writes the folder (its lock held), a generation waits and names
    the holder; when the lock is released it makes the files, and the next call reuses them."""
    import threading
    import time

    from elm_snn._locks import LOCK_NAME, folder_lock
    from elm_snn.synth.spoken_digits import MANIFEST_NAME

    out = tmp_path / "digits"
    result = {}
    with folder_lock(out, "out_dir"):  # the "first generator"
        worker = threading.Thread(
            target=lambda: result.update(
                summary=generate_spoken_digits(out, seed=2, progress=True, **TINY)
            )
        )
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not (out / MANIFEST_NAME).exists()  # waiting
    worker.join(timeout=120)
    assert not worker.is_alive() and not result["summary"].reused
    assert "spoken digits: waiting: out_dir:" in capsys.readouterr().err
    assert generate_spoken_digits(out, seed=2, **TINY).reused
    assert not (out / LOCK_NAME).exists()
