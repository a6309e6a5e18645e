"""Refuse XML that declares entities before any parser sees it.

Entity declarations can only live in the DTD, and the DTD comes before the root element, so only
the prolog is read: XML declaration, comments, processing instructions and the DOCTYPE. A DOCTYPE
that merely names an external DTD (RSS 0.91 feeds do) is accepted: parsers are configured never to
fetch it. The prolog is decoded the way a parser would: byte-order mark, UTF-16/UTF-32 signature,
or the encoding the XML declaration names (UTF-7 can hide ``<!ENTITY`` from a byte search).
"""

from __future__ import annotations

import codecs
import re

ENTITY_MESSAGE = "feed declares XML entities in its DTD (<!ENTITY ...>): refused as an entity attack"
PARAMETER_MESSAGE = "feed's DTD uses parameter-entity references (%name;): refused as an entity attack"
# real feeds' DOCTYPEs are a line long; a longer one would only cost time to scan
MAX_DOCTYPE = 65_536
LONG_DOCTYPE_MESSAGE = f"feed's DOCTYPE is over {MAX_DOCTYPE} characters long: refused as a DTD attack"

# the prolog is first looked for in this many bytes, then in 16 times as many, up to the whole body
FIRST_PREFIX = 4096
PREFIX_GROWTH = 16

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "latin-1"),  # markup is ASCII: a byte-per-character reading is enough
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# "<" or "<?" without a byte-order mark (XML 1.0 appendix F)
_SIGNATURES = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
# encodings that read ASCII markup exactly as latin-1 does: no second reading needed
_ASCII_READINGS = {"ascii", "latin-1", "iso8859-1", "utf-8", "cp1252"}
_DECLARED = re.compile(rb"\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")

# each scanner consumes a run of harmless markup in one regex match, then looks at what stopped it
_MISC = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)  # whitespace, PIs, comments
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_ROOT = re.compile(r"<(?:[^\W\d]|:)")  # "<" and a name-start character
_DOCTYPE_BODY = re.compile(r"(?:[^\"'\[><]+|\"[^\"]*\"|'[^']*')*")  # name, external ID
_SUBSET_BODY = re.compile(  # declarations other than ENTITY, literals, PIs, comments
    r"(?:[^\"'<\]%]+|\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|<(?!!--|\?|!ENTITY))*",
    re.DOTALL | re.IGNORECASE,
)


class UnsafeXMLError(ValueError):
    """The document carries an entity or DTD construct that could make a parser expand or fetch."""


def check(body: bytes) -> None:
    """Raise UnsafeXMLError if the prolog of ``body`` declares or references entities."""
    data, encoding = _sniff(body)
    for reading in (encoding, *_declared_encoding(data, encoding)):
        _check_reading(data, reading)


def _sniff(body: bytes) -> tuple[bytes, str]:
    """The body without its byte-order mark, and the encoding its first bytes announce."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :], encoding
    for signature, encoding in _SIGNATURES:
        if body.startswith(signature):
            return body, encoding
    return body, "latin-1"


def _declared_encoding(data: bytes, sniffed: str) -> list[str]:
    """A second encoding to read the prolog in: the declared one, if it can change what markup says."""
    match = _DECLARED.match(data, 0, 512) if sniffed == "latin-1" else None
    if match is None:
        return []
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return []
    if name in _ASCII_READINGS or name.startswith(("utf-16", "utf-32")):
        return []
    return [name]


def _check_reading(data: bytes, encoding: str) -> None:
    """Decode ever longer prefixes until the root element starts (or the body ends)."""
    size = FIRST_PREFIX
    while True:
        text = data[:size].decode(encoding, errors="replace")
        if _scan_prolog(text) or size >= len(data):
            return
        size *= PREFIX_GROWTH


def _skip(pattern: re.Pattern[str], text: str, pos: int, end: int | None = None) -> int:
    """Position after what ``pattern`` (one that may match nothing) matches at ``pos``."""
    match = pattern.match(text, pos, len(text) if end is None else end)
    return pos if match is None else match.end()


def _malformed(text: str, pos: int) -> int:
    """Parsers stop at malformed markup: refuse a declaration anywhere after it, else skip to the end."""
    if _ENTITY.search(text, pos):
        raise UnsafeXMLError(ENTITY_MESSAGE)
    return len(text)


def _scan_prolog(text: str) -> bool:
    """True when the root element was reached, False when the text ran out (or was malformed) first."""
    pos = 0
    while pos >= 0:
        pos = _skip(_MISC, text, pos)
        if pos >= len(text) or text.startswith(("<?", "<!--"), pos):  # the text ends inside it
            return False
        if _ROOT.match(text, pos):
            return True
        if not _DOCTYPE.match(text, pos):
            pos = _malformed(text, pos)
            continue
        end = min(len(text), pos + MAX_DOCTYPE)
        pos = _scan_doctype(text, pos + len("<!DOCTYPE"), end)
        if pos < 0 and end < len(text):
            raise UnsafeXMLError(LONG_DOCTYPE_MESSAGE)
    return False


def _scan_doctype(text: str, pos: int, end: int) -> int:
    """Position after the DOCTYPE's closing ``>``, or -1 when it does not close before ``end``."""
    while pos >= 0:
        pos = _skip(_DOCTYPE_BODY, text, pos, end)
        stop = text[pos : min(pos + 1, end)]
        if stop == ">":
            return pos + 1
        if stop == "<":
            return _malformed(text, pos)
        if stop != "[":  # end of text, or an unterminated literal
            return -1
        pos = _scan_internal_subset(text, pos + 1, end)
    return -1


def _scan_internal_subset(text: str, pos: int, end: int) -> int:
    """Position after the subset's closing ``]``, or -1; raises on entity declarations or references."""
    pos = _skip(_SUBSET_BODY, text, pos, end)
    stop = text[pos : min(pos + 1, end)]
    if stop == "]":
        return pos + 1
    if stop == "%":
        raise UnsafeXMLError(PARAMETER_MESSAGE)
    if _ENTITY.match(text, pos, end):
        raise UnsafeXMLError(ENTITY_MESSAGE)
    return -1  # end of text, or an unterminated literal, comment or PI
