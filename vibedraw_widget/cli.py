"""The ``vibedraw`` command: batch generation from files, the provider list, workers.

    vibedraw generate sketches/*.json --kind mesh --out meshes/
    vibedraw generate drawing.png --kind code --server http://localhost:8888/ --token …
    vibedraw providers
    vibedraw worker --store redis://localhost:6379/0

``generate`` writes one set of files per input (``.js`` + ``.html`` for code, ``.glb`` +
``.html`` for a model, ``.json`` + ``.png`` for improve), prints a summary and exits
non-zero when any input failed (1) or the run was interrupted (130).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .kinds import KIND_ALIASES, KINDS, canonical_kind
from .result import Result, safe_stem

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_EPILOG = """\
inputs are sketch JSON files (docs/protocol.md, The sketch), PNG drawings, or directories of them.
Runs in-process on the offline engine unless --server is given. Environment:
ANTHROPIC_API_KEY selects the anthropic code provider by default (else local);
TRELLIS_API_KEY configures the trellis model provider; VIBEDRAW_TOKEN (or
JUPYTER_TOKEN) is the default --token.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``vibedraw`` argument parser (every subcommand and option documented)."""
    parser = argparse.ArgumentParser(
        prog="vibedraw",
        description="Sketch in, 3D out: generate Three.js code or meshes from drawings.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"vibedraw {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gen = commands.add_parser(
        "generate",
        help="generate code, meshes or cleaned-up drawings from sketch files",
        description=(
            "Generate from each INPUT and write its outputs into --out: NAME.js + NAME.html "
            "(code), NAME.glb + NAME.html (model) or NAME.json + NAME.png (improve). "
            "A failed input writes NAME.error.txt. Exit status: 0 all succeeded, "
            "1 some failed, 2 bad usage, 130 interrupted."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="sketch .json, drawing .png, or a directory"
    )
    gen.add_argument(
        "--kind",
        choices=[*(k for k in KINDS if k != "edit"), *KIND_ALIASES],
        default="code",
        help="code: Three.js code; mesh (or model): a GLB mesh; improve: the drawing redrawn "
        "clean (default: %(default)s)",
    )
    gen.add_argument("--prompt", default="", help="text that steers generation ('a red apple')")
    gen.add_argument(
        "--provider",
        default=None,
        help="provider name (default: the configured one; see `vibedraw providers`)",
    )
    gen.add_argument(
        "--out",
        type=Path,
        default=Path("vibedraw-out"),
        help="output directory (created; default: %(default)s)",
    )
    gen.add_argument(
        "--concurrency", type=int, default=4, help="inputs generated at once (default: %(default)s)"
    )
    _server_options(gen)
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    gen.add_argument("--json", action="store_true", help="print the summary as JSON lines")

    prov = commands.add_parser(
        "providers",
        help="list providers and whether they are configured",
        description="List every code and model provider, the default of each kind, and "
        "whether it is configured (and if not, what to set).",
    )
    _server_options(prov)
    prov.add_argument("--json", action="store_true", help="print JSON instead of a table")

    worker_module = _worker_module()
    if worker_module is not None:
        worker = commands.add_parser(
            "worker",
            help="run queued tasks from a Redis store (for servers with store_url=redis://…)",
            description="Run queued vibedraw tasks from a Redis store "
            "(docs/architecture.md, Scaling out).",
        )
        worker_module.build_parser(worker)
    return parser


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="URL",
        default=None,
        help="a running jupyter-server with vibedraw (http://localhost:8888/); "
        "default: run in-process",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("VIBEDRAW_TOKEN") or os.environ.get("JUPYTER_TOKEN"),
        help="the server's token (default: $VIBEDRAW_TOKEN or $JUPYTER_TOKEN)",
    )


def _worker_module() -> Any:
    try:
        from .engine import worker
    except ImportError:  # pragma: no cover - the worker needs the redis client
        return None
    return worker


def _client(args: argparse.Namespace) -> Any:
    if not args.server:
        return None
    from .client import Client

    return Client(args.server, args.token)


def _server_providers(client: Any, server: str) -> tuple[list[dict[str, Any]], str | None]:
    """The server's providers, or why ``server`` cannot be used (unreachable, wrong token,
    no extension). Asked once up front, so that a wrong URL or token is one line, not one
    failure per input or a traceback."""
    import httpx

    from .client import VibeDrawError

    try:
        return client.providers(), None
    except (VibeDrawError, httpx.HTTPError, OSError) as exc:
        return [], f"--server {server}: {exc}"


# -- generate -------------------------------------------------------------------------


def _out_problem(out: Path, inputs: Sequence[Path], kind: str) -> str | None:
    """Why the output directory cannot be used (it is created here), else ``None``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(out, os.W_OK):
        return "not writable"
    # Improve writes {stem}.json and {stem}.png: beside the inputs, it would replace them.
    if kind == "improve" and any(p.parent.resolve() == out.resolve() for p in inputs):
        return "holds the input sketches, which the improved ones would overwrite"
    return None


def _stems(results: Sequence[Result]) -> list[str]:
    """One output stem per result, unique (``a.json`` and ``a.png`` → ``a``, ``a_png``)."""
    seen: set[str] = set()
    stems = []
    for result in results:
        stem = safe_stem(result.label)
        if stem in seen:
            stem = safe_stem(result.label.replace(".", "_"))
        base, n = stem, 2
        while stem in seen:
            stem, n = f"{base}_{n}", n + 1
        seen.add(stem)
        stems.append(stem)
    return stems


def cmd_generate(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``vibedraw generate``; returns the exit status."""
    from .batch import expand_inputs, generate_many

    if args.concurrency < 1:
        print("vibedraw generate: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    inputs = expand_inputs([Path(p) for p in args.inputs])
    if not inputs:
        print("vibedraw generate: no .json or .png inputs found", file=sys.stderr)
        return EXIT_USAGE
    args.kind = canonical_kind(args.kind)
    problem = _out_problem(args.out, inputs, args.kind)
    if problem:  # found now, not after the whole batch has run
        print(f"vibedraw generate: --out {args.out}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    client = _client(args)
    problem = client and _server_providers(client, args.server)[1]
    if problem:
        client.close()
        print(f"vibedraw generate: {problem}", file=sys.stderr)
        return EXIT_FAILED
    try:
        results = generate_many(
            inputs,
            kind=args.kind,
            prompt=args.prompt,
            provider=args.provider,
            client=client,
            concurrency=args.concurrency,
            progress=not args.no_progress,
        )
    finally:
        if client is not None:
            client.close()
    for result, stem in zip(results, _stems(results), strict=True):
        files = result.save_all(args.out, stem) if result.status != "cancelled" else []
        _report(result, files, args.json, out)
    ok = sum(r.ok for r in results)
    failed = sum(r.status == "failed" for r in results)
    cancelled = sum(r.status == "cancelled" for r in results)
    summary = f"{ok} of {len(results)} succeeded"
    if failed:
        summary += f", {failed} failed"
    if cancelled:
        summary += f", {cancelled} cancelled"
    if args.json:
        out.write(
            json.dumps(
                {
                    "summary": {
                        "ok": ok,
                        "failed": failed,
                        "cancelled": cancelled,
                        "out": str(args.out),
                    }
                }
            )
            + "\n"
        )
    else:
        out.write(f"{summary}; outputs in {args.out}\n")
    if cancelled:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else 0


def _report(result: Result, files: list[Path], as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps({**result.to_dict(), "files": [str(f) for f in files]}) + "\n")
        return
    if result.ok:
        took = f" ({result.timings['total']:.2f}s)" if "total" in result.timings else ""
        names = ", ".join(f.name for f in files)
        out.write(f"ok      {result.label} -> {names}{took}\n")
    else:
        reason = f": {result.error}" if result.error else ""
        out.write(f"{result.status.upper():7} {result.label}{reason}\n")


# -- providers ------------------------------------------------------------------------


def cmd_providers(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``vibedraw providers``; returns the exit status."""
    client = _client(args)
    if client is not None:
        try:
            providers, problem = _server_providers(client, args.server)
            if problem:
                print(f"vibedraw providers: {problem}", file=sys.stderr)
                return EXIT_FAILED
        finally:
            client.close()
    else:
        from .providers import describe_providers
        from .settings import Settings

        providers = describe_providers(Settings())
    if args.json:
        out.write(json.dumps(providers, indent=2) + "\n")
        return 0
    rows = [("KIND", "NAME", "DEFAULT", "CONFIGURED", "DESCRIPTION / WHAT TO SET")]
    for p in providers:
        rows.append(
            (
                p["kind"],
                p["name"],
                "*" if p["default"] else "",
                "yes" if p["configured"] else "no",
                p["description"] if p["configured"] else p["message"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        out.write("  ".join([*cells, row[4]]).rstrip() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vibedraw``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        return cmd_generate(args)
    if args.command == "providers":
        return cmd_providers(args)
    return _worker_module().run_from_args(args)


if __name__ == "__main__":
    raise SystemExit(main())
