"""Recognise hand-drawn strokes as shapes: the first step of the offline providers
(docs/architecture.md, The offline pipeline).

``recognize(sketch)`` turns a sketch (dict, :class:`~vibedraw_widget.sketch.Sketch`, PNG
bytes or a data URL) into a list of :class:`Shape`, one per stroke or per group of
strokes drawn as one shape. Hand-drawn input is messy, so each stroke goes through:

1. **resampling** to evenly spaced points (uneven pen speed no longer matters);
2. a **closure test**: the closest approach between the stroke's first and last parts
   decides whether it is a closed outline; the loop is cut there, which drops overshoot,
   tails and hooks, and bridges a small gap;
3. **fits**, each giving a size-normalised error: a direct least-squares ellipse fit
   (Fitzgibbon / Halíř–Flusser), a minimum-area rectangle, the largest triangle inscribed
   in the convex hull, a polygon through corners found by turning angle (as ShortStraw
   does with straws) for closed outlines; a least-squares line and an RDP polyline for
   open strokes;
4. **scores** from those errors: the best kind wins, the runner-up and its score are kept.

Open strokes whose ends meet (same colour) are joined first, so a shape drawn in two or
more strokes is recognised as one closed shape.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

KINDS = ("line", "polyline", "ellipse", "rectangle", "triangle", "polygon", "blob")
"""Every kind :func:`recognize` can return."""

CLOSED_KINDS = frozenset({"ellipse", "rectangle", "triangle", "polygon", "blob"})

_LOOP_POINTS = 96  # a closed outline is resampled to this many points
_OPEN_POINTS = 64
# Fit error (mean distance / sqrt(area), or / length for open strokes) at which a kind's
# score is 0.5; measured on the labelled sketches in tests/data, where each kind's own
# error stays below about 0.6 of its scale and the other kinds' errors lie above it.
_SCALE = {
    "ellipse": 0.042,
    "rectangle": 0.030,
    "triangle": 0.045,
    "polygon": 0.015,
    "line": 0.020,
    "polyline": 0.020,
}
_BLOB_SCORE = 0.45  # a closed outline that nothing fits better than this is a blob


@dataclass
class Shape:
    """One recognised shape.

    ``geometry`` holds plain numbers in sketch pixels (y down): always ``bbox``
    ``[x0, y0, x1, y1]`` and ``center``; then per kind ``radii`` and ``angle`` (degrees,
    clockwise on screen) for ellipses, ``size``, ``angle`` and ``corners`` for rectangles,
    ``corners`` for triangles and polygons, ``points`` (a closed outline without the
    repeated first point) for blobs, ``start``/``end`` for lines, ``points`` for polylines.
    """

    kind: str
    strokes: list[int]
    geometry: dict[str, Any]
    color: str = "#1e1e1e"
    width: float = 4.0
    score: float = 1.0
    runner_up: str | None = None
    runner_up_score: float = 0.0
    closed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The shape as JSON-able data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shape:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class _Fit:
    kind: str
    error: float
    geometry: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# public API


def recognize(sketch: Any) -> list[Shape]:
    """Recognise the shapes of ``sketch`` (a dict, ``Sketch``, JSON text, PNG bytes or a
    PNG data URL; a PNG is thresholded and traced first).

    Returns one :class:`Shape` per stroke, or per group of strokes drawn as one closed
    shape, in drawing order (the order of each shape's first stroke).
    """
    data = _as_sketch_dict(sketch)
    strokes = data["strokes"]
    prepared = [_prepare(np.asarray(s["points"], dtype=float)[:, :2]) for s in strokes]
    # Each stroke's closure test, once: stroke joining and recognition both need it.
    closures = [_closure(p) if len(p) >= 2 else None for p in prepared]
    shapes = []
    for chain in _join_open_strokes(prepared, closures, strokes):
        group = sorted(i for i, _ in chain)
        if len(chain) == 1:
            shape = _recognize_points(prepared[group[0]], closure=closures[group[0]])
        else:
            shape = _recognize_points(_chain_points(prepared, chain), force_closed=True)
        shape.strokes = group
        shape.color = _dominant(strokes, group, "color")
        shape.width = float(_dominant(strokes, group, "width"))
        shapes.append(shape)
    shapes.sort(key=lambda s: min(s.strokes))
    return shapes


def predicted_kinds(
    shapes: Sequence[Shape], traced: dict[str, Any] | None, reference: dict[str, Any]
) -> list[str]:
    """The kind recognised for each stroke of ``reference``.

    With ``traced=None`` the shapes came from ``reference`` itself and stroke indices
    match. Otherwise they came from ``traced`` (a sketch traced from ``reference``'s PNG),
    and each reference stroke takes the kind of the shape whose traced strokes lie
    nearest to it. Used to measure accuracy against labelled sketches.
    """
    if traced is None:
        owner = {i: s.kind for s in shapes for i in s.strokes}
        return [owner.get(i, "none") for i in range(len(reference["strokes"]))]
    clouds = []
    for shape in shapes:
        pts = np.concatenate(
            [np.asarray(traced["strokes"][i]["points"], float)[:, :2] for i in shape.strokes]
        )
        clouds.append(pts)
    out = []
    for stroke in reference["strokes"]:
        pts = np.asarray(stroke["points"], float)[:, :2]
        best, best_d = "none", math.inf
        for shape, cloud in zip(shapes, clouds, strict=True):
            d = np.sqrt(((pts[:, None, :] - cloud[None, ::2, :]) ** 2).sum(-1)).min(1).mean()
            if d < best_d:
                best, best_d = shape.kind, d
        out.append(best)
    return out


# ---------------------------------------------------------------------------------------
# input


def _as_sketch_dict(sketch: Any) -> dict[str, Any]:
    from ..sketch import Sketch

    return Sketch.from_any(sketch).to_dict()


def _dominant(strokes: list[dict[str, Any]], group: Sequence[int], key: str) -> Any:
    """The value of ``key`` on the group's longest stroke."""
    longest = max(group, key=lambda i: polyline_length(np.asarray(strokes[i]["points"])[:, :2]))
    return strokes[longest][key]


# ---------------------------------------------------------------------------------------
# geometry helpers


def polyline_length(pts: np.ndarray) -> float:
    """Length of the polyline ``pts`` (``(n, d)``, any dimension)."""
    if len(pts) < 2:
        return 0.0
    return float(np.sqrt((np.diff(pts, axis=0) ** 2).sum(1)).sum())


def _prepare(pts: np.ndarray) -> np.ndarray:
    """Drop repeated points."""
    if len(pts) < 2:
        return pts
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(np.abs(np.diff(pts, axis=0)) > 1e-9, axis=1)
    return pts[keep]


def resample(pts: np.ndarray, n: int, closed: bool = False) -> np.ndarray:
    """``n`` points evenly spaced along the polyline ``pts`` (``(m, d)``, any dimension;
    around the loop if ``closed``)."""
    pts = np.asarray(pts, float)
    if closed:
        pts = np.vstack([pts, pts[:1]])
    seg = np.sqrt((np.diff(pts, axis=0) ** 2).sum(1))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    if total <= 0:
        return np.repeat(pts[:1], n, axis=0)
    targets = np.linspace(0, total, n, endpoint=not closed)
    return np.column_stack([np.interp(targets, cum, pts[:, k]) for k in range(pts.shape[1])])


def rdp(pts: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer–Douglas–Peucker simplification of an open polyline."""
    pts = np.asarray(pts, float)
    keep = np.zeros(len(pts), bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        d = _point_line_distance(pts[i + 1 : j], pts[i], pts[j])
        k = int(np.argmax(d))
        if d[k] > epsilon:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return pts[keep]


def _point_line_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    n = math.hypot(*ab)
    if n < 1e-12:
        return np.sqrt(((p - a) ** 2).sum(1))
    return np.abs(ab[0] * (p[:, 1] - a[1]) - ab[1] * (p[:, 0] - a[0])) / n


def _segment_distances(p: np.ndarray, poly: np.ndarray, closed: bool = True) -> np.ndarray:
    """Distance of each point of ``p`` to the nearest edge of polygon/polyline ``poly``."""
    a = poly
    b = np.roll(poly, -1, axis=0) if closed else poly[1:]
    a = a if closed else poly[:-1]
    ab = b - a  # (K, 2)
    ap = p[:, None, :] - a[None, :, :]  # (N, K, 2)
    denom = (ab**2).sum(1)
    denom[denom == 0] = 1e-12
    t = np.clip((ap * ab[None]).sum(2) / denom[None], 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.sqrt(((p[:, None, :] - closest) ** 2).sum(2)).min(1)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _bbox(pts: np.ndarray) -> list[float]:
    lo, hi = pts.min(0), pts.max(0)
    return [round(float(v), 2) for v in (lo[0], lo[1], hi[0], hi[1])]


def _r(v: Any) -> Any:
    """Round numbers (and nested lists of them) for compact, readable geometry."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_r(x) for x in v]
    return round(float(v), 2)


# ---------------------------------------------------------------------------------------
# stroke joining

_Chain = list[tuple[int, bool]]  # (stroke index, reversed?) in drawing order along the outline


class _ChainInfo(NamedTuple):
    chain: _Chain
    start: np.ndarray
    end: np.ndarray
    size: float
    color: str


def _join_open_strokes(
    prepared: list[np.ndarray],
    closures: list[tuple[bool, int, int, np.ndarray] | None],
    strokes: list[dict[str, Any]],
) -> list[_Chain]:
    """Group strokes: open strokes of one colour whose ends chain into a closed loop become
    one group (a shape drawn in several strokes); every other stroke stays alone.

    Greedy: the closest pair of chain ends within tolerance joins first (on a tie, the
    earlier chains), until no pair is left. Joinable pairs wait in a heap, so a join
    only compares the new chain with the others: thousands of open strokes take a
    fraction of a second, not the minutes of comparing all pairs after each join.
    """
    n = len(prepared)
    open_ids = [i for i in range(n) if closures[i] is not None and not closures[i][0]]

    def ends(chain: _Chain) -> tuple[np.ndarray, np.ndarray]:
        (i, rev_i), (j, rev_j) = chain[0], chain[-1]
        start = prepared[i][-1] if rev_i else prepared[i][0]
        end = prepared[j][0] if rev_j else prepared[j][-1]
        return start, end

    def size(chain: _Chain) -> float:
        pts = np.concatenate([prepared[i] for i, _ in chain])
        return float(np.hypot(*np.ptp(pts, axis=0)))

    def flip(chain: _Chain) -> _Chain:
        return [(i, not r) for i, r in reversed(chain)]

    def info(chain: _Chain, color: str) -> _ChainInfo:
        return _ChainInfo(chain, *ends(chain), size(chain), color)

    def joints(earlier: list[_ChainInfo], b: _ChainInfo) -> tuple[np.ndarray, np.ndarray]:
        """For each earlier chain a: the closest of the four ways to join a and b within
        tolerance (inf if none, or another colour), and which way it is."""
        if not earlier:
            return np.zeros(0), np.zeros(0, np.int64)
        s = np.array([a.start for a in earlier])
        e = np.array([a.end for a in earlier])
        d = np.column_stack(
            [
                np.hypot(p[:, 0] - q[0], p[:, 1] - q[1])
                for p, q in ((e, b.start), (e, b.end), (s, b.start), (s, b.end))
            ]
        )
        tol = 0.12 * np.maximum([a.size for a in earlier], b.size) + 4
        same = np.array([a.color == b.color for a in earlier])
        d = np.where(same[:, None] & (d < tol[:, None]), d, np.inf)
        return d.min(axis=1), d.argmin(axis=1)

    # Chains by slot, in the order they were made (a tie goes to the earlier chains), and
    # a heap of (joint distance, slot a, slot b, way) for every joinable pair; a pair
    # whose chain has since been joined into another is skipped when it comes up.
    alive: dict[int, _ChainInfo] = {}
    heap: list[tuple[float, int, int, int]] = []
    slots = itertools.count()

    def add(new: _ChainInfo) -> None:
        earlier = list(alive)
        gaps, ways = joints([alive[k] for k in earlier], new)
        slot = next(slots)
        for k in np.flatnonzero(np.isfinite(gaps)):
            heapq.heappush(heap, (float(gaps[k]), earlier[k], slot, int(ways[k])))
        alive[slot] = new

    for i in open_ids:
        add(info([(i, False)], strokes[i]["color"]))
    closed: list[_Chain] = []
    while heap:
        _, a, b, way = heapq.heappop(heap)
        if a not in alive or b not in alive:
            continue
        first, second = alive.pop(a), alive.pop(b)
        ca, cb = first.chain, second.chain
        joined = (ca + cb, ca + flip(cb), flip(ca) + cb, cb + ca)[way]
        new = info(joined, first.color)
        if (
            np.hypot(*(new.start - new.end)) < 0.12 * new.size + 4
            or _closure(_chain_points(prepared, joined))[0]
        ):
            closed.append(joined)
        else:
            add(new)
    grouped = {i for chain in closed for i, _ in chain}
    return [[(i, False)] for i in range(n) if i not in grouped] + closed


def _chain_points(prepared: list[np.ndarray], chain: _Chain) -> np.ndarray:
    return np.concatenate([prepared[i][::-1] if rev else prepared[i] for i, rev in chain])


# ---------------------------------------------------------------------------------------
# one stroke (or chain)


def _closure(pts: np.ndarray) -> tuple[bool, int, int, np.ndarray]:
    """Is the stroke a closed outline? Returns (closed, i, j, resampled points) where the
    loop runs from resampled index ``i`` to ``j``."""
    n = 128
    rs = resample(pts, n)
    length = polyline_length(pts)
    if length <= 0:
        return False, 0, n - 1, rs
    k = int(n * 0.3)
    head, tail = rs[:k], rs[n - k :]
    d = np.sqrt(((head[:, None, :] - tail[None, :, :]) ** 2).sum(2))
    i, jj = np.unravel_index(int(np.argmin(d)), d.shape)
    j = n - k + jj
    gap = d[i, jj]
    loop_len = length * (j - i) / (n - 1)
    diag = float(np.hypot(*(rs[i : j + 1].max(0) - rs[i : j + 1].min(0))))
    # Closed: the ends meet (within a tenth of the loop), and the loop is most of the
    # stroke (what is cut off is overshoot or a tail, not half the drawing).
    closed = gap < 0.10 * loop_len and loop_len > 0.5 * length and diag > 1e-6
    return bool(closed), int(i), int(j), rs


def _recognize_points(
    pts: np.ndarray,
    force_closed: bool = False,
    closure: tuple[bool, int, int, np.ndarray] | None = None,
) -> Shape:
    """The shape of one stroke or chain; ``closure`` is ``_closure(pts)`` when known."""
    pts = _prepare(pts)
    if len(pts) < 2 or polyline_length(pts) < 2:
        p = pts[0] if len(pts) else np.zeros(2)
        geo = {
            "center": _r(p),
            "radii": [1.0, 1.0],
            "angle": 0.0,
            "bbox": _bbox(pts.reshape(-1, 2)),
        }
        return Shape("ellipse", [], geo, score=0.5, closed=True)
    closed, i, j, rs = closure or _closure(pts)
    if force_closed and not closed:
        closed, i, j = True, 0, len(rs) - 1
    if closed:
        loop = resample(rs[i : j + 1], _LOOP_POINTS, closed=True)
        fits = _closed_fits(loop)
    else:
        fits = _open_fits(resample(pts, _OPEN_POINTS))
    scored = sorted(((_score(f, fits), f) for f in fits), key=lambda t: -t[0])
    (best_score, best), rest = scored[0], scored[1:]
    runner = rest[0] if rest else (0.0, None)
    return Shape(
        kind=best.kind,
        strokes=[],
        geometry=best.geometry,
        score=round(best_score, 3),
        runner_up=runner[1].kind if runner[1] else None,
        runner_up_score=round(runner[0], 3),
        closed=closed,
    )


def _score(fit: _Fit, fits: list[_Fit]) -> float:
    """0..1 from the fit's normalised error; a polyline only scores where a line does not
    (it always fits at least as well), a blob has a fixed score that the others must beat."""
    if fit.kind == "blob":
        return _BLOB_SCORE
    score = 1.0 / (1.0 + (fit.error / _SCALE[fit.kind]) ** 4)
    if fit.kind == "polyline":
        line = next(f for f in fits if f.kind == "line")
        score *= 1.0 - _score(line, fits)
    return score


# ---------------------------------------------------------------------------------------
# fits for closed outlines


def _closed_fits(loop: np.ndarray) -> list[_Fit]:
    hull = _hull(loop)
    fits = [_fit_ellipse(loop), _fit_rectangle(loop, hull), _fit_triangle(loop, hull)]
    fits.append(_fit_polygon(loop))
    fits = [f for f in fits if f is not None]
    blob = resample(loop, 48, closed=True)
    fits.append(
        _Fit(
            "blob",
            0.0,
            {"center": _r(loop.mean(0)), "bbox": _bbox(loop), "points": _r(blob)},
        )
    )
    return fits


def fit_ellipse(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Direct least-squares ellipse fit (Fitzgibbon 1999, Halíř–Flusser's stable form).

    Returns ``(center, radii, angle)`` with ``angle`` in radians of the first radius'
    axis, or ``None`` when the points fit no ellipse.
    """
    mean = pts.mean(0)
    scale = float(pts.std(0).max()) or 1.0
    x = (pts[:, 0] - mean[0]) / scale
    y = (pts[:, 1] - mean[1]) / scale
    d1 = np.column_stack([x * x, x * y, y * y])
    d2 = np.column_stack([x, y, np.ones_like(x)])
    s1, s2, s3 = d1.T @ d1, d1.T @ d2, d2.T @ d2
    try:
        t = -np.linalg.solve(s3, s2.T)
    except np.linalg.LinAlgError:
        return None
    m = s1 + s2 @ t
    m = np.array([m[2] / 2, -m[1], m[0] / 2])
    try:
        evals, evecs = np.linalg.eig(m)
    except np.linalg.LinAlgError:
        return None
    evecs = np.real(evecs)
    cond = 4 * evecs[0] * evecs[2] - evecs[1] ** 2
    ok = np.where(cond > 0)[0]
    if len(ok) == 0:
        return None
    a1 = evecs[:, ok[0]]
    a, b, c = a1
    d, e, f = t @ a1
    den = b * b - 4 * a * c
    if den >= 0:
        return None
    x0 = (2 * c * d - b * e) / den
    y0 = (2 * a * e - b * d) / den
    f0 = a * x0 * x0 + b * x0 * y0 + c * y0 * y0 + d * x0 + e * y0 + f
    q = np.array([[a, b / 2], [b / 2, c]])
    lam, vec = np.linalg.eigh(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        radii = np.sqrt(-f0 / lam)
    if not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        return None
    center = np.array([x0, y0]) * scale + mean
    radii = radii * scale
    angle = math.atan2(vec[1, 0], vec[0, 0])
    return center, radii, angle


def _ellipse_distances(pts: np.ndarray, center, radii, angle) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    rel = pts - center
    u = (rel[:, 0] * c + rel[:, 1] * s) / radii[0]
    v = (-rel[:, 0] * s + rel[:, 1] * c) / radii[1]
    rho = np.sqrt(u * u + v * v)
    rho[rho == 0] = 1e-9
    dist_centre = np.sqrt((rel**2).sum(1))
    return np.abs(rho - 1) * dist_centre / rho


def _fit_ellipse(loop: np.ndarray) -> _Fit | None:
    fit = fit_ellipse(loop)
    if fit is None:
        return None
    center, radii, angle = fit
    err = float(_ellipse_distances(loop, center, radii, angle).mean()) / math.sqrt(radii.prod())
    if radii.max() > 4 * np.ptp(loop, axis=0).max():
        return None
    if radii[0] < radii[1]:
        radii = radii[::-1]
        angle += math.pi / 2
    angle = (math.degrees(angle) + 90) % 180 - 90
    geo = {
        "center": _r(center),
        "radii": _r(radii),
        "angle": round(angle, 2),
        "bbox": _bbox(loop),
    }
    return _Fit("ellipse", err, geo)


def _hull(loop: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    try:
        return loop[ConvexHull(loop).vertices]
    except Exception:
        return loop


def _fit_rectangle(loop: np.ndarray, hull: np.ndarray) -> _Fit | None:
    """Minimum-area bounding rectangle (rotating calipers over the convex ``hull``), shrunk
    to the 3rd–97th percentiles of the outline's offsets so that wobble does not inflate it."""
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi / 2))
    # The bounding box at every edge angle at once; the hull's extremes are the loop's.
    cos, sin = np.cos(angles), np.sin(angles)
    u = hull[:, :1] * cos + hull[:, 1:] * sin
    v = hull[:, 1:] * cos - hull[:, :1] * sin
    ang = float(angles[np.argmin(np.ptp(u, axis=0) * np.ptp(v, axis=0))])
    c, s = math.cos(ang), math.sin(ang)
    rot = loop @ np.array([[c, -s], [s, c]])
    # Robust extents: the outline's sides are where most of its points are, not the
    # extreme wobble (percentiles of each side's offset).
    lo = np.percentile(rot, 3, axis=0)
    hi = np.percentile(rot, 97, axis=0)
    size = hi - lo
    if size.min() <= 0:
        return None
    local = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    corners = local @ np.array([[c, s], [-s, c]])
    err = float(_segment_distances(loop, corners).mean()) / math.sqrt(size.prod())
    # Angle of the rectangle's first side on screen, folded so that width is along x.
    deg = math.degrees(ang)
    w, h = size
    if deg > 45:
        deg -= 90
        w, h = h, w
    geo = {
        "center": _r(corners.mean(0)),
        "size": _r([w, h]),
        "angle": round(deg, 2),
        "corners": _r(corners),
        "bbox": _bbox(loop),
    }
    return _Fit("rectangle", err, geo)


def _fit_triangle(loop: np.ndarray, hull: np.ndarray) -> _Fit | None:
    """The largest triangle inscribed in the outline's convex ``hull``."""
    if len(hull) > 24:  # enough to find the corners; keeps the search at 2,024 triples
        hull = hull[np.linspace(0, len(hull) - 1, 24).astype(int)]
    h = len(hull)
    if h < 3:
        return None
    idx = _triples(h)
    p, q, r = hull[idx[:, 0]], hull[idx[:, 1]], hull[idx[:, 2]]
    area = 0.5 * np.abs(
        (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])
    )
    best = int(np.argmax(area))
    tri = hull[idx[best]]
    a = float(area[best])
    if a <= 0:
        return None
    err = float(_segment_distances(loop, tri).mean()) / math.sqrt(a)
    geo = {"center": _r(tri.mean(0)), "corners": _r(tri), "bbox": _bbox(loop)}
    return _Fit("triangle", err, geo)


_TRIPLES: dict[int, np.ndarray] = {}


def _triples(h: int) -> np.ndarray:
    """All index triples a < b < c below ``h`` (cached: the triangle fit's search space)."""
    if h not in _TRIPLES:
        a, b, c = np.meshgrid(np.arange(h), np.arange(h), np.arange(h), indexing="ij")
        keep = (a < b) & (b < c)
        _TRIPLES[h] = np.column_stack([a[keep], b[keep], c[keep]])
    return _TRIPLES[h]


def _turning(loop: np.ndarray, window: int) -> np.ndarray:
    """Turning angle (degrees) at each point of a closed outline, over ``window`` points."""
    before = loop - np.roll(loop, window, axis=0)
    after = np.roll(loop, -window, axis=0) - loop
    a1 = np.arctan2(before[:, 1], before[:, 0])
    a2 = np.arctan2(after[:, 1], after[:, 0])
    return np.degrees(np.abs((a2 - a1 + math.pi) % (2 * math.pi) - math.pi))


def _corners(loop: np.ndarray, window: int = 4, min_turn: float = 35.0) -> list[int]:
    """Corner indices of a closed, evenly resampled outline: local maxima of the turning
    angle over ``window`` points on each side (ShortStraw's idea, with angles)."""
    n = len(loop)
    turn = _turning(loop, window)
    corners = []
    order = np.argsort(-turn)
    taken = np.zeros(n, bool)
    for idx in order:
        if turn[idx] < min_turn:
            break
        if taken[idx]:
            continue
        corners.append(int(idx))
        for o in range(-window, window + 1):
            taken[(idx + o) % n] = True
    return sorted(corners)


def _fit_polygon(loop: np.ndarray) -> _Fit | None:
    idx = _corners(loop)
    if len(idx) < 4:  # three corners are a triangle, which has its own fit
        return None
    # A corner is sharp: over half the window it keeps most of its turn. A smooth bend
    # (a blob's bulge) turns in proportion to the window and is no corner.
    wide, narrow = _turning(loop, 4)[idx], _turning(loop, 2)[idx]
    if np.any(narrow < 0.6 * wide):
        return None
    poly = loop[idx]
    area = _polygon_area(poly)
    if area <= 0:
        return None
    err = float(_segment_distances(loop, poly).mean()) / math.sqrt(area)
    geo = {"center": _r(poly.mean(0)), "corners": _r(poly), "bbox": _bbox(loop)}
    return _Fit("polygon", err, geo)


# ---------------------------------------------------------------------------------------
# fits for open strokes


def _open_fits(pts: np.ndarray) -> list[_Fit]:
    length = polyline_length(pts)
    # least-squares line through the points, clipped to their extent along it
    mean = pts.mean(0)
    _, _, vt = np.linalg.svd(pts - mean)
    direction = vt[0]
    t = (pts - mean) @ direction
    if np.dot(pts[-1] - pts[0], direction) < 0:
        direction, t = -direction, -t
    start, end = mean + t.min() * direction, mean + t.max() * direction
    line_err = float(_point_line_distance(pts, start, end).mean()) / max(length, 1e-9)
    line = _Fit(
        "line",
        line_err,
        {"start": _r(start), "end": _r(end), "center": _r((start + end) / 2), "bbox": _bbox(pts)},
    )
    diag = float(np.hypot(*np.ptp(pts, axis=0)))
    verts = rdp(pts, max(0.04 * diag, 1.0))
    poly_err = float(_segment_distances(pts, verts, closed=False).mean()) / max(length, 1e-9)
    polyline = _Fit(
        "polyline", poly_err, {"points": _r(verts), "center": _r(pts.mean(0)), "bbox": _bbox(pts)}
    )
    return [line, polyline]
