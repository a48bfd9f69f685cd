"""generate / generate_many / Result on a private in-process engine with test providers."""

from __future__ import annotations

import _thread
import asyncio
import base64
import gzip
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vibedraw_widget.batch import generate, generate_many
from vibedraw_widget.engine.background import BackgroundEngine
from vibedraw_widget.providers import registry
from vibedraw_widget.providers.base import CodeProvider, ProviderError, Request, TaskContext
from vibedraw_widget.result import LABEL_LENGTH, GenerationError, Result
from vibedraw_widget.settings import Settings
from vibedraw_widget.sketch import Sketch, SketchError, render_png
from vibedraw_widget.viewer import gallery

DATA = Path(__file__).parent / "data"


class PerInputCode(CodeProvider):
    """Behaves as each sketch's text label says: ``n=K`` chunks, ``fail``, ``hang``,
    ``interrupt`` (Ctrl+C the main thread, then hang); says whether it got an image."""

    name = "per-input"

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        label = request.full_prompt
        yield "// image\n" if request.sketch is None else "// sketch\n"
        if "fail" in label:
            raise ProviderError("this input was told to fail", "ValueError")
        if "interrupt" in label:
            _thread.interrupt_main()  # what Ctrl+C / the notebook's stop button does
        if "hang" in label or "interrupt" in label:
            await asyncio.Event().wait()
        count = int(label.split("n=")[1].split()[0]) if "n=" in label else 1
        for i in range(count):
            yield f"// part {i}\n"


@pytest.fixture(autouse=True)
def per_input_provider(test_providers, monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, ("code", "per-input"), "tests.test_batch:PerInputCode")
    registry.provider_classes.cache_clear()


@pytest.fixture
def bg():
    """A private background engine (thread CPU pool), closed after the test."""
    engine = BackgroundEngine(
        Settings(cpu_pool="thread", code_provider="scripted", model_provider="scripted")
    )
    yield engine
    engine.call_sync(engine.engine.close())
    engine.loop.call_soon_threadsafe(engine.loop.stop)


def sketch(label: str = "") -> dict:
    data = json.loads((DATA / "ellipse_00.json").read_text())
    data["texts"] = [{"x": 5, "y": 5, "text": label}] if label else []
    return data


class RecordingBar:
    """A tqdm stand-in that records updates; optionally raises Ctrl+C at update N."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.updates = 0
        self.postfix = ""
        self.closed = False
        self.lines: list[str] = []
        self.interrupt_at = interrupt_at

    def update(self, n: int = 1) -> None:
        self.updates += n
        if self.updates == self.interrupt_at:
            raise KeyboardInterrupt

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def write(self, line: str) -> None:
        self.lines.append(line)

    def close(self) -> None:
        self.closed = True


# -- generate -----------------------------------------------------------------------------


def test_generate_code_returns_the_streamed_code_usage_and_timings(bg):
    result = generate(DATA / "ellipse_00.json", provider="scripted", prompt="n=4", engine=bg)
    assert result.ok and result.status == "completed"
    assert result.kind == "code" and result.provider == "scripted"
    assert result.source == "ellipse_00.json"
    deltas = [e.data["text"] for e in result.events if e.type == "delta"]
    assert len(deltas) == 4
    assert result.code == result.content == "".join(deltas)
    assert result.usage == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert set(result.timings) >= {"queued", "run", "total", "first_output"}
    assert 0 <= result.timings["first_output"] <= result.timings["run"] <= result.timings["total"]
    assert result.sketch == Sketch.from_any(DATA / "ellipse_00.json").to_dict()
    assert "Result code completed 'ellipse_00.json' provider=scripted" in repr(result)
    # A quick task's time in milliseconds, a slow one's in seconds (set here: the machine's
    # load must not decide the assertion).
    result.timings["total"] = 0.25
    assert repr(result).endswith(" 250 ms>")
    result.timings["total"] = 6.5
    assert repr(result).endswith(" 6.50 s>")


@pytest.mark.parametrize(
    "make_input, expect",
    [
        (lambda: sketch(), "// sketch\n"),
        (lambda: Sketch.from_dict(sketch()), "// sketch\n"),
        (lambda: json.dumps(sketch()), "// sketch\n"),
        (lambda: str(DATA / "ellipse_00.json"), "// sketch\n"),
        (lambda: DATA / "ellipse_00.png", "// image\n"),
        (lambda: (DATA / "ellipse_00.png").read_bytes(), "// image\n"),
    ],
    ids=["dict", "Sketch", "json-text", "json-path", "png-path", "png-bytes"],
)
def test_generate_accepts_every_input_form(bg, make_input, expect):
    result = generate(make_input(), provider="per-input", engine=bg)
    assert result.ok, result.error
    assert result.code.startswith(expect)
    # PNGs go to the provider untraced (it traces in the CPU pool), so no input sketch
    # here: the result keeps the image, which a gallery shows as the cell's thumbnail.
    assert (result.sketch is None) == (expect == "// image\n") == (result.image is not None)
    if result.image is not None:
        assert base64.b64encode(result.image).decode() in gallery([result]).to_html()


def test_generate_model_returns_glb_bytes_and_saves_them(bg, tmp_path):
    result = generate(sketch(), kind="model", engine=bg)
    assert result.ok and result.kind == "model"
    assert result.glb[:4] == b"glTF"
    assert [e.data["stage"] for e in result.events if e.type == "progress"][:3] == [
        "tracing",
        "triangulating",
        "inflating",
    ]
    assert result.save(tmp_path / "m.glb").read_bytes() == result.glb
    shell = result.save(tmp_path / "m.html").read_text()  # docs/preview.md: shell, runtime
    page = json.loads(shell.split('id="vd-page">')[1].split("</script>")[0])["page"]
    (spec,) = json.loads(page.split('id="vd-config">')[1].split("</script>")[0])["objects"]
    assert gzip.decompress(base64.b64decode(spec["glb_gzip"])) == result.glb  # all of it
    with pytest.raises(ValueError, match="has no code"):
        result.save(tmp_path / "m.js")
    assert sorted(p.name for p in result.save_all(tmp_path / "out", "house")) == [
        "house.glb",
        "house.html",
    ]


def test_mesh_is_the_user_facing_name_of_the_model_kind(bg):
    """The pad's button says "Make mesh": kind="mesh" is a model task, reported as model."""
    result = generate(sketch(), kind="mesh", engine=bg)
    assert result.ok and result.kind == "model" and result.glb[:4] == b"glTF"
    (many,) = generate_many([sketch()], kind="mesh", progress=False, engine=bg)
    assert many.ok and many.kind == "model"


def test_generate_improve_returns_the_redrawn_sketch(bg, tmp_path):
    result = generate(sketch(), kind="improve", engine=bg)
    assert result.ok and result.code is None
    assert result.improved == sketch()
    saved = json.loads(result.save(tmp_path / "clean.json").read_text())
    assert saved == sketch()
    assert "<img" in result._repr_html_() and "<script" not in result._repr_html_()


def test_generate_edit_needs_code_and_passes_it(bg):
    with pytest.raises(ValueError, match="code="):
        generate(sketch(), kind="edit", engine=bg)
    result = generate(sketch(), kind="edit", code="return new THREE.Group();", engine=bg)
    assert result.ok and result.kind == "edit"


def test_a_failed_task_is_a_failed_result_not_an_exception(bg, tmp_path):
    result = generate(sketch(), provider="failing", engine=bg)
    assert result.status == "failed" and not result.ok
    assert "the provider broke" in result.error
    assert result.error_type == "RuntimeError"
    with pytest.raises(GenerationError, match="the provider broke"):
        result.raise_for_status()
    assert "the provider broke" in result._repr_html_()
    assert [p.name for p in result.save_all(tmp_path, "x")] == ["x.error.txt"]
    with pytest.raises(ValueError, match="nothing to save"):
        result.save(tmp_path / "x.js")


def test_an_unknown_provider_is_a_failed_result_naming_the_known_ones(bg):
    result = generate(sketch(), provider="nope", engine=bg)
    assert result.status == "failed" and result.error_type == "UnknownProvider"
    assert "scripted" in result.error


def test_invalid_input_and_arguments_raise_at_once(bg, tmp_path):
    with pytest.raises(SketchError, match="no such file"):
        generate(tmp_path / "missing.json", engine=bg)
    with pytest.raises(SketchError, match="strokes"):
        generate({"strokes": "no"}, engine=bg)
    with pytest.raises(SketchError, match="width"):  # a Sketch is checked too
        generate(Sketch(width=0), engine=bg)
    with pytest.raises(ValueError, match="kind='video'.*mesh"):
        generate(sketch(), kind="video", engine=bg)


def test_generate_blocks_fine_inside_a_running_event_loop(bg):
    """A notebook cell runs inside a loop: generate() must not need that loop."""

    async def cell() -> Result:
        asyncio.get_running_loop()  # we are inside a running loop, as in a notebook
        return generate(sketch(), provider="scripted", engine=bg)

    assert asyncio.run(cell()).ok


# -- generate_many -----------------------------------------------------------------------


def test_generate_many_keeps_input_order_and_captures_each_failure(bg, tmp_path):
    inputs = [
        sketch("n=5"),
        sketch("fail"),
        tmp_path / "missing.json",
        sketch("n=1"),
        render_png(sketch()),
        json.dumps(sketch("n=3")),  # JSON text, longer than any file name can be
    ]
    bar = RecordingBar()
    results = generate_many(inputs, provider="per-input", concurrency=2, progress=bar, engine=bg)
    assert [r.status for r in results] == [
        "completed",
        "failed",
        "failed",
        "completed",
        "completed",
        "completed",
    ]
    assert [r.code.count("part") if r.ok else None for r in results] == [5, None, None, 1, 1, 3]
    assert results[1].error == "this input was told to fail"
    assert "no such file" in results[2].error and results[2].source == "missing.json"
    assert results[4].code.startswith("// image")
    assert bar.updates == len(inputs) and bar.postfix == "2 failed" and bar.closed


def test_generate_many_expands_a_directory_in_sorted_order(bg, tmp_path):
    for name in ("b.json", "a.json", "c.png"):
        path = tmp_path / name
        if name.endswith(".png"):
            path.write_bytes(render_png(sketch()))
        else:
            path.write_text(json.dumps(sketch()))
    (tmp_path / "notes.txt").write_text("not a sketch")
    results = generate_many(tmp_path, progress=False, engine=bg)
    assert [r.source for r in results] == ["a.json", "b.json", "c.png"]
    assert all(r.ok for r in results)
    # A glob pattern, as a string (a quoted shell glob arrives so too).
    matched = generate_many(str(tmp_path / "*.json"), progress=False, engine=bg)
    assert [r.source for r in matched] == ["a.json", "b.json"]
    (nothing,) = generate_many(str(tmp_path / "*.svg"), progress=False, engine=bg)
    assert nothing.status == "failed" and "no such file" in nothing.error


def test_generate_many_runs_at_most_concurrency_tasks_at_once(bg):
    results = generate_many([sketch()] * 6, kind="model", concurrency=2, progress=False, engine=bg)
    assert all(r.ok and r.glb[:4] == b"glTF" for r in results)
    spans = sorted(
        (r.events[0].time, r.events[-1].time) for r in results
    )  # start .. terminal event of each task
    for start, _ in spans:
        running = sum(s <= start < e for s, e in spans)
        assert running <= 2


def _assert_cancelled_in_engine(bg, results):
    for result in results:
        assert result.status == "cancelled"
        if result.task_id is not None:  # submitted before the interrupt: its task was stopped
            record = bg.call_sync(bg.engine.get(result.task_id))
            assert record.status == "cancelled"


def test_interrupting_generate_many_cancels_the_rest_and_returns_what_finished(bg):
    bar = RecordingBar(interrupt_at=2)  # Ctrl+C while the progress bar shows 2 done
    inputs = [sketch("n=1"), sketch("hang"), sketch("n=2"), sketch("hang"), sketch("hang")]
    results = generate_many(inputs, provider="per-input", concurrency=4, progress=bar, engine=bg)
    assert [r.status for r in results[::2]] == ["completed", "completed", "cancelled"]
    _assert_cancelled_in_engine(bg, [results[1], results[3], results[4]])
    assert any(r.task_id for r in (results[1], results[3]))
    assert bar.closed and bar.lines == ["interrupted: 2 of 5 finished, the rest cancelled"]


def test_a_real_keyboard_interrupt_in_the_main_thread_cancels_the_batch(bg):
    inputs = [sketch("n=1"), sketch("interrupt"), sketch("hang")]
    bar = RecordingBar()
    results = generate_many(inputs, provider="per-input", concurrency=3, progress=bar, engine=bg)
    assert results[1].status == results[2].status == "cancelled"
    _assert_cancelled_in_engine(bg, results[1:])
    assert bar.closed


def test_interrupting_generate_cancels_its_task(bg):
    with pytest.raises(KeyboardInterrupt):
        generate(sketch("interrupt"), provider="per-input", engine=bg)
    assert "running=0 queued=0" in repr(bg.engine)


# -- against a running server -------------------------------------------------------------


async def test_generate_many_with_a_client_runs_on_the_server(api_url, token):
    from vibedraw_widget.client import AsyncClient

    client = AsyncClient(api_url.split("vibedraw/api/")[0], token)
    assert await client.providers()  # the server is up and answering on this loop
    inputs = [sketch("n=2"), DATA / "ellipse_00.png", sketch()]
    # The server runs on this loop, so the blocking call goes to a thread.
    results = await asyncio.to_thread(
        generate_many, inputs, provider="scripted", client=client, progress=False
    )
    assert [r.status for r in results] == ["completed"] * 3, [r.error for r in results]
    assert all(r.code == "".join(f"// part {i}\n" for i in range(3)) for r in results)
    assert results[1].source == "ellipse_00.png"
    timings = results[0].timings  # read on this side, from the arrival of `start`
    assert 0 <= timings["first_output"] <= timings["run"] <= timings["total"]
    model = await asyncio.to_thread(
        generate, sketch(), kind="model", provider="scripted", client=client
    )
    assert model.ok and model.glb[:4] == b"glTF"
    failed = await asyncio.to_thread(generate, sketch(), provider="nope", client=client)
    assert failed.status == "failed" and "nope" in failed.error
    # options= reaches the server (which checks them) as it reaches the in-process engine
    for kind, options, field in [
        ("code", {"max_tokens": 0}, "max_tokens"),
        ("model", {"detail": 100}, "detail"),
        ("model", {"seed": -1}, "seed"),
    ]:
        refused = await asyncio.to_thread(
            generate, sketch(), kind=kind, provider="scripted", client=client, options=options
        )
        assert refused.status == "failed" and field in refused.error, refused.error


# -- the standalone viewer -----------------------------------------------------------------


def test_saved_html_is_a_sandboxed_offline_viewer_that_renders_in_chromium(bg, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.browser_support import launch_chromium
    from vibedraw_widget.viewer import BUNDLE, gallery

    if not BUNDLE.is_file():
        pytest.skip("front-end not built")
    code = Result(
        kind="code", status="completed", source="ball", code=(
            "const m = new THREE.Mesh(new THREE.SphereGeometry(1), "
            "new THREE.MeshStandardMaterial({ color: 'red' }));\n"
            "ctx.onFrame((t) => { m.rotation.y = t; });\nreturn m;"
        ),
    )  # fmt: skip
    model = generate(sketch(), kind="model", engine=bg)
    fragment = code._repr_html_()
    tag = fragment.split("srcdoc=")[0]
    assert tag.startswith('<iframe sandbox="allow-scripts" ') and "same-origin" not in tag
    # The runtime (three.js) travels gzipped: a preview in a saved notebook stays small.
    assert len(fragment) < BUNDLE.stat().st_size / 2
    assert len(model._repr_html_()) < BUNDLE.stat().st_size / 2 + len(model.glb)
    pages = [code.save(tmp_path / "code.html"), model.save(tmp_path / "model.html")]
    pages.append(gallery([code, model, Result(kind="code", status="failed", error="boom")]).save(
        tmp_path / "gallery.html"
    ))  # fmt: skip
    requests = []
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_function("document.body.dataset.status !== 'loading'", timeout=30_000)
            assert page.evaluate("document.body.dataset.status") == "ready", path.name
            assert "default-src 'none'" in page.content()
        assert page.locator("iframe").get_attribute("sandbox") == "allow-scripts"
        shown = page.frames[1].evaluate("async () => (await window.vibedraw.state()).cells")
        browser.close()
    assert shown == 2  # the failed result has a cell with its error, no 3D view
    # No network at all: the pages, and the runtime's Worker made from its own text.
    assert all(url.startswith(("file://", "about:", "blob:null/")) for url in requests)


def test_a_result_is_named_by_its_file_else_its_prompt_or_the_sketchs_labels():
    labelled = sketch("a  pine\ntree")
    assert Result("code", "completed", source="tree.json", sketch=labelled).label == "tree.json"
    assert Result("code", "completed", prompt="a red apple", sketch=labelled).label == (
        "a red apple"
    )
    assert Result("code", "completed", sketch=labelled).label == "a pine tree"
    long = Result("code", "completed", prompt="word " * 30).label
    assert len(long) == LABEL_LENGTH and long.endswith("…")
    assert Result("code", "completed", task_id="0b7c3f9e-4a51").label == "0b7c3f9e"


def test_the_prompt_does_not_repeat_a_label_it_already_says():
    drawn = sketch("a snowman")
    drawn["texts"].append({"x": 5, "y": 20, "text": "red scarf"})
    assert Request("3d", drawn, prompt="A Snowman").full_prompt == "A Snowman red scarf"
    assert Request("3d", drawn).full_prompt == "a snowman red scarf"
    assert Request("3d", drawn, prompt="a hat").full_prompt == "a hat a snowman red scarf"


def test_batch_notices_go_to_stderr_even_through_a_tqdm_bar(capsys):
    from tqdm import tqdm

    from vibedraw_widget.batch import _write

    with tqdm(total=1, file=sys.stderr) as bar:
        _write(bar, "interrupted: 0 of 1 finished")
    captured = capsys.readouterr()
    assert "interrupted" in captured.err and captured.out == ""  # stdout may be --json lines


def test_a_result_names_its_provider_and_what_answered(bg):
    code = generate(DATA / "ellipse_00.json", provider="local", engine=bg)
    assert (code.provider, code.model) == ("local", "vibedraw-local-shapes")
    assert code.to_dict()["provider"] == "local"
    mesh = generate(DATA / "ellipse_00.json", kind="model", provider="local", engine=bg)
    assert mesh.provider == "local" and "provider=local" in repr(mesh)
    with pytest.raises(ValueError, match="this code result has no GLB; code results export"):
        code.save(Path("unused.glb"))


def test_previews_beyond_the_old_webgl_limit_all_draw_and_a_lost_one_comes_back(bg):
    """A page keeps about 16 WebGL contexts and drops the oldest beyond that; each view's
    context now lives in its own Worker, so 17 views all draw. A view whose context is
    lost anyway says so, and comes back on a click."""
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.browser_support import background_pixels_differ, launch_chromium, poll
    from vibedraw_widget import viewer

    fragment = viewer.iframe(generate(sketch(), kind="model", engine=bg).to_html(), 60)
    settled = "document.body && ['ready', 'paused', 'error'].includes(document.body.dataset.status)"
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 600, "height": 1600})
        page.set_content("<html><body></body></html>")
        for _ in range(17):  # one past the usual 16, each after the last: the first is oldest
            page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", fragment)
            page.wait_for_function(f"() => document.querySelectorAll('iframe').length === {_ + 1}")
            # Each shell mirrors its runtime frame's status on its own body.
            page.main_frame.child_frames[-1].wait_for_function(settled, timeout=60_000)
        shells = page.main_frame.child_frames
        assert [s.evaluate("document.body.dataset.status") for s in shells] == ["ready"] * 17
        # Still views stop drawing (each is drawn on demand), and what they drew stays.
        asleep = "async () => !(await window.vibedraw.state()).drawing"
        for shell in shells:  # the camera settles, then the loop stops
            runtime = shell.child_frames[0]
            assert poll(lambda r=runtime: r.evaluate(asleep)), "a still view kept drawing"
        first = page.locator("iframe").first.screenshot()
        assert background_pixels_differ(first) > 500, "the oldest view drew nothing"
        runtime = shells[0].child_frames[0]
        runtime.evaluate("window.vibedraw.loseContext()")
        shells[0].wait_for_function("document.body.dataset.status === 'paused'", timeout=30_000)
        assert "took its graphics context away" in runtime.inner_text("#vibedraw-paused")
        runtime.click("#vibedraw-paused")  # the shell makes a fresh runtime, which shows it again
        shells[0].wait_for_function("document.body.dataset.status === 'ready'", timeout=60_000)
        browser.close()
