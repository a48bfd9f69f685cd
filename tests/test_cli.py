"""The ``vibedraw`` command: in-process with test providers, and as a real subprocess."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vibedraw_widget.cli import EXIT_FAILED, build_parser, cmd_generate, cmd_providers, main

DATA = Path(__file__).parent / "data"


def run(argv: list[str]) -> tuple[int, str]:
    """Parse ``argv`` like ``vibedraw`` and run it with captured output."""
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    command = cmd_generate if args.command == "generate" else cmd_providers
    return command(args, out), out.getvalue()


def test_generate_writes_one_file_set_per_input_and_a_summary(tmp_path):
    code, out = run(
        [
            "generate",
            str(DATA / "ellipse_00.json"),
            str(DATA / "ellipse_00.png"),
            "--provider",
            "scripted",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ellipse_00.html",
        "ellipse_00.js",
        "ellipse_00_png.html",
        "ellipse_00_png.js",
    ]
    assert (tmp_path / "ellipse_00.js").read_text().startswith("// part 0")
    assert "ok      ellipse_00.json -> ellipse_00.js, ellipse_00.html" in out
    assert out.endswith(f"2 of 2 succeeded; outputs in {tmp_path}\n")


def test_a_failed_input_gives_its_error_and_a_nonzero_exit(tmp_path):
    code, out = run(
        [
            "generate",
            str(DATA / "ellipse_00.json"),
            str(tmp_path / "nope.json"),
            "--provider",
            "scripted",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert code == EXIT_FAILED
    assert "FAILED  nope.json: `input`: no such file" in out
    assert "1 of 2 succeeded, 1 failed" in out
    assert (tmp_path / "out" / "nope.error.txt").read_text().startswith("failed: `input`")


def test_a_directory_input_expands_and_each_failure_is_reported(tmp_path):
    folder = tmp_path / "sketches"
    folder.mkdir()
    names = ["blob_00.json", "ellipse_01.png", "line_02.json", "triangle_03.json"]
    for name in names:
        (folder / name).write_bytes((DATA / name).read_bytes())
    (folder / "notes.txt").write_text("ignored")
    code, out = run(
        [
            "generate",
            str(folder),
            "--provider",
            "failing",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--concurrency",
            "3",
            "--json",
        ]
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["source"] for line in lines[:-1]] == names
    assert all(line["status"] == "failed" and "broke" in line["error"] for line in lines[:-1])
    assert lines[-1]["summary"]["failed"] == len(names) and code == EXIT_FAILED


def test_kind_mesh_is_the_model_kind_under_the_pads_name(tmp_path):
    code, out = run(
        ["generate", str(DATA / "blob_00.json"), "--kind", "mesh", "--out", str(tmp_path)]
        + ["--provider", "scripted", "--no-progress", "--json"]
    )
    assert code == 0 and (tmp_path / "blob_00.glb").read_bytes()[:4] == b"glTF"
    assert json.loads(out.splitlines()[0])["kind"] == "model"


def test_model_and_improve_kinds_write_their_files(tmp_path):
    code, _ = run(
        [
            "generate",
            str(DATA / "blob_00.json"),
            "--kind",
            "model",
            "--provider",
            "scripted",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0 and (tmp_path / "blob_00.glb").read_bytes()[:4] == b"glTF"
    code, _ = run(
        [
            "generate",
            str(DATA / "blob_00.json"),
            "--kind",
            "improve",
            "--provider",
            "scripted",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0 and json.loads((tmp_path / "blob_00.json").read_text())["strokes"]


def test_providers_lists_each_kind_its_default_and_configuration():
    code, out = run(["providers"])
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["KIND", "NAME", "DEFAULT", "CONFIGURED"]
    assert any(r.split()[:4] == ["code", "local", "*", "yes"] for r in rows)
    assert any(r.startswith("code   needs-key") and "NEEDS_KEY_API_KEY" in r for r in rows)
    code, out = run(["providers", "--json"])
    assert {(p["kind"], p["name"]) for p in json.loads(out)} >= {
        ("code", "local"),
        ("model", "local"),
    }


def test_help_documents_every_command_and_option(capsys):
    for argv, words in [
        ([], ["generate", "providers", "worker", "ANTHROPIC_API_KEY"]),
        (
            ["generate"],
            [
                "--kind",
                "--prompt",
                "--provider",
                "--out",
                "--concurrency",
                "--server",
                "--token",
                "--no-progress",
                "Exit status",
            ],
        ),
        (["providers"], ["--server", "--token", "--json"]),
    ]:
        with pytest.raises(SystemExit) as done:
            main([*argv, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert all(word in text for word in words), (argv, text)


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["generate", "x.json", "--kind", "video"])
    assert done.value.code == 2
    assert "invalid choice: 'video'" in capsys.readouterr().err


def test_the_installed_command_runs_the_offline_providers_end_to_end(tmp_path):
    """A real process: the local providers, a progress bar on stderr, the exit status."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vibedraw_widget.cli",
            "generate",
            str(DATA / "scene_snowman_00.json"),
            str(DATA / "triangle_00.png"),
            "--kind",
            "model",
            "--out",
            str(tmp_path),
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "2 of 2 succeeded" in done.stdout
    assert "2/2" in done.stderr  # the tqdm bar
    for name in ("scene_snowman_00", "triangle_00"):
        assert (tmp_path / f"{name}.glb").read_bytes()[:4] == b"glTF"
        assert 'id="vd-page"' in (tmp_path / f"{name}.html").read_text()  # a shell page


def test_an_unusable_out_is_refused_before_any_work(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a directory")
    assert main(["generate", str(DATA / "ellipse_00.json"), "--out", str(taken)]) == 2
    assert f"--out {taken}:" in capsys.readouterr().err
    # Improved sketches would replace the inputs they came from.
    inputs = tmp_path / "in"
    inputs.mkdir()
    sketch = inputs / "a.json"
    sketch.write_bytes((DATA / "ellipse_00.json").read_bytes())
    before = sketch.read_bytes()
    argv = ["generate", str(inputs), "--kind", "improve", "--out", str(inputs)]
    assert main([*argv, "--no-progress"]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert sketch.read_bytes() == before and sorted(inputs.iterdir()) == [sketch]


def test_a_file_that_is_not_utf8_fails_alone(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "ok.json").write_bytes((DATA / "ellipse_00.json").read_bytes())
    code, out = run(["generate", str(folder), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == EXIT_FAILED
    assert "FAILED  binary.json: `binary.json`: not a UTF-8 JSON sketch" in out
    assert "1 of 2 succeeded, 1 failed" in out


def test_an_unreachable_server_is_one_line_not_a_traceback(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    server = f"http://127.0.0.1:{port}/"
    argv = ["--server", server, "--token", "t"]
    assert main(["providers", *argv]) == EXIT_FAILED
    assert main(["generate", str(DATA / "ellipse_00.json"), *argv, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(f"--server {server}:" in line for line in err)
    assert not list(tmp_path.iterdir())
