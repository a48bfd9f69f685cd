"""Fenced code blocks in model answers: find them, pick the runnable one.

An LLM asked for Three.js code (docs/protocol.md, Generated code) usually answers with a
Markdown fence, sometimes with prose around it, sometimes with several fences (the code,
then a usage note), and when an answer was cut short, with a fence that never closes.
:func:`extract_code` turns any of these into the code to run; the whole text when there
is no fence at all.

Fences follow CommonMark: a line of three or more backticks (or tildes), indented by at
most three spaces, with an optional info string (``js``, ``javascript {.numberLines}``);
the block ends at a line with a fence of the same character at least as long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CODE_LANGUAGES: tuple[str, ...] = ("javascript", "js", "mjs", "jsx", "typescript", "ts")
"""Info-string languages taken as runnable code, best first."""

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language (first word of the info string, lower case, may be
    empty), its text without the fences, and whether a closing fence was found."""

    language: str
    code: str
    closed: bool
    start: int
    """Offset of the opening fence in the text searched."""


def find_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block in ``text``, in order; an unclosed last fence runs to the end."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines(keepends=True)
    offset = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _OPEN.match(line.rstrip("\r\n"))
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            offset += len(line)
            i += 1
            continue
        start, fence, indent = offset, match["fence"], len(match["indent"])
        language = match["info"].strip().split(maxsplit=1)[0].lower() if match["info"] else ""
        language = language.strip("{}.")
        body: list[str] = []
        closed = False
        offset += len(line)
        i += 1
        while i < len(lines):
            line = lines[i]
            offset += len(line)
            i += 1
            stripped = line.rstrip("\r\n")
            if _is_close(stripped, fence):
                closed = True
                break
            # CommonMark removes up to the opening fence's indentation from content lines.
            body.append(_dedent(line, indent))
        blocks.append(CodeBlock(language, "".join(body).rstrip("\r\n"), closed, start))
    return blocks


def _is_close(line: str, fence: str) -> bool:
    candidate = line.lstrip(" ")
    if len(line) - len(candidate) > 3:
        return False
    candidate = candidate.rstrip(" \t")
    return (
        len(candidate) >= len(fence)
        and candidate[0] == fence[0]
        and candidate == fence[0] * len(candidate)
    )


def _dedent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" "))
    return line[min(removable, indent) :]


def extract_code(text: str, languages: tuple[str, ...] = CODE_LANGUAGES) -> str:
    """The code to run from an answer: the first block in one of ``languages``
    (in their order of preference), else the longest untagged block, else the longest
    block; the whole text (stripped) when the answer has no fence.

    >>> extract_code("Here:\\n```js\\nreturn new THREE.Group();\\n```\\nEnjoy.")
    'return new THREE.Group();'
    """
    blocks = [b for b in find_blocks(text) if b.code.strip()]
    if not blocks:
        return text.strip()
    for language in languages:
        for block in blocks:
            if block.language == language:
                return block.code
    untagged = [b for b in blocks if not b.language]
    return max(untagged or blocks, key=lambda b: len(b.code)).code
