"""Offline Pathfinder images (after Linsley et al. 2018, as used by the Long Range Arena).

Each greyscale image (``R x R``, R = 32, 64 or 128) holds two *target* contours of
``contour_length`` dashes each, some shorter distractor contours, and two round markers. In a
positive image (label 1) the markers sit on the two ends of the same target contour; in a
negative image (label 0) one marker sits on an end of each target contour. The task is to say
whether the markers are connected.

Drawing rules (our own, written for this package; only the task and the file layout follow
the LRA release):

* a contour is a chain of straight dashes ("paddles") of ``paddle`` pixels separated by gaps
  of ``gap`` pixels; the direction turns by a uniform angle in ``[-30, 30]`` degrees from one
  paddle to the next, so contours are smooth but curved; a paddle that would leave the
  canvas or touch another contour is drawn again with a turn range widened by 15 degrees per
  attempt (up to 12 attempts), so long contours curl instead of failing near an edge;
* contours never come within one pixel of another contour, and a contour never comes back
  within one pixel of its own earlier paddles; gaps are checked like paddles, so a dash never
  jumps over a line (a paddle that would break a rule is drawn again with another angle; a
  contour that cannot be finished is started again elsewhere);
* difficulty is the number of paddles of the target contours, as in LRA:
  ``easy`` = 6 (folder ``curv_baseline``), ``medium`` = 9 (``curv_contour_length_9``),
  ``hard`` = 14 (``curv_contour_length_14``, the one LRA uses);
* distractors: ``2 * R / 32`` contours of 2 to ``contour_length // 2 + 1`` paddles;
* sizes scale with ``s = R / 32``: paddle ``max(2, round(2 s))`` px, gap ``max(1, round(s))``
  px, line width ``max(1, R // 64)`` px, marker radius ``max(1, round(s))`` px; lines and
  markers have grey level 255 on a black background.

Layout (the LRA release's, read by :class:`elm_snn.lra.readers.PathfinderDataset`)::

    OUT/pathfinder{R}/{difficulty folder}/imgs/{k}/sample_{i}.png
    OUT/pathfinder{R}/{difficulty folder}/metadata/{k}.npy

where, despite the ``.npy`` suffix, a metadata file is text with one line per image:
``imgs/{k} sample_{i}.png {i} {label} {contour_length} {paddle} {distractors}`` (the reader
uses fields 0, 1 and 3, like LRA's). ``pathfinder.json`` beside them records the parameters,
so a second call with the same parameters reuses the images. Labels are balanced (half of
the images are positive, in a seeded random order); image ``i`` is drawn from
``numpy.random.default_rng([seed, R, contour_length, i])`` alone.

Command line: ``elm-snn data pathfinder --out DIR --resolution {32,64,128} --seed S``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DIFFICULTIES",
    "RESOLUTIONS",
    "PathfinderConfig",
    "draw_pathfinder_image",
    "generate_pathfinder",
    "difficulty_folder",
    "find_pathfinder_folders",
]

RESOLUTIONS = (32, 64, 128)
#: difficulty -> (paddles per target contour, LRA folder name)
DIFFICULTIES: dict[str, tuple[int, str]] = {
    "easy": (6, "curv_baseline"),
    "medium": (9, "curv_contour_length_9"),
    "hard": (14, "curv_contour_length_14"),
}
FORMAT_VERSION = 1
MAX_TURN = math.radians(30.0)


def difficulty_folder(difficulty: str) -> str:
    """LRA folder name of a difficulty (``"hard"`` -> ``"curv_contour_length_14"``)."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty: expected one of {list(DIFFICULTIES)}, got {difficulty!r}")
    return DIFFICULTIES[difficulty][1]


def _has_metadata(folder: Path) -> bool:
    meta = folder / "metadata"
    return meta.is_dir() and any(meta.glob("*.npy"))


def find_pathfinder_folders(root: str | Path) -> dict[tuple[int, str], Path]:
    """The Pathfinder difficulty folders holding metadata files under ``root``.

    Looks where :class:`elm_snn.lra.readers.PathfinderDataset` looks: ``root`` itself (a
    difficulty folder), ``root/pathfinder{R}/{folder}``, ``root/lra_release/pathfinder{R}/...``
    and ``root/lra_release/lra_release/pathfinder{R}/...``.

    Returns:
        ``(resolution, difficulty) -> folder``, first layout first; ``root`` itself counts
        when its name is a difficulty folder's and its parent's is ``pathfinder{R}``.
    """
    base = Path(root)
    by_folder = {folder: name for name, (_, folder) in DIFFICULTIES.items()}
    found: dict[tuple[int, str], Path] = {}
    if _has_metadata(base) and base.name in by_folder:
        res = base.parent.name.removeprefix("pathfinder")
        if res.isdigit() and int(res) in RESOLUTIONS:
            found[(int(res), by_folder[base.name])] = base
    for parent in (base, base / "lra_release", base / "lra_release" / "lra_release"):
        for resolution in RESOLUTIONS:
            for folder, name in by_folder.items():
                candidate = parent / f"pathfinder{resolution}" / folder
                if (resolution, name) not in found and _has_metadata(candidate):
                    found[(resolution, name)] = candidate
    return found


@dataclasses.dataclass(frozen=True)
class PathfinderConfig:
    """Generator settings."""

    resolution: int = 32
    difficulty: str = "hard"
    num_images: int = 2000
    per_folder: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution: expected one of {RESOLUTIONS}, got {self.resolution!r}")
        difficulty_folder(self.difficulty)
        for name in ("num_images", "per_folder"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {self.seed!r}")

    @property
    def contour_length(self) -> int:
        """Dashes per target contour (6 / 9 / 14)."""
        return DIFFICULTIES[self.difficulty][0]

    @property
    def scale(self) -> float:
        """``resolution / 32``: the factor every size scales with."""
        return self.resolution / 32.0

    @property
    def paddle(self) -> int:
        """Dash length in pixels."""
        return max(2, round(2 * self.scale))

    @property
    def gap(self) -> int:
        """Gap between dashes in pixels."""
        return max(1, round(self.scale))

    @property
    def width(self) -> int:
        """Line width in pixels."""
        return max(1, self.resolution // 64)

    @property
    def marker_radius(self) -> int:
        """Marker radius in pixels."""
        return max(1, round(self.scale))

    @property
    def num_distractors(self) -> int:
        """Distractor contours per image."""
        return int(2 * self.scale)


def _segment_pixels(p0: np.ndarray, p1: np.ndarray, width: int, size: int) -> np.ndarray | None:
    """Pixel (row, col) pairs of a segment of the given width, or None if it leaves the
    canvas."""
    n = max(2, int(math.ceil(2 * float(np.hypot(*(p1 - p0))))) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = p0[None, :] * (1 - t) + p1[None, :] * t
    if width > 1:
        offs = np.arange(width) - (width - 1) / 2.0
        normal = np.array([-(p1 - p0)[1], (p1 - p0)[0]])
        normal = normal / max(float(np.hypot(*normal)), 1e-9)
        pts = (pts[:, None, :] + offs[None, :, None] * normal[None, None, :]).reshape(-1, 2)
    pix = np.rint(pts).astype(np.int64)
    if pix.min() < 0 or pix.max() >= size:
        return None
    return pix


def _dilate(mask: np.ndarray) -> np.ndarray:
    """One-pixel (8-neighbour) dilation of a boolean mask."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[1:, 1:] |= mask[:-1, :-1]
    out[:-1, :-1] |= mask[1:, 1:]
    out[1:, :-1] |= mask[:-1, 1:]
    out[:-1, 1:] |= mask[1:, :-1]
    return out


def _draw_contour(
    rng: np.random.Generator,
    cfg: PathfinderConfig,
    paddles: int,
    blocked: np.ndarray,
    tries: int = 60,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
    """A new contour that keeps clear of ``blocked`` (the dilated reserved mask): its drawn
    pixels, its reserved pixels (paddles and gaps) and its two end points; None if no
    placement was found."""
    size = cfg.resolution
    margin = cfg.marker_radius + 1
    for _ in range(tries):
        pos = rng.uniform(margin, size - 1 - margin, size=2)
        angle = rng.uniform(0.0, 2 * math.pi)
        start = pos.copy()
        pixels: list[np.ndarray] = []
        spans: list[np.ndarray] = []
        own = np.zeros_like(blocked)  # this contour's paddles before the previous one
        ok = True
        for k in range(paddles):
            placed = False
            for attempt in range(12):
                # a blocked paddle may turn further on each new attempt (up to 180 degrees)
                limit = min(math.pi, MAX_TURN * (1 + attempt / 2))
                turn = 0.0 if (k == 0 and attempt == 0) else rng.uniform(-limit, limit)
                a = angle + turn
                direction = np.array([math.sin(a), math.cos(a)])
                end = pos + direction * (cfg.paddle - 1)
                nxt = end + direction * (cfg.gap + 1)
                if not (margin <= min(end.min(), nxt.min())):
                    continue
                if not max(end.max(), nxt.max()) <= size - 1 - margin:
                    continue
                pix = _segment_pixels(pos, end, cfg.width, size)
                # the gap up to the next paddle must not jump over another contour either
                span = _segment_pixels(pos, nxt, cfg.width, size)
                if pix is None or span is None:
                    continue
                if blocked[span[:, 0], span[:, 1]].any() or own[span[:, 0], span[:, 1]].any():
                    continue
                pixels.append(pix)
                spans.append(span)
                angle = a
                last_end = end
                pos = nxt
                placed = True
                break
            if not placed:
                ok = False
                break
            if len(pixels) >= 2:
                # older paddles (dilated) become obstacles for the rest of this contour
                p2 = spans[-2]
                mark = np.zeros_like(own)
                mark[p2[:, 0], p2[:, 1]] = True
                own |= _dilate(mark)
        if ok:
            return (
                np.concatenate(pixels, axis=0),
                np.concatenate(spans, axis=0),
                (start, last_end),
            )
    return None


def _marker_pixels(center: np.ndarray, radius: int, size: int) -> np.ndarray:
    c = np.rint(center).astype(np.int64)
    r = np.arange(-radius, radius + 1)
    rr, cc = np.meshgrid(r, r, indexing="ij")
    keep = rr**2 + cc**2 <= radius**2 + radius  # a round blob
    pts = np.stack([rr[keep] + c[0], cc[keep] + c[1]], axis=1)
    pts = pts[(pts >= 0).all(axis=1) & (pts < size).all(axis=1)]
    return pts


def draw_pathfinder_image(cfg: PathfinderConfig, index: int, label: int) -> np.ndarray:
    """Image ``index`` (``uint8`` ``(R, R)``) with the given label (1: markers connected).

    Deterministic in ``(cfg.seed, cfg.resolution, cfg.contour_length, index, label)``.
    """
    if label not in (0, 1):
        raise ValueError(f"label: expected 0 or 1, got {label!r}")
    size = cfg.resolution
    for attempt in range(100):
        rng = np.random.default_rng([cfg.seed, size, cfg.contour_length, index, attempt])
        occupied = np.zeros((size, size), dtype=bool)  # drawn pixels
        reserved = np.zeros((size, size), dtype=bool)  # drawn pixels and gaps
        targets = []
        for _ in range(2):
            c = _draw_contour(rng, cfg, cfg.contour_length, _dilate(reserved))
            if c is None:
                break
            occupied[c[0][:, 0], c[0][:, 1]] = True
            reserved[c[1][:, 0], c[1][:, 1]] = True
            targets.append(c)
        if len(targets) < 2:
            continue
        for _ in range(cfg.num_distractors):
            n = int(rng.integers(2, cfg.contour_length // 2 + 2))
            c = _draw_contour(rng, cfg, n, _dilate(reserved), tries=20)
            if c is not None:
                occupied[c[0][:, 0], c[0][:, 1]] = True
                reserved[c[1][:, 0], c[1][:, 1]] = True
        (_, _, (a0, a1)), (_, _, (b0, b1)) = targets
        if label == 1:
            ends = (a0, a1)
        else:
            ends = (a0 if rng.random() < 0.5 else a1, b0 if rng.random() < 0.5 else b1)
        image = np.zeros((size, size), dtype=np.uint8)
        image[occupied] = 255
        for e in ends:
            m = _marker_pixels(e, cfg.marker_radius, size)
            image[m[:, 0], m[:, 1]] = 255
        return image
    raise RuntimeError(  # pragma: no cover - never seen at the supported sizes
        f"could not place two contours of {cfg.contour_length} paddles on a {size}x{size} image"
    )


def _labels(cfg: PathfinderConfig) -> np.ndarray:
    labels = np.arange(cfg.num_images) % 2
    rng = np.random.default_rng([cfg.seed, cfg.resolution, cfg.contour_length])
    return rng.permutation(labels)


def generate_pathfinder(
    out: str | Path,
    config: PathfinderConfig | None = None,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the images and metadata files of ``config`` under ``out`` (see module doc);
    ``progress`` shows a bar with an ETA on stderr (per image).

    Returns:
        The manifest (parameters, folder, counts); ``reused`` tells whether existing files
        written with the same parameters were kept.
    """
    from elm_snn._locks import GENERATOR_LOCK_WAIT_S, folder_lock

    cfg = config or PathfinderConfig()
    root = Path(out) / f"pathfinder{cfg.resolution}" / difficulty_folder(cfg.difficulty)

    def note(message: str) -> None:
        print(f"elm-snn: {message}", file=sys.stderr, flush=True)

    # one generator writes a folder at a time; a second one waits, then reuses its files
    with folder_lock(root, "out", wait=GENERATOR_LOCK_WAIT_S, on_wait=note):
        return _generate_into(root, cfg, force, progress)


def _generate_into(
    root: Path, cfg: PathfinderConfig, force: bool, progress: bool
) -> dict[str, Any]:
    """:func:`generate_pathfinder` once ``root`` is locked."""
    from PIL import Image

    from elm_snn._io import atomic_path, atomic_write_text
    from elm_snn._manifest import matching_manifest
    from elm_snn._progress import progress as progress_bar
    from elm_snn._progress import progress_enabled

    manifest_path = root / "pathfinder.json"
    wanted = {"format_version": FORMAT_VERSION, "config": dataclasses.asdict(cfg)}
    old = None if force else matching_manifest(manifest_path, wanted)
    if old is not None:
        return {**old, "reused": True}
    t0 = time.perf_counter()
    labels = _labels(cfg)
    lines: dict[int, list[str]] = {}
    bar = progress_bar(
        range(cfg.num_images),
        desc="pathfinder",
        unit="image",
        enabled=progress and progress_enabled(),
    )
    for i in bar:
        folder = i // cfg.per_folder
        img = draw_pathfinder_image(cfg, i, int(labels[i]))
        path = root / "imgs" / str(folder) / f"sample_{i}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(img, mode="L").save(tmp, format="PNG")
        lines.setdefault(folder, []).append(
            f"imgs/{folder} sample_{i}.png {i} {int(labels[i])} {cfg.contour_length} "
            f"{cfg.paddle} {cfg.num_distractors}"
        )
    for folder, rows in lines.items():
        atomic_write_text(root / "metadata" / f"{folder}.npy", "\n".join(rows) + "\n")
    manifest = {
        **wanted,
        "folder": str(root),
        "positives": int(labels.sum()),
        "negatives": int(len(labels) - labels.sum()),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "reused": False}
