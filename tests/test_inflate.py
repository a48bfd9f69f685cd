"""Inflation (vibedraw_widget.local.mesh) and the offline ``local`` model provider.

Quality is checked on every sample sketch in tests/data with trimesh: watertight,
consistently wound, outward (``is_volume``), no degenerate faces, the silhouette along
the view axis matching the filled outline (IoU ≥ 0.97), 2k–30k triangles per part; a
drawn circle inflates to within 3% of the sphere's volume.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import trimesh
from scipy.interpolate import griddata
from shapely.ops import unary_union

from tests.fakes import FakeTaskContext
from vibedraw_widget.local import mesh as inflate
from vibedraw_widget.local.gltf import linear_rgba, meshes_to_glb
from vibedraw_widget.local.mesh import (
    find_outlines,
    sketch_frame,
    sketch_to_meshes,
    triangulate_outline,
)
from vibedraw_widget.local.mesh.inflate import inflated_mesh
from vibedraw_widget.local.mesh.outlines import clean_polygon
from vibedraw_widget.providers.base import ProviderError, Request
from vibedraw_widget.providers.local_model import LocalModelProvider
from vibedraw_widget.sketch import CLAY_COLOR, DEFAULT_COLOR

DATA = Path(__file__).parent / "data"
LABELS = json.loads((DATA / "labels.json").read_text())
CLOSED_KINDS = {"ellipse", "rectangle", "triangle", "blob"}
SAMPLES_WITH_OUTLINES = [e["name"] for e in LABELS if CLOSED_KINDS & set(e["labels"])]


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def expected_counts(entry: dict[str, Any]) -> tuple[int, int]:
    """(closed shapes, open strokes) in a sample, from its labels."""
    kinds = entry["labels"]
    closed = sum(k in CLOSED_KINDS for k in kinds)
    if entry.get("one_shape"):
        closed = 1
    return closed, sum(k not in CLOSED_KINDS for k in kinds)


def silhouette(mesh: trimesh.Trimesh) -> shapely.Geometry:
    """The mesh projected along z (the view axis): the union of its projected faces."""
    polys = shapely.polygons(mesh.triangles[:, :, :2])
    return unary_union(polys[shapely.area(polys) > 0])


def drawn_region(sketch: dict[str, Any], strokes: list[int]) -> shapely.Geometry:
    """The filled outline straight from the raw stroke points (independent of inflate's
    own cleaning): the valid polygon of the strokes' points, joined head to tail."""
    frame = sketch_frame(sketch)
    pts = [frame.to_model(sketch["strokes"][i]["points"]) for i in strokes]
    candidates = [np.concatenate(pts)]
    if len(pts) == 2:
        candidates.append(np.concatenate((pts[0], pts[1][::-1])))
    regions = []
    for c in candidates:
        valid = shapely.make_valid(shapely.Polygon(c))
        regions.append(
            unary_union([g for g in getattr(valid, "geoms", [valid]) if g.area > 0] or [valid])
        )
    return max(regions, key=lambda g: g.area)


def iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return a.intersection(b).area / a.union(b).area


def assert_clean_solid(mesh: trimesh.Trimesh, where: str) -> None:
    assert mesh.is_watertight, f"{where}: not watertight"
    assert mesh.is_winding_consistent, f"{where}: winding inconsistent"
    assert mesh.is_volume, f"{where}: not a volume (normals inward?)"
    assert mesh.volume > 0, f"{where}: negative volume"
    assert mesh.nondegenerate_faces().all(), f"{where}: degenerate faces"


def circle_stroke(
    cx: float,
    cy: float,
    r: float,
    *,
    wobble: float = 0.0,
    overshoot: float = 0.04,
    color: str = "#d03030",
    n: int = 160,
) -> dict[str, Any]:
    """A hand-drawn-like circle: slight wobble, the end running past the start."""
    t = np.linspace(0.3, 0.3 + 2 * np.pi * (1 + overshoot), n)
    rr = r + wobble * np.sin(5 * t) + 0.5 * wobble * np.cos(11 * t)
    pts = np.column_stack((cx + rr * np.cos(t), cy + rr * np.sin(t), np.full(n, 0.5)))
    return {"points": pts.tolist(), "color": color, "width": 4}


def sketch_of(*strokes: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "width": 640, "height": 480, "strokes": list(strokes), "texts": []}


def polyline_stroke(
    corners: list[tuple[float, float]],
    *,
    closed: bool = True,
    color: str = "#2a8a2a",
    per_side: int = 20,
) -> dict[str, Any]:
    p = np.asarray(corners + corners[:1] if closed else corners, dtype=float)
    pts = [
        a + (b - a) * s
        for a, b in zip(p[:-1], p[1:], strict=True)
        for s in np.linspace(0, 1, per_side, endpoint=False)
    ] + [p[-1]]
    return {"points": [[x, y, 0.5] for x, y in pts], "color": color, "width": 4}


# ------------------------------------------------------------ the sample sketches


@pytest.fixture(scope="module")
def sample_parts() -> dict[str, list[inflate.Part]]:
    return {e["name"]: sketch_to_meshes(load(e["name"])) for e in LABELS}


@pytest.mark.parametrize("entry", LABELS, ids=[e["name"] for e in LABELS])
def test_samples_give_one_inflated_part_per_closed_shape_and_a_tube_per_open_stroke(
    entry, sample_parts
):
    parts = sample_parts[entry["name"]]
    closed, open_ = expected_counts(entry)
    assert sum(p.kind == "inflated" for p in parts) == closed
    assert sum(p.kind == "tube" for p in parts) == open_
    covered = sorted(i for p in parts for i in p.strokes)
    assert covered == list(range(len(entry["labels"])))


@pytest.mark.parametrize("name", SAMPLES_WITH_OUTLINES)
def test_every_closed_sample_inflates_to_a_clean_solid_of_2k_to_30k_triangles(name, sample_parts):
    for part in sample_parts[name]:
        assert_clean_solid(part.mesh, f"{name}/{part.name}")
        if part.kind == "inflated":
            assert 2_000 <= len(part.mesh.faces) <= 30_000, len(part.mesh.faces)


@pytest.mark.parametrize("name", SAMPLES_WITH_OUTLINES)
def test_silhouette_matches_the_drawn_outline(name, sample_parts):
    sketch = load(name)
    for part in sample_parts[name]:
        if part.kind != "inflated":
            continue
        shadow = silhouette(part.mesh)
        assert iou(shadow, drawn_region(sketch, part.strokes)) >= 0.97
        assert iou(shadow, part.outline) >= 0.99


def test_open_samples_become_clean_capped_tubes(sample_parts):
    for entry in LABELS:
        for part in sample_parts[entry["name"]]:
            if part.kind == "tube":
                assert_clean_solid(part.mesh, f"{entry['name']}/{part.name}")


def test_line_tube_spans_the_line_plus_its_round_caps():
    sketch = load("line_00")
    (part,) = sketch_to_meshes(sketch)
    frame = sketch_frame(sketch)
    pts = frame.to_model(sketch["strokes"][0]["points"])
    radius = sketch["strokes"][0]["width"] / 2 * frame.scale
    chord = np.linalg.norm(pts[-1] - pts[0])
    span = np.linalg.norm(part.mesh.bounds[1, :2] - part.mesh.bounds[0, :2])
    assert chord <= span <= chord + 4 * radius
    # Round, not flat: the cross-section is about 2r thick along z.
    assert np.ptp(part.mesh.vertices[:, 2]) == pytest.approx(2 * radius, rel=0.05)


# ------------------------------------------------------------ shape of the inflation


@pytest.mark.parametrize("wobble", [0.0, 2.0])
def test_drawn_circle_inflates_to_within_3_percent_of_the_sphere_volume(wobble):
    sketch = sketch_of(circle_stroke(320, 240, 150, wobble=wobble))
    (part,) = sketch_to_meshes(sketch)
    radius = math.sqrt(drawn_region(sketch, [0]).area / math.pi)
    sphere = 4 / 3 * math.pi * radius**3
    assert abs(part.mesh.volume / sphere - 1) <= 0.03
    # And it is round in depth too: as tall as it is wide.
    assert np.ptp(part.mesh.vertices[:, 2]) / 2 == pytest.approx(radius, rel=0.02)


def test_drawn_ellipse_inflates_to_the_poisson_ellipsoid():
    # -Δu = 1 over an ellipse with semi-axes a, b; 2·sqrt(u) is an ellipsoid with
    # c = √2·ab/√(a² + b²).
    n = 200
    t = np.linspace(0, 2 * np.pi * 1.03, n)
    a_px, b_px = 220.0, 110.0
    pts = np.column_stack((320 + a_px * np.cos(t), 240 + b_px * np.sin(t), np.full(n, 0.5)))
    sketch = sketch_of({"points": pts.tolist(), "color": "#3050d0", "width": 3})
    (part,) = sketch_to_meshes(sketch)
    scale = sketch_frame(sketch).scale
    a, b = a_px * scale, b_px * scale
    c = math.sqrt(2) * a * b / math.sqrt(a * a + b * b)
    assert abs(part.mesh.volume / (4 / 3 * math.pi * a * b * c) - 1) <= 0.03
    assert part.mesh.bounds[1, 2] == pytest.approx(c, rel=0.03)


def test_detail_trades_triangles_within_2k_to_30k():
    sketch = load("blob_03")
    counts = [len(sketch_to_meshes(sketch, detail=d)[0].mesh.faces) for d in (0.1, 0.5, 1, 2, 5)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert all(2_000 <= c <= 30_000 for c in counts), counts


def test_back_mirrors_the_front_and_both_meet_at_the_outline():
    sketch = load("blob_05")
    layout = find_outlines(sketch)
    tri = triangulate_outline(layout.outlines[0].polygon)
    height = inflate.poisson_height(tri)
    assert np.all(height[: tri.n_boundary] == 0)
    assert np.all(height[tri.n_boundary :] > 0)
    mesh = inflated_mesh(tri, height)
    z = mesh.vertices[:, 2]
    assert z.max() == pytest.approx(-z.min())
    assert len(mesh.vertices) == 2 * len(tri.vertices) - tri.n_boundary


@pytest.mark.parametrize(
    "name", ["rectangle_01", "triangle_07", "blob_08", "two_strokes_triangle_00"]
)
def test_no_interior_edge_joins_two_outline_vertices(name):
    layout = find_outlines(load(name))
    tri = triangulate_outline(layout.outlines[0].polygon)
    f = tri.faces
    edges = np.sort(np.concatenate((f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]])), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    on_outline = (uniq < tri.n_boundary).all(axis=1)
    assert on_outline.any()
    assert np.all(counts[on_outline] == 1)  # only outline segments, each in one face
    assert np.all(counts[~on_outline] == 2)


def test_model_is_metres_sized_standing_on_the_floor_with_y_up():
    sketch = load("scene_snowman_00")
    parts = sketch_to_meshes(sketch)
    bounds = np.array([p.mesh.bounds for p in parts])
    lo, hi = bounds[:, 0].min(axis=0), bounds[:, 1].max(axis=0)
    assert max(hi[:2] - lo[:2]) == pytest.approx(1.0, abs=0.02)
    assert np.allclose((lo + hi)[[0, 2]] / 2, 0, atol=0.02)  # centred in x and z
    assert 0 <= lo[1] < 0.02  # on y = 0, like the code path's scenes
    # The stroke drawn highest on the canvas (smallest sketch y) is highest in the model.
    top_stroke = min(
        range(3), key=lambda i: np.mean(np.array(sketch["strokes"][i]["points"])[:, 1])
    )
    top_part = max(parts, key=lambda p: p.mesh.centroid[1])
    assert top_part.strokes == [top_stroke]


# ------------------------------------------------------------ harder outlines


HARD = {
    "figure_eight": {
        "points": [
            [320 + 200 * math.sin(t), 240 + 100 * math.sin(2 * t), 0.5]
            for t in np.linspace(0, 2 * math.pi, 200)
        ],
        "color": "#123456",
        "width": 3,
    },
    "star": polyline_stroke(
        [
            (
                320 + (200 if k % 2 == 0 else 40) * math.cos(k * math.pi / 5),
                240 + (200 if k % 2 == 0 else 40) * math.sin(k * math.pi / 5),
            )
            for k in range(10)
        ]
    ),
    "comb": polyline_stroke(
        [
            (100, 100),
            (500, 100),
            (500, 400),
            (450, 400),
            (450, 150),
            (400, 150),
            (400, 400),
            (350, 400),
            (350, 150),
            (300, 150),
            (300, 400),
            (100, 400),
        ]
    ),
    "thin_ellipse": circle_stroke(320, 240, 1, n=300)
    | {
        "points": [
            [320 + 300 * math.cos(t), 240 + 6 * math.sin(t), 0.5]
            for t in np.linspace(0, 2 * math.pi * 1.02, 300)
        ]
    },
    "tiny_circle": circle_stroke(320, 240, 3, n=30),
    "spiky": polyline_stroke(
        [
            (
                320 + (200 if k % 2 == 0 else 150) * math.cos(k * math.pi / 40),
                240 + (200 if k % 2 == 0 else 150) * math.sin(k * math.pi / 40),
            )
            for k in range(80)
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(HARD))
def test_hard_outlines_inflate_to_clean_solids_matching_the_drawing(name):
    sketch = sketch_of(HARD[name])
    (part,) = sketch_to_meshes(sketch)
    assert part.kind == "inflated"
    assert_clean_solid(part.mesh, name)
    assert iou(silhouette(part.mesh), drawn_region(sketch, [0])) >= 0.97


def test_self_overlapping_loop_is_resolved_into_a_valid_polygon():
    poly = clean_polygon(np.array(HARD["figure_eight"]["points"])[:, :2])
    assert poly is not None and poly.is_valid
    assert len(getattr(poly, "geoms", [poly])) == 2  # the two lobes


def test_two_strokes_meeting_end_to_end_form_one_outline():
    layout = find_outlines(load("two_strokes_rectangle_00"))
    assert [o.strokes for o in layout.outlines] == [[0, 1]] and not layout.tubes


def test_nested_outline_is_a_separate_part_raised_on_its_container():
    face = circle_stroke(320, 240, 180, color="#ffcc00")
    eye = circle_stroke(260, 190, 28, color="#000000")
    parts = sketch_to_meshes(sketch_of(face, eye))
    head, lens = parts
    assert [head.strokes, lens.strokes] == [[0], [1]]
    assert_clean_solid(lens.mesh, "eye")
    # Where the eye is, it stands out of the head's front surface.
    mid = head.mesh.centroid[2]
    front = head.mesh.vertices[head.mesh.vertices[:, 2] >= mid]
    top = lens.mesh.vertices[lens.mesh.vertices[:, 2].argmax()]
    surface_z = griddata(front[:, :2], front[:, 2], top[None, :2], method="linear")[0]
    assert top[2] > surface_z + 0.01
    assert lens.mesh.vertices[:, 2].min() > head.mesh.vertices[:, 2].min()


def test_open_stroke_inside_an_outline_lies_on_its_surface():
    face = circle_stroke(320, 240, 180, color="#ffcc00")
    t = np.linspace(0.2 * np.pi, 0.8 * np.pi, 40)
    smile = {
        "points": np.column_stack((320 + 80 * np.cos(t), 250 + 60 * np.sin(t))).tolist(),
        "color": "#000000",
        "width": 4,
    }
    head, mouth = sketch_to_meshes(sketch_of(face, smile))
    assert mouth.kind == "tube"
    assert mouth.mesh.vertices[:, 2].min() > 0.5 * head.mesh.vertices[:, 2].max()


def test_overlapping_outlines_of_one_colour_are_unioned():
    parts = sketch_to_meshes(sketch_of(circle_stroke(250, 240, 120), circle_stroke(400, 240, 120)))
    (part,) = parts
    assert part.strokes == [0, 1]
    assert_clean_solid(part.mesh, "union")


def test_overlapping_outlines_of_different_colours_are_layered_by_draw_order():
    first = circle_stroke(250, 240, 120, color="#d03030")
    second = circle_stroke(400, 240, 120, color="#3030d0")
    a, b = sketch_to_meshes(sketch_of(first, second))
    assert b.mesh.bounds[1, 2] > a.mesh.bounds[1, 2]  # the later one in front


def test_a_dot_becomes_a_ball():
    (part,) = sketch_to_meshes(
        sketch_of({"points": [[100, 100, 0.5]], "color": "#000", "width": 6})
    )
    assert_clean_solid(part.mesh, "dot")
    assert np.ptp(part.mesh.vertices, axis=0) == pytest.approx([1, 1, 1], rel=0.02)


def test_empty_sketch_gives_no_parts_and_an_empty_glb_scene():
    assert sketch_to_meshes(sketch_of()) == []
    scene = trimesh.load(io.BytesIO(meshes_to_glb([])), file_type="glb")
    assert len(scene.geometry) == 0


# ------------------------------------------------------------ GLB


def test_parts_cross_a_process_boundary_as_their_arrays_only():
    parts = sketch_to_meshes(load("scene_snowman_00"))
    glb = meshes_to_glb(parts)
    pickled = pickle.dumps(parts)
    back = pickle.loads(pickled)
    assert meshes_to_glb(back) == glb
    assert [(p.name, p.kind, p.strokes, p.color) for p in back] == [
        (p.name, p.kind, p.strokes, p.color) for p in parts
    ]
    # A whole Trimesh pickles its caches too, several times the GLB's size.
    assert len(pickled) < 2 * len(glb)


def read_glb_json(glb: bytes) -> dict[str, Any]:
    magic, version, length = np.frombuffer(glb[:12], "<u4")
    assert (magic, version, length) == (0x46546C67, 2, len(glb))
    size = int(np.frombuffer(glb[12:16], "<u4")[0])
    return json.loads(glb[20 : 20 + size])


def test_glb_has_one_named_node_per_part_and_a_material_per_colour():
    sketch = load("scene_house_00")
    parts = sketch_to_meshes(sketch)
    doc = read_glb_json(meshes_to_glb(parts))
    assert [n["name"] for n in doc["nodes"]] == [p.name for p in parts]
    assert [n["extras"]["strokes"] for n in doc["nodes"]] == [p.strokes for p in parts]
    colours = {s["color"] for s in sketch["strokes"]}
    assert len(doc["materials"]) == len(colours)
    wanted = linear_rgba(sketch["strokes"][0]["color"])
    assert (
        doc["materials"][doc["meshes"][0]["primitives"][0]["material"]]["pbrMetallicRoughness"][
            "baseColorFactor"
        ]
        == wanted
    )


def test_glb_loads_in_trimesh_with_the_same_geometry():
    parts = sketch_to_meshes(load("scene_sun_and_ground_00"))
    scene = trimesh.load(io.BytesIO(meshes_to_glb(parts)), file_type="glb")
    assert sorted(scene.graph.nodes_geometry) == sorted(p.name for p in parts)
    dumped = {name: scene.geometry[scene.graph[name][1]] for name in scene.graph.nodes_geometry}
    for part in parts:
        loaded = dumped[part.name]
        assert len(loaded.faces) == len(part.mesh.faces)
        assert np.allclose(loaded.bounds, part.mesh.bounds, atol=1e-5)
        assert loaded.is_watertight and loaded.is_volume


# ------------------------------------------------------------ the provider


def make(request: Request, ctx: FakeTaskContext) -> bytes:
    return asyncio.run(LocalModelProvider().make_model(request, ctx))


def test_provider_reports_the_stages_in_order_and_returns_a_glb():
    ctx = FakeTaskContext()
    glb = make(Request("model", sketch=load("scene_tree_00")), ctx)
    stages = [s for s, _, _ in ctx.progress_events]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "tracing",
        "triangulating",
        "inflating",
        "exporting",
    ]
    fractions = [p for _, p, _ in ctx.progress_events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert ctx.calls == [
        "find_outlines",
        "triangulate_outline",
        "triangulate_outline",
        "inflate_layout",
        "meshes_to_glb",
    ]
    assert [p["name"] for p in ctx.result["parts"]] == ["outline_0", "outline_1"]
    assert read_glb_json(glb)["nodes"][0]["name"] == "outline_0"


def test_provider_traces_a_png_when_no_sketch_was_sent():
    png = (DATA / "ellipse_04.png").read_bytes()
    ctx = FakeTaskContext()
    request = Request("model", image=png)
    glb = make(request, ctx)
    assert ctx.calls[0] == "trace_sketch" and ctx.progress_events[0][0] == "tracing"
    assert request.sketch is not None
    (part,) = ctx.result["parts"]
    assert part["kind"] == "inflated"
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    (mesh,) = scene.geometry.values()
    assert mesh.is_watertight and mesh.is_volume


def test_provider_honours_the_detail_option():
    low, high = FakeTaskContext(), FakeTaskContext()
    make(Request("model", sketch=load("ellipse_01"), options={"detail": 0.5}), low)
    make(Request("model", sketch=load("ellipse_01"), options={"detail": 3}), high)
    assert low.result["triangles"] * 3 < high.result["triangles"]


@pytest.mark.parametrize("options", [{"detail": "high"}, {"detail": 0}, {"size": float("nan")}])
def test_provider_rejects_bad_options_naming_the_field(options):
    with pytest.raises(ProviderError, match=f"options.{next(iter(options))}"):
        make(Request("model", sketch=load("ellipse_01"), options=options), FakeTaskContext())


def test_provider_refuses_an_empty_sketch():
    with pytest.raises(ProviderError, match="no strokes"):
        make(Request("model", sketch=sketch_of()), FakeTaskContext())


def test_cancelling_stops_before_the_next_stage():
    ctx = FakeTaskContext(cancel_at=2)  # while the second outline is being triangulated
    with pytest.raises(asyncio.CancelledError):
        make(Request("model", sketch=load("scene_tree_00")), ctx)
    assert ctx.calls == ["find_outlines", "triangulate_outline"]
    assert {s for s, _, _ in ctx.progress_events} <= {"tracing", "triangulating"}


# ------------------------------------------------------------ through the engine


def run_in_engine(spec_kwargs: dict[str, Any], cancel_on_stage: str | None = None):
    """Submit a local model task to a real engine with a *process* pool (spawned workers,
    so every stage and its data must pickle); returns (events, glb bytes or None)."""
    from vibedraw_widget.engine.runner import Engine
    from vibedraw_widget.engine.tasks import TaskSpec
    from vibedraw_widget.settings import Settings

    async def go():
        engine = Engine(Settings(cpu_pool="process", cpu_workers=1))
        try:
            record = await engine.submit(TaskSpec("model", provider="local", **spec_kwargs))
            events = []
            async for event in engine.follow(record.task_id):
                events.append(event)
                if cancel_on_stage and event.data.get("stage") == cancel_on_stage:
                    asyncio.get_running_loop().create_task(engine.cancel(record.task_id))
            return events, await engine.glb(record.task_id)
        finally:
            await engine.close()

    return asyncio.run(go())


def test_engine_runs_the_stages_in_worker_processes_and_stores_the_glb():
    events, glb = run_in_engine({"sketch": load("scene_tree_01")})
    assert events[-1].type == "complete", events[-1].data
    stages = [e.data["stage"] for e in events if e.type == "progress"]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "tracing",
        "triangulating",
        "inflating",
        "exporting",
    ]
    assert events[-1].data["glb_size"] == len(glb)
    assert [p["name"] for p in events[-1].data["parts"]] == ["outline_0", "outline_1"]
    assert len(trimesh.load(io.BytesIO(glb), file_type="glb").geometry) == 2


def test_engine_cancel_stops_the_local_model_between_stages():
    circles = [circle_stroke(60 + 100 * k, 240, 40) for k in range(6)]
    events, glb = run_in_engine(
        {"sketch": sketch_of(*circles), "options": {"detail": 4.0}}, cancel_on_stage="triangulating"
    )
    assert events[-1].type == "cancelled"
    assert "exporting" not in {e.data.get("stage") for e in events}
    assert glb is None


def test_default_ink_is_clay_grey_on_the_mesh_not_black():
    sketch = load("rectangle_00")
    assert sketch["strokes"][0]["color"] == DEFAULT_COLOR
    parts = sketch_to_meshes(sketch)
    (material,) = read_glb_json(meshes_to_glb(parts))["materials"]
    grey = int(CLAY_COLOR[1:3], 16) / 255
    linear = ((grey + 0.055) / 1.055) ** 2.4
    assert material["pbrMetallicRoughness"]["baseColorFactor"][0] == pytest.approx(linear, 1e-4)
    assert parts[0].color == DEFAULT_COLOR  # the part still says what was drawn
