"""Offline Pathfinder: LRA folder + metadata layout, balanced labels, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from elm_snn.cli import main
from elm_snn.lra.pathfinder import PathfinderConfig, draw_pathfinder_image, generate_pathfinder


def _blobs(img: np.ndarray, radius: int) -> int:
    """Number of marker blobs: pixels whose full (2r+1)^2 neighbourhood... is bright in a
    plus shape of arm r (lines are 1 px wide at R = 32, so only markers pass)."""
    r = radius
    on = img > 0
    core = on[r:-r, r:-r].copy()
    for dy, dx in ((-r, 0), (r, 0), (0, -r), (0, r), (-r, -r), (r, r)):
        core &= on[r + dy : on.shape[0] - r + dy, r + dx : on.shape[1] - r + dx]
    return int(core.sum())


def test_layout_labels_and_metadata(tmp_path):
    cfg = PathfinderConfig(resolution=32, difficulty="easy", num_images=10, per_folder=4, seed=1)
    manifest = generate_pathfinder(tmp_path, cfg)
    root = tmp_path / "pathfinder32" / "curv_baseline"
    assert manifest["positives"] == manifest["negatives"] == 5
    metas = sorted((root / "metadata").glob("*.npy"))
    assert [m.name for m in metas] == ["0.npy", "1.npy", "2.npy"]
    lines = [line.split() for m in metas for line in m.read_text().splitlines()]
    assert len(lines) == 10
    for i, f in enumerate(lines):
        assert f[0] == f"imgs/{i // 4}" and f[1] == f"sample_{i}.png" and f[3] in ("0", "1")
        img = np.asarray(Image.open(root / f[0] / f[1]))
        assert img.shape == (32, 32) and img.dtype == np.uint8
        # two markers (one 3x3 blob each at R = 32), lines and black background
        assert _blobs(img, 1) >= 2
        assert 0.03 < (img > 0).mean() < 0.6


@pytest.mark.parametrize("resolution, difficulty", [(32, "hard"), (64, "medium"), (128, "easy")])
def test_sizes_and_difficulties(resolution, difficulty):
    cfg = PathfinderConfig(resolution=resolution, difficulty=difficulty, num_images=2)
    a = draw_pathfinder_image(cfg, 0, 1)
    assert a.shape == (resolution, resolution)
    np.testing.assert_array_equal(a, draw_pathfinder_image(cfg, 0, 1))
    assert not np.array_equal(a, draw_pathfinder_image(cfg, 1, 1))


def test_longer_contours_draw_more_ink():
    ink = {}
    for d in ("easy", "hard"):
        cfg = PathfinderConfig(resolution=64, difficulty=d, num_images=6)
        ink[d] = np.mean([(draw_pathfinder_image(cfg, i, i % 2) > 0).sum() for i in range(6)])
    assert ink["hard"] > ink["easy"] * 1.3


def test_deterministic_files_and_reuse(tmp_path):
    cfg = PathfinderConfig(resolution=32, difficulty="medium", num_images=4, seed=5)
    generate_pathfinder(tmp_path / "a", cfg)
    generate_pathfinder(tmp_path / "b", cfg)
    sub = "pathfinder32/curv_contour_length_9"
    for rel in ("metadata/0.npy", "imgs/0/sample_3.png"):
        assert (tmp_path / "a" / sub / rel).read_bytes() == (
            tmp_path / "b" / sub / rel
        ).read_bytes()
    assert generate_pathfinder(tmp_path / "a", cfg)["reused"]


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="resolution"):
        PathfinderConfig(resolution=48)
    with pytest.raises(ValueError, match="difficulty"):
        PathfinderConfig(difficulty="extreme")
    with pytest.raises(ValueError, match="label"):
        draw_pathfinder_image(PathfinderConfig(), 0, 2)
    assert main(["data", "pathfinder", "--out", str(tmp_path), "--num", "0"]) == 2
    assert "num_images" in capsys.readouterr().err


def test_cli(tmp_path, capsys):
    rc = main(["data", "pathfinder", "--out", str(tmp_path), "--num", "4", "--difficulty", "easy"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["resolution"] == 32
    assert (tmp_path / "pathfinder32" / "curv_baseline" / "imgs" / "0" / "sample_3.png").is_file()
