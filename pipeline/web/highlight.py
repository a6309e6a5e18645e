"""Article text as safe HTML with the evidence spans marked."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape


def highlight(text: str, evidence: list[dict[str, Any]]) -> Markup:
    """Escape *text* and wrap each evidence span (offsets into the text) in <mark>."""
    spans = sorted(
        (e["start"], e["end"], e["category"])
        for e in evidence
        if e.get("field", "text") == "text" and 0 <= e["start"] < e["end"] <= len(text)
    )
    out, pos = [], 0
    for start, end, category in spans:
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(Markup('<mark class="ev" title="{}">{}</mark>').format(category, text[start:end]))
        pos = end
    out.append(escape(text[pos:]))
    paragraphs = Markup("").join(out).split("\n")
    return Markup("").join(Markup("<p>{}</p>").format(Markup(p)) for p in paragraphs if p.strip())


def group_evidence(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per rule (or model category), with every distinct quote it matched."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for e in evidence:
        key = (e["source"], e["category"])
        g = groups.setdefault(key, {**e, "quotes": [], "headline": False})
        g["headline"] = g["headline"] or e.get("field") == "title"
        if e["quote"] not in g["quotes"]:
            g["quotes"].append(e["quote"])
    return list(groups.values())


DIFF_MARK = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.S)


def word_diff(line: str) -> Markup:
    """A word-diff line with [-removed-] as <del> and {+added+} as <ins>; everything escaped."""
    out: list[str] = []
    pos = 0
    for m in DIFF_MARK.finditer(line):
        out.append(str(escape(line[pos : m.start()])))
        if m.group(1) is not None:
            out.append(f"<del>{escape(m.group(1))}</del>")
        else:
            out.append(f"<ins>{escape(m.group(2))}</ins>")
        pos = m.end()
    out.append(str(escape(line[pos:])))
    return Markup("".join(out))
