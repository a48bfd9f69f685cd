"""The project's own docs (docs/): present, cited by the code, and in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from vibedraw_widget.settings import option_default, options

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CODE = [
    *(ROOT / "vibedraw_widget").rglob("*.py"),
    *(p for p in (ROOT / "js" / "src").rglob("*") if p.suffix in (".js", ".css")),
]
CITATION = re.compile(r"docs/(\w+\.md)(?:,\s*\"?([A-Z][\w-]*(?: [\w-]+)*)\"?)?")


def options_table() -> str:
    """The options table of docs/configuration.md, made from the Settings declaration."""
    shown = {"cpu_workers": "min(4, cores)", "max_upload_bytes": "20971520 (20 MiB)"}
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for f in options():
        default = shown.get(f.name, "auto" if option_default(f) is None else option_default(f))
        kind = (f.metadata["type"] or type(option_default(f))).__name__
        if f.metadata["choices"]:
            kind = " \\| ".join(f"`{c}`" for c in f.metadata["choices"])
        rows.append(f"| `{f.name}` | {kind} | `{default}` | {f.metadata['help']} |")
    return "\n".join(rows) + "\n"


def headings(doc: Path) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", doc.read_text(), re.M)}


def test_the_four_docs_exist():
    for name in ("architecture.md", "protocol.md", "providers.md", "configuration.md"):
        assert (DOCS / name).is_file(), name


def test_configuration_md_lists_every_option_as_declared():
    table = options_table()
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert table in text, "docs/configuration.md's table differs from settings.py; use:\n" + table
    for f in options():
        assert f"| `{f.name}` |" in text


def test_no_code_cites_design_or_a_path_outside_the_repository():
    bad = re.compile(r"DESIGN|\.\./shared|/work/|kept beside the repository")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in CODE
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if bad.search(line)
    ]
    assert offenders == []


def test_every_docs_citation_names_a_file_and_a_section_that_exist():
    cited = 0
    for path in [*CODE, ROOT / "README.md", *DOCS.glob("*.md")]:
        # A citation may wrap onto the next comment or docstring line.
        text = re.sub(r"\s*\n\s*(?://|\*|#)?\s*", " ", path.read_text(encoding="utf-8"))
        for match in CITATION.finditer(text):
            doc, section = DOCS / match.group(1), match.group(2)
            assert doc.is_file(), f"{path.name} cites missing {doc.name}"
            if section and section[0].isupper() and path.suffix != ".md":
                assert section in headings(doc), (
                    f"{path.name}: no section {section!r} in {doc.name}"
                )
            cited += 1
    assert cited >= 40  # the code points at its docs


def test_readme_points_at_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DESIGN" not in readme and "docs/architecture.md" in readme
