"""Trace a PNG drawing back into strokes, so that a picture works wherever a sketch does.

The image is thresholded against its background colour and split into colour layers
(one per pen colour). In each layer every connected piece of ink is traced:

* each **hole** the ink encloses is a closed stroke: the hole grown by half the pen width
  is the stroke's centre line, followed by Moore-neighbour boundary tracing. A closed
  outline's overshoot, tails and touching neighbours therefore do not disturb it;
* ink left over (a piece without a hole, or a long open part hanging off a closed one) is
  **thinned** (Zhang–Suen) and its skeleton's longest path followed as an open stroke.

Specks smaller than :data:`MIN_FEATURE_PX` (stray pixels) and rows of short pieces (a line
of text: the pad renders ``texts`` as small glyphs) are ignored; text is not read back.
The result is a sketch dict (docs/protocol.md, The sketch) with the pen colour and an
estimated width per stroke.
"""

from __future__ import annotations

import io
from collections import deque
from typing import Any

import numpy as np
from scipy import ndimage

from .format import LABEL_SIZE

MIN_FEATURE_PX = 14
TEXT_PX = int(1.2 * LABEL_SIZE)
"""A glyph of a label (drawn at :data:`~vibedraw_widget.sketch.format.LABEL_SIZE`) is at
most this tall: rows of pieces this short are text, not strokes."""
"""Ink whose bounding box is smaller than this on both sides is ignored."""
INK_THRESHOLD = 60
"""Minimum per-channel difference from the background for a pixel to count as ink."""
POINT_SPACING = 3
"""Traced strokes keep about one point per this many pixels of outline."""

_EIGHT = np.ones((3, 3), bool)
# Moore neighbourhood, clockwise on screen (y down): E, SE, S, SW, W, NW, N, NE.
_DIRS = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
_DIR_INDEX = {d: i for i, d in enumerate(_DIRS)}


def trace_png(png_bytes: bytes) -> dict[str, Any]:
    """Strokes traced from a PNG drawing, as a sketch dict (``texts`` empty)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png_bytes))
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent pixels are background: composite onto white first.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    height, width = rgb.shape[:2]
    background = _background(rgb)
    ink = _channel_max(np.abs(rgb - background)) > INK_THRESHOLD
    strokes: list[dict[str, Any]] = []
    for color, layer in _color_layers(rgb, ink):
        strokes += _trace_layer(layer, color)
    # Unknown drawing order: big shapes first, as people usually draw them.
    strokes.sort(key=lambda s: -s.pop("_size"))
    return {
        "version": 1,
        "width": int(width),
        "height": int(height),
        "background": _hex(background),
        "strokes": strokes,
        "texts": [],
    }


# ---------------------------------------------------------------------------------------
# colours


def _background(rgb: np.ndarray) -> np.ndarray:
    """The most common colour of the image border."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colors, counts = np.unique(border, axis=0, return_counts=True)
    return colors[int(np.argmax(counts))]


def _channel_max(a: np.ndarray) -> np.ndarray:
    """The largest of the three colour channels (last axis). Same as ``a.max(axis=-1)``,
    about three times faster: numpy reduces a short last axis slowly."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _hex(color: np.ndarray) -> str:
    r, g, b = (int(max(0, min(255, round(float(c))))) for c in color)
    return f"#{r:02x}{g:02x}{b:02x}"


def _color_layers(rgb: np.ndarray, ink: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Split the ink into one mask per pen colour.

    Pen colours are the frequent colours of the ink (antialiased edge pixels are rare
    blends and do not become colours of their own); every ink pixel joins the nearest.
    """
    pixels = rgb[ink]
    if len(pixels) == 0:
        return []
    colors, counts = np.unique(pixels, axis=0, return_counts=True)
    order = np.argsort(-counts)
    centers: list[np.ndarray] = []
    for idx in order:
        if counts[idx] < max(20, 0.01 * len(pixels)) and centers:
            break
        c = colors[idx].astype(float)
        if all(np.abs(c - other).max() > 48 for other in centers):
            centers.append(c)
        if len(centers) >= 16:
            break
    center_arr = np.array(centers)
    dist = _channel_max(np.abs(pixels[:, None, :] - center_arr[None]))
    nearest = np.argmin(dist, axis=1)
    layers = []
    ys, xs = np.nonzero(ink)
    for k, center in enumerate(center_arr):
        mask = np.zeros_like(ink)
        sel = nearest == k
        mask[ys[sel], xs[sel]] = True
        layers.append((_hex(center), mask))
    return layers


# ---------------------------------------------------------------------------------------
# tracing one colour layer


def _text_like(boxes: list[tuple[slice, slice]]) -> set[int]:
    """Indices of boxes that look like glyphs of a line of text: short pieces chained side
    by side on one line, three or more in a chain (so a word's first letter counts too)."""
    short = [
        k
        for k, b in enumerate(boxes)
        if b is not None
        and b[0].stop - b[0].start < TEXT_PX
        and b[1].stop - b[1].start < 6 * MIN_FEATURE_PX
    ]

    def beside(k: int, j: int) -> bool:
        (ky, kx), (jy, jx) = boxes[k], boxes[j]
        gap = min(abs(jx.start - kx.stop), abs(kx.start - jx.stop))
        return jy.start < ky.stop and ky.start < jy.stop and gap < MIN_FEATURE_PX

    chain = {k: k for k in short}  # union-find over pieces that sit side by side

    def root(k: int) -> int:
        while chain[k] != k:
            chain[k] = chain[chain[k]]
            k = chain[k]
        return k

    for i, k in enumerate(short):
        for j in short[i + 1 :]:
            if beside(k, j):
                chain[root(k)] = root(j)
    sizes: dict[int, int] = {}
    for k in short:
        sizes[root(k)] = sizes.get(root(k), 0) + 1
    return {k for k in short if sizes[root(k)] >= 3}


def _trace_layer(layer: np.ndarray, color: str) -> list[dict[str, Any]]:
    labels, count = ndimage.label(layer, structure=_EIGHT)
    out: list[dict[str, Any]] = []
    boxes = ndimage.find_objects(labels)
    text = _text_like(boxes)
    for index, box in enumerate(boxes, start=1):
        if box is None or index - 1 in text:
            continue
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        if max(h, w) < MIN_FEATURE_PX:
            continue
        # Work on the component's box with a margin, in local coordinates.
        pad = 4
        y0, x0 = box[0].start - pad, box[1].start - pad
        comp = np.pad(labels[box] == index, pad)
        out += _trace_component(comp, color, x0, y0)
    return out


def _pen_width(comp: np.ndarray) -> float:
    """The ink's width: twice the distance to the edge along its middle."""
    dist = ndimage.distance_transform_edt(comp)
    inner = dist[comp]
    return float(max(1.0, 2 * np.percentile(inner, 90) - 0.5))


def _trace_component(comp: np.ndarray, color: str, x0: int, y0: int) -> list[dict[str, Any]]:
    pen = _pen_width(comp)
    strokes = []
    filled = ndimage.binary_fill_holes(comp)
    holes, n_holes = ndimage.label(filled & ~comp)
    covered = np.zeros_like(comp)
    min_hole = max(12.0, (1.5 * pen) ** 2)
    for k in range(1, n_holes + 1):
        hole = holes == k
        if hole.sum() < min_hole:
            continue
        # The centre line of the ink around the hole: the hole grown by half a pen width.
        grow = ndimage.distance_transform_edt(~hole) <= pen / 2 + 0.5
        contour = _boundary(grow)
        if len(contour) < 8:
            continue
        points = contour[:: max(1, POINT_SPACING)]
        points = np.vstack([points, points[:1]])
        strokes.append(_stroke(points, color, pen, x0, y0))
        covered |= grow
    if strokes:
        # Ink not explained by a closed outline: keep the long open parts only.
        near = ndimage.distance_transform_edt(~covered) <= pen + 1.5
        rest = comp & ~near
        labels, count = ndimage.label(rest, structure=_EIGHT)
        biggest = max(np.ptp(s["_local"], axis=0).max() for s in strokes)
        for k, box in enumerate(ndimage.find_objects(labels), start=1):
            extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
            if extent >= max(MIN_FEATURE_PX, 3 * pen, 0.3 * biggest):
                strokes += _open_strokes(labels == k, color, pen, x0, y0)
    else:
        strokes = _open_strokes(comp, color, pen, x0, y0)
    for s in strokes:
        s.pop("_local", None)
    return strokes


def _open_strokes(mask: np.ndarray, color: str, pen: float, x0: int, y0: int) -> list[dict]:
    skeleton = thin(mask)
    path = _longest_path(skeleton)
    if len(path) < 2:
        return []
    points = path[:: max(1, POINT_SPACING)]
    if not np.array_equal(points[-1], path[-1]):
        points = np.vstack([points, path[-1:]])
    return [_stroke(points, color, pen, x0, y0)]


def _stroke(points: np.ndarray, color: str, pen: float, x0: int, y0: int) -> dict[str, Any]:
    """A sketch stroke from local (row, col) pixel points."""
    xy = np.column_stack([points[:, 1] + x0 + 0.5, points[:, 0] + y0 + 0.5])
    size = float(np.ptp(xy, axis=0).max()) if len(xy) else 0.0
    return {
        "points": [[round(float(x), 2), round(float(y), 2), 0.5] for x, y in xy],
        "color": color,
        "width": round(pen, 1),
        "_size": size,
        "_local": points,
    }


# ---------------------------------------------------------------------------------------
# image primitives


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang–Suen thinning: a one-pixel-wide, 8-connected skeleton of ``mask``."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p2 = img[:-2, 1:-1]
            p3 = img[:-2, 2:]
            p4 = img[1:-1, 2:]
            p5 = img[2:, 2:]
            p6 = img[2:, 1:-1]
            p7 = img[2:, :-2]
            p8 = img[1:-1, :-2]
            p9 = img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            neighbours = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            transitions = sum(
                ((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.uint8) for i in range(8)
            )
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (
                (img[1:-1, 1:-1] == 1)
                & (neighbours >= 2)
                & (neighbours <= 6)
                & (transitions == 1)
                & side
            )
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _longest_path(skeleton: np.ndarray) -> np.ndarray:
    """The longest shortest path through a skeleton (its "diameter"), as (row, col) points.
    Spurs and small loops of the skeleton fall away."""
    pixels = list(zip(*np.nonzero(skeleton), strict=True))
    if not pixels:
        return np.zeros((0, 2))
    on = set(pixels)

    def bfs(start: tuple[int, int]) -> tuple[tuple[int, int], dict]:
        parent = {start: None}
        queue = deque([start])
        last = start
        while queue:
            p = queue.popleft()
            last = p
            for dy, dx in _DIRS:
                q = (p[0] + dy, p[1] + dx)
                if q in on and q not in parent:
                    parent[q] = p
                    queue.append(q)
        return last, parent

    far, _ = bfs(pixels[0])
    other, parent = bfs(far)
    path = []
    node = other
    while node is not None:
        path.append(node)
        node = parent[node]
    return np.array(path[::-1], dtype=float)


def _boundary(mask: np.ndarray) -> np.ndarray:
    """The outer boundary of the largest blob of ``mask``, in order (Moore-neighbour tracing),
    as (row, col) points."""
    labels, count = ndimage.label(mask, structure=_EIGHT)
    if count > 1:
        sizes = ndimage.sum(mask, labels, range(1, count + 1))
        mask = labels == (1 + int(np.argmax(sizes)))
    img = np.pad(mask, 1)
    rows, cols = np.nonzero(img)
    if len(rows) == 0:
        return np.zeros((0, 2))
    start = (int(rows[0]), int(cols[0]))  # topmost, then leftmost: its west is background
    contour = [start]
    p, back = start, 4  # came from the west
    first_move = None
    for _ in range(4 * img.size):
        for i in range(1, 9):
            k = (back + i) % 8
            q = (p[0] + _DIRS[k][0], p[1] + _DIRS[k][1])
            if img[q]:
                prev = (back + i - 1) % 8
                b = (p[0] + _DIRS[prev][0] - q[0], p[1] + _DIRS[prev][1] - q[1])
                back = _DIR_INDEX[b]
                p = q
                break
        else:
            break  # an isolated pixel
        if first_move is None:
            first_move = (p, back)
        elif (p, back) == first_move:
            break
        contour.append(p)
    pts = np.array(contour[:-1] if len(contour) > 1 else contour, dtype=float)
    return pts - 1  # undo the padding
