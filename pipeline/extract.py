"""Article page -> text and metadata (trafilatura), with language identification."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import trafilatura

from .errors import InputError
from .records import Extracted

LANGUAGES = ("en", "fr")
GZIP_MAGIC = b"\x1f\x8b"
MIN_WORDS = 30  # less is a teaser, a consent wall or an error page, not an article


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def detect_language(text: str) -> str | None:
    """'en' or 'fr' (the languages MediaWatch reads); None for too little text."""
    if len(text.strip()) < 20:
        return None
    lang, _prob = _identifier().classify(text[:5000])
    return str(lang)


def decode_html(raw: bytes) -> str:
    """Bytes -> text, honouring a BOM or meta charset, never failing on bad bytes."""
    return str(trafilatura.utils.decode_file(raw))


def _authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [a.strip() for a in value.replace(" and ", ";").split(";") if a.strip()]


def extract_html(html: str | bytes, source: str, url: str | None = None) -> Extracted:
    """Extract one page. Pages with no article get status 'empty', never an exception."""
    if isinstance(html, bytes):
        if html[:2] == GZIP_MAGIC:
            try:
                html = gzip.decompress(html)
            except (OSError, EOFError):
                return Extracted(source=source, title="", text="", status="not_html")
        if b"\x00" in html[:2048]:
            return Extracted(source=source, title="", text="", status="not_html")
        html = decode_html(html)
    doc: Any = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        deduplicate=False,
    )
    if doc is None or len((doc.text or "").split()) < MIN_WORDS:
        title = (doc.title or "") if doc is not None else ""
        return Extracted(source=source, title=title, text="", status="empty")
    text = doc.text or ""
    return Extracted(
        source=source,
        title=doc.title or "",
        text=text,
        published=doc.date,
        language=detect_language(f"{doc.title or ''}\n{text}"),
        authors=_authors(doc.author),
        canonical_url=doc.url,
    )


def extract_file(path: Path) -> Extracted:
    """Extract an ``.html`` or ``.html.gz`` file; unreadable files raise ``InputError``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a valid gzip file: {exc}") from exc
    return extract_html(raw, source=str(path))
