"""Writes the outline stress sketches of this folder from the samples one level up.

Run from the repository root: ``python tests/data/outlines/generate.py``. Deterministic.

- ``gap_*``: a closed sample whose loop stops short, leaving a gap of 3–8% of its
  length (the recogniser still calls it closed: its rule allows 10%);
- ``split_*``: a closed sample cut into two or three strokes whose ends meet, some
  drawn backwards, small gaps or overlaps at the joints;
- ``sparse_*``: closed shapes given by their corners only (a 5-point rectangle, as
  Improve writes it) and coarse polygons of a few points;
- ``scene_*``: the scene samples with one closed shape drawn with a gap.

``labels.json`` lists each sketch with ``closed`` (how many closed shapes it holds) and
``source`` (the sample it came from, if any).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SAMPLES = HERE.parent


def load(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def loop_of(points: list) -> np.ndarray:
    """The sample stroke's closed loop (recognised), points with pressure."""
    from vibedraw_widget.local.recognize import _closure, _cut_loop, _prepare

    p = np.asarray(points, float)
    xy = _prepare(p[:, :2])
    closed, i, j, rs = _closure(xy)
    assert closed
    loop = _cut_loop(xy, i / (len(rs) - 1), j / (len(rs) - 1))
    return np.column_stack((loop, np.full(len(loop), 0.5)))


def arc_cut(loop: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The loop's points from fraction t0 to t1 of its length (t1 may pass 1: wraps)."""
    ring = np.vstack((loop, loop[:1]))
    cum = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(ring[:, :2], axis=0).T))))
    total = cum[-1]
    if t1 > 1:
        ring = np.vstack((ring, ring[1:]))
        cum = np.concatenate((cum, total + cum[1:]))
    a, b = t0 * total, t1 * total
    inner = ring[(cum > a) & (cum < b)]
    ends = [np.array([np.interp(t, cum, ring[:, k]) for k in range(3)]) for t in (a, b)]
    return np.vstack((ends[0], inner, ends[1]))


def stroke(points: np.ndarray, template: dict) -> dict:
    return {
        "points": np.round(np.asarray(points, float), 2).tolist(),
        "color": template["color"],
        "width": template["width"],
    }


def sketch(strokes: list[dict], texts: list | None = None) -> dict:
    return {
        "version": 1,
        "width": 640,
        "height": 480,
        "background": "#ffffff",
        "strokes": strokes,
        "texts": texts or [],
    }


def main() -> None:
    rng = np.random.default_rng(17)
    out: dict[str, dict] = {}
    labels = []

    def add(name: str, data: dict, closed: int, source: str | None = None) -> None:
        out[name] = data
        labels.append({"name": name, "closed": closed, "source": source})

    closed_samples = [
        f"{kind}_{k:02d}" for kind in ("ellipse", "rectangle", "triangle", "blob") for k in range(4)
    ]
    gaps = (0.03, 0.05, 0.065, 0.08)
    for n, name in enumerate(closed_samples):
        s = load(name)
        template = s["strokes"][0]
        loop = loop_of(template["points"])
        start = rng.uniform(0, 1)
        part = arc_cut(loop, start, start + 1 - gaps[n % 4])
        add(f"gap_{name}", sketch([stroke(part, template)]), 1, name)

    for n, name in enumerate(closed_samples):
        s = load(name)
        template = s["strokes"][0]
        loop = loop_of(template["points"])
        pieces = 2 + n % 2
        start = rng.uniform(0, 1)
        cuts = (
            start + np.sort(rng.uniform(0.15, 0.85, pieces - 1))
            if pieces == 2
            else (start + np.array([0.3, 0.62]) + rng.uniform(-0.05, 0.05, 2))
        )
        bounds = [start, *cuts, start + 1]
        strokes = []
        for k in range(pieces):
            jitter = rng.uniform(-0.012, 0.012)  # a small gap or overlap at each joint
            seg = arc_cut(loop, bounds[k], bounds[k + 1] + jitter)
            if k % 2 == 1:
                seg = seg[::-1]  # drawn the other way
            strokes.append(stroke(seg, template))
        add(f"split_{name}", sketch(strokes), 1, name)

    def polygon(corners: list, template: dict, repeat_first: bool = True) -> dict:
        pts = [[x, y, 0.5] for x, y in corners]
        return stroke(np.array(pts + pts[:1] if repeat_first else pts), template)

    ink = {"color": "#1e1e1e", "width": 4}
    add(
        "sparse_rectangle",
        sketch([polygon([(150, 120), (470, 120), (470, 360), (150, 360)], ink)]),
        1,
    )
    add("sparse_triangle", sketch([polygon([(320, 80), (520, 400), (120, 400)], ink)]), 1)
    add(
        "sparse_pentagon",
        sketch(
            [
                polygon(
                    [
                        (
                            320 + 170 * math.sin(2 * math.pi * k / 5),
                            250 - 170 * math.cos(2 * math.pi * k / 5),
                        )
                        for k in range(5)
                    ],
                    {"color": "#1971c2", "width": 5},
                )
            ]
        ),
        1,
    )
    add(
        "sparse_12gon_open_end",
        sketch(
            [
                polygon(
                    [
                        (
                            320 + 160 * math.cos(math.pi * k / 6),
                            240 + 160 * math.sin(math.pi * k / 6),
                        )
                        for k in range(12)
                    ],
                    {"color": "#2f9e44", "width": 4},
                    repeat_first=False,  # the last side left out: a gap of 1/11 of the loop
                )
            ]
        ),
        1,
    )
    add(
        "sparse_house",
        sketch(
            [
                polygon(
                    [(200, 220), (440, 220), (440, 420), (200, 420)],
                    {"color": "#795548", "width": 4},
                ),
                polygon([(180, 222), (320, 90), (460, 222)], {"color": "#e03131", "width": 4}),
            ]
        ),
        2,
    )
    add(
        "sparse_kite_two_strokes",
        sketch(
            [
                stroke(np.array([[320, 60, 0.5], [460, 200, 0.5], [320, 420, 0.5]]), ink),
                stroke(np.array([[318, 423, 0.5], [180, 200, 0.5], [322, 58, 0.5]]), ink),
            ]
        ),
        1,
    )

    for name, gap_stroke in (
        ("scene_snowman_00", 0),
        ("scene_snowman_01", 0),
        ("scene_house_00", 0),
        ("scene_tree_00", 1),
    ):
        s = load(name)
        strokes = [dict(st) for st in s["strokes"]]
        template = strokes[gap_stroke]
        loop = loop_of(template["points"])
        start = rng.uniform(0, 1)
        strokes[gap_stroke] = stroke(arc_cut(loop, start, start + 0.93), template)
        closed = sum(1 for _ in strokes) if name.startswith("scene_snowman") else 2
        if name == "scene_tree_00":
            from vibedraw_widget.local.recognize import CLOSED_KINDS, recognize

            closed = sum(sh.kind in CLOSED_KINDS for sh in recognize(s))
        add(f"scene_gap_{name.removeprefix('scene_')}", sketch(strokes, s["texts"]), closed, name)

    for name, data in out.items():
        (HERE / f"{name}.json").write_text(json.dumps(data))
    (HERE / "labels.json").write_text(json.dumps(labels, indent=1))


if __name__ == "__main__":
    main()
