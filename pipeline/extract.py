"""Article page -> text and metadata (trafilatura), with language identification.

Text: trafilatura with ``favor_precision`` in its fast mode (no readability/jusText comparison);
when that gives less than trafilatura's minimum extraction size, its full precision pass too,
which rescues articles the fast heuristics cut. Then a headline repeated at the top, bylines and
datelines above the first paragraph, and everything from a subscription prompt on are removed.
French pages also lose blocks whose classes name boilerplate in French ("infolettre", "auteur"...),
as trafilatura does for the English names. ``bench/extract.py`` measures this against
trafilatura's own modes on real pages (quality, and speed in process and as whole processes).

Metadata: one pass over the parsed page reads ``<meta>`` (Open Graph, ``article:*``, Dublin Core,
itemprop), JSON-LD (the article's object, else the web page's), ``<link rel=canonical>``,
``<title>``, ``<h1>`` and ``<time>``; bylines, breadcrumbs and category links in the body, and
htmldate, are consulted only for what that pass did not find. Language: function words decide
English or French at once; py3langid decides what they leave open.

Per-outlet selectors (``Selectors``: an outlet's ``extraction:`` block in feeds.yaml, for sites
where generic extraction keeps boilerplate or loses paragraphs): on a copy of the page, the
elements matching ``drop`` are removed (the text after each is kept); then, when ``body``
matches, trafilatura runs on the matching elements only (all of them, in page order), else on
the whole copy, and the ``reason`` says that the body selector matched nothing (or too little
text), so that an outlet's redesign shows. Metadata, dates and the paywall check always read the
whole page. Without selectors none of this runs, and cssselect is not even imported.

``extract_html`` never raises: every result carries a ``status`` and, when it is not ``ok`` (or
when the page needed a repair), a one-line ``reason``.

==============  =====================================================================
status          meaning
==============  =====================================================================
``ok``          article text found (``paywalled`` says whether it is only a teaser)
``empty``       the page has no text at all
``no_article``  the page has text, but no article in it (navigation, consent wall...)
``paywalled``   only a teaser too short to use before a subscription prompt
``not_html``    binary data, another format, corrupt gzip, or no HTML markup
``too_large``   over ``MAX_HTML_BYTES`` or ``MAX_ELEMENTS``, or nested past the parser's limit
``error``       extraction failed unexpectedly (a bug: the reason names the exception)
==============  =====================================================================
Pages that are not ``ok`` keep the title and metadata found, with no text and no language.
"""

from __future__ import annotations

import codecs
import copy
import functools
import gzip
import importlib.util
import io
import json
import logging
import re
import sys
import types
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from .errors import InputError
from .language import WORDS, detect_language
from .records import Extracted, Selectors


class _OnFirstUse(types.ModuleType):
    """Stands in for a module until one of its attributes is read, then imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _import_trafilatura() -> Any:
    """``import trafilatura``, without the py3langid import it makes at start-up.

    trafilatura imports py3langid, and py3langid imports numpy: 80 ms of every ``mediawatch
    extract`` process. trafilatura reads it only in its ``target_language`` filter, which we never
    use; ``detect_language`` needs it only for text that function words leave open. So, unless
    something imported py3langid already, trafilatura gets a stand-in that imports the real module
    if it is ever used. (``importlib.util.LazyLoader`` cannot do this: ``import`` itself reads the
    module's ``__spec__``, which loads it.)
    """
    name = "py3langid"
    if name in sys.modules or importlib.util.find_spec(name) is None:
        import trafilatura

        return trafilatura
    stand_in = _OnFirstUse(name)
    sys.modules[name] = stand_in
    try:
        import trafilatura
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]  # our own imports get the real module
    return trafilatura


trafilatura = _import_trafilatura()

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
MIN_WORDS = 30  # less is a teaser, a consent wall or an error page, not an article
MAX_HTML_BYTES = 5_000_000  # the fetch stage's default response cap (Settings.max_response_bytes)
MAX_ELEMENTS = 40_000  # real article pages have 300-3,000; past this, extraction takes seconds
MAX_DEPTH = 256  # libxml2's HTML parser stops nesting here and drops what is deeper

OK, EMPTY, NO_ARTICLE, PAYWALLED = "ok", "empty", "no_article", "paywalled"
NOT_HTML, TOO_LARGE, ERROR = "not_html", "too_large", "error"


class _PageError(Exception):
    """Internal: the input is no HTML page worth parsing; ``status`` and ``reason`` say why."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


# ------------------------------------------------------------------ public API


def extract_html(
    html: str | bytes, source: str, url: str | None = None, selectors: Selectors | None = None
) -> Extracted:
    """Extract one page (bytes, gzipped bytes or text). Never raises: see the module's status table.

    *selectors* (an outlet's ``extraction:`` in feeds.yaml): see "Per-outlet selectors" above.
    """
    try:
        return _extract(html, source, url, selectors)
    except _PageError as rejected:
        return Extracted(source=source, title="", text="", status=rejected.status, reason=rejected.reason)
    except Exception as exc:  # a page must never stop a cycle; the reason names the bug
        log.warning("extraction failed source=%s", source, exc_info=True)
        return Extracted(
            source=source, title="", text="", status=ERROR, reason=_clip(f"{type(exc).__name__}: {exc}")
        )


def extract_file(path: Path, selectors: Selectors | None = None) -> Extracted:
    """Extract an ``.html`` or ``.html.gz`` file; unreadable files raise ``InputError``."""
    try:
        size = path.stat().st_size
        if size > MAX_HTML_BYTES:
            reason = f"file is {_mb(size)} (limit {_mb(MAX_HTML_BYTES)})"
            return Extracted(source=str(path), title="", text="", status=TOO_LARGE, reason=reason)
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if path.suffix == ".gz":
        if raw[:2] != GZIP_MAGIC:
            raise InputError(f"{path}: not a valid gzip file: no gzip header")
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a valid gzip file: {exc}") from exc
        except _PageError as rejected:
            return Extracted(
                source=str(path), title="", text="", status=rejected.status, reason=rejected.reason
            )
    return extract_html(raw, source=str(path), selectors=selectors)


def decode_html(raw: bytes) -> str:
    """Bytes -> text, never failing on bad bytes.

    UTF-8 when the bytes are UTF-8 (whatever the page declares); else the declared charset when
    the bytes are not mostly UTF-8; else UTF-8 with stray bytes read as Windows-1252, which also
    repairs pages that mix the two.
    """
    return _decode(raw)[0]


# ------------------------------------------------------------------ the stages of one page


def _extract(html: str | bytes, source: str, url: str | None, selectors: Selectors | None) -> Extracted:
    page = _to_text(html)
    text = page.text
    tree = _parse(page)
    meta = _metadata(tree, url)
    french = _french(tree, meta)
    if selectors:
        article, selector_note = _selected_text(tree, selectors, french)
    else:
        article, selector_note = _article_text(tree, french), ""
    body, cut_at_prompt = _clean_text(article, meta.title)
    paywalled = cut_at_prompt or meta.paywalled or _paywall_prompt_on_page(text, tree)
    words = len(body.split())
    status, reason = (OK, page.note) if words >= MIN_WORDS else _no_article(tree, words, paywalled)
    if selector_note:
        reason = f"{reason}; {selector_note}" if reason else selector_note
    published, updated = _dates(tree, meta, url, text)
    return Extracted(
        source=source,
        title=meta.title,
        text=body if status == OK else "",
        published=published,
        language=detect_language(f"{meta.title}\n{body}") if status == OK else None,
        authors=meta.authors or _byline_authors(text, tree),
        canonical_url=meta.canonical,
        status=status,
        updated=updated,
        section=meta.section or _page_section(text, tree),
        paywalled=paywalled,
        reason=reason,
    )


@dataclass(slots=True)
class _Page:
    """A page's text; its bytes when it came as bytes (quick scans: one byte per ASCII character)."""

    text: str
    note: str = ""  # what the decoding repaired
    raw: bytes | None = None


def _to_text(html: str | bytes) -> _Page:
    """The page as text, and a note on any encoding repair; rejects what is not an HTML page."""
    note, raw = "", None
    if isinstance(html, bytes):
        if html[:2] == GZIP_MAGIC:
            try:
                html = _gunzip(html)
            except (OSError, EOFError) as exc:
                raise _PageError(NOT_HTML, f"corrupt gzip data: {exc}") from None
        _check_bytes(html)
        raw = html
        html, note = _decode(html)
    if len(html) > MAX_HTML_BYTES:
        raise _PageError(TOO_LARGE, f"{_mb(len(html))} of text (limit {_mb(MAX_HTML_BYTES)})")
    if not html or html.isspace():
        raise _PageError(EMPTY, "the page is empty")
    _check_markup(html)
    return _Page(html, note, raw)


def _gunzip(raw: bytes) -> bytes:
    """Decompress, refusing to inflate past the size limit (a gzip bomb is ``too_large``).

    Raises OSError for data that is not gzip and EOFError for a truncated stream, as ``gzip`` does.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one C call; GzipFile reads in 8 KB steps
    try:
        data = inflater.decompress(raw, MAX_HTML_BYTES + 1)
    except zlib.error as exc:
        raise OSError(f"not gzip data or corrupt ({exc})") from None
    if len(data) <= MAX_HTML_BYTES and not inflater.eof:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    if inflater.unused_data:  # several gzip members, or bytes after the end: as gzip reads them
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
            data = fh.read(MAX_HTML_BYTES + 1)
    if len(data) > MAX_HTML_BYTES:
        raise _PageError(TOO_LARGE, f"decompresses to more than {_mb(MAX_HTML_BYTES)}")
    return data


_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image, WAV or AVI)"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an Ogg media file"),
    (b"wOF", "a web font"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ", "xz data"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
)
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _check_bytes(raw: bytes) -> None:
    if len(raw) > MAX_HTML_BYTES:
        raise _PageError(TOO_LARGE, f"{_mb(len(raw))} (limit {_mb(MAX_HTML_BYTES)})")
    head = raw[:4096]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise _PageError(NOT_HTML, f"binary data: {what}")
    if b"\x00" in head and not head.startswith(_BOMS):
        raise _PageError(NOT_HTML, "binary data (NUL bytes)")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_MARKUP = re.compile(r"<(?:[a-zA-Z][\w:-]*|!--|!doctype)[\s/>]", re.I)


def _check_markup(text: str) -> None:
    head = text[:4096]
    if len(_CONTROL.findall(head)) > 0.05 * len(head):
        raise _PageError(NOT_HTML, "binary data (control characters)")
    if _MARKUP.search(text[:65536]) is None:
        start = text.lstrip()[:1]
        kind = "JSON" if start in ("{", "[") else "plain text"
        raise _PageError(NOT_HTML, f"no HTML markup ({kind}?)")


def _parse(page: _Page) -> Any:
    tree = _load_html(page)
    if tree is None:
        raise _PageError(NOT_HTML, "not an HTML document (the parser found no page structure)")
    tags = page.raw.count(b"<") if page.raw is not None else page.text.count("<")
    if tags > MAX_ELEMENTS:  # fewer tags than that, fewer elements: nothing to check
        _check_size(tree)
    return tree


# trafilatura.load_html's parser, repairs and fallbacks, for text already decoded. It also deletes
# control characters (libxml2 would turn them into U+FFFD) with a regular expression over the whole
# page: half of its time on real pages, which have none. Here that runs only when a quick scan
# finds some.
_HTML_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
_INVALID_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13))
_DOCTYPE_TAG = re.compile("^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.I)
_FAULTY_HTML = re.compile(r"(<html.*?)\s*/>", re.I)


def _has_invalid_chars(page: _Page) -> bool:
    text, raw = page.text, page.raw
    if "\ufffe" in text or "\uffff" in text:  # a one-character search is a memchr
        return True
    if raw is None:
        return _INVALID_XML_CHARS.search(text) is not None
    # bytes.translate is a C loop: a seventh of the regular expression's time. Every decoding keeps
    # control bytes as control characters (UTF-16 pages, full of NULs, take the slow path).
    return len(raw.translate(None, _CONTROL_BYTES)) != len(raw)


def _load_html(page: _Page) -> Any:
    text = page.text
    beginning = text[:50].lower()
    if _has_invalid_chars(page):
        text = _INVALID_XML_CHARS.sub("", text)
    if "doctype" in beginning:  # libxml2 bug 1955915: an XHTML doctype on the first line
        end = text.find("\n")
        first = text if end == -1 else text[:end]
        if _DOCTYPE_TAG.match(first):
            text = _DOCTYPE_TAG.sub("", first, count=1) + text[len(first) :]
    for line in text[:4096].splitlines()[:4]:  # a self-closing <html/>
        if "<html" in line and line.endswith("/>"):
            text = _FAULTY_HTML.sub(r"\1>", text, count=1)
            break
    tree, as_bytes = None, False
    try:
        tree = lxml.html.fromstring(text, parser=_HTML_PARSER)
    except ValueError:  # "Unicode strings with encoding declaration are not supported"
        tree, as_bytes = _parse_bytes(text), True
    except Exception:  # as trafilatura: a parser failure means no page
        tree = None
    if (tree is None or len(tree) < 1) and not as_bytes:
        tree = _parse_bytes(text)
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None  # no <html> at the start and hardly any structure: not an HTML page
    return tree


def _parse_bytes(text: str) -> Any:
    try:
        return lxml.html.fromstring(text.encode("utf8", "surrogatepass"), parser=_HTML_PARSER)
    except Exception:  # as trafilatura
        return None


def _check_size(tree: Any) -> None:
    elements = depth = deepest = 0
    for event, _el in etree.iterwalk(tree, events=("start", "end")):
        if event == "start":
            elements, depth = elements + 1, depth + 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    if elements > MAX_ELEMENTS:
        raise _PageError(TOO_LARGE, f"{elements:,} HTML elements (limit {MAX_ELEMENTS:,})")
    if deepest >= MAX_DEPTH:
        raise _PageError(
            TOO_LARGE, f"elements nested {MAX_DEPTH}+ deep (the HTML parser's limit): the rest is lost"
        )


def _article_text(tree: Any, french: bool) -> str:
    """Fast precision pass; the full pass (readability and jusText compared) when that gives less than
    trafilatura's own minimum extraction size (250 characters), the size under which its full
    mode turns to those fallbacks too."""
    text = _trafilatura_text(tree, fast=True, french=french)
    if len(text) < _options(True).min_extracted_size:
        full = _trafilatura_text(tree, fast=False, french=french)
        if len(full) > len(text):
            text = full
    return text


# trafilatura drops blocks by English class names ("author", "newsletter", "related", "share"...);
# French pages often name them in French.
_FRENCH_BOILERPLATE = (
    ".//*[self::div or self::p or self::section or self::aside or self::ul or self::span or self::nav]["
    + " or ".join(
        f"contains(@class, '{token}')"
        for token in (
            "auteur",
            "infolettre",
            "lire-aussi",
            "publicite",
            "partage",
            "commentaire",
            "abonnement",
        )
    )
    + "]"
)


def _french(tree: Any, meta: _Meta) -> bool:
    return (tree.get("lang") or meta.locale or "").lower().startswith("fr")


@functools.cache
def _options(fast: bool) -> Any:
    """trafilatura's options, built once (building them reads its config: a quarter of a millisecond).

    No URL: with links and images off, trafilatura uses it only in log messages.
    """
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="python", fast=fast, precision=True, comments=False, tables=True, with_metadata=False
    )


def _trafilatura_text(tree: Any, fast: bool, french: bool) -> str:
    prune = _FRENCH_BOILERPLATE if french else None
    doc: Any = trafilatura.bare_extraction(tree, options=_options(fast), prune_xpath=prune)  # copies the tree
    return str(doc.text or "") if doc is not None else ""


def _no_article(tree: Any, words: int, paywalled: bool) -> tuple[str, str]:
    if paywalled:
        return PAYWALLED, f"only {words} words of teaser before a subscription prompt"
    body = tree.find("body")
    if body is None or not body.text_content().strip():
        return EMPTY, "the page has no text"
    if words == 0:
        return NO_ARTICLE, "no article text (navigation, links or boilerplate only)"
    return NO_ARTICLE, f"only {words} words of article text (an article has {MIN_WORDS}+)"


# ------------------------------------------------------------------ per-outlet selectors


def _selected_text(tree: Any, selectors: Selectors, french: bool) -> tuple[str, str]:
    """Article text with an outlet's selectors, and a note when its body selector did not serve.

    The selectors work on a copy: the paywall check, dates, bylines and section read the whole page.
    """
    page = copy.deepcopy(tree)
    for selector in selectors.drop:
        for element in _css(selector)(page):
            if element.getparent() is not None:  # not inside an element dropped already
                element.drop_tree()  # keeps the text that follows it
    if selectors.body is None:
        return _article_text(page, french), ""
    found = _css(selectors.body)(page)
    if not found:
        note = f"body selector {selectors.body!r} matched nothing; generic extraction used"
        return _article_text(page, french), note
    text = _body_text(_outermost(found), french)
    words = len(text.split())
    if words < MIN_WORDS:
        generic = _article_text(page, french)
        if len(generic.split()) > words:
            note = f"body selector {selectors.body!r} matched {words} words; generic extraction used"
            return generic, note
    return text, ""


def _body_text(elements: list[Any], french: bool) -> str:
    """trafilatura on a page holding only the selected elements (moved out of the page's copy).

    They go into one container that trafilatura takes as the article body at once (it would
    otherwise take only the first of several sibling containers), stripped of their own classes
    and ids (the outlet says they are the article: no class name may mark them as boilerplate).
    Chosen by measurement (``bench/extract.py``, ``body_selector_strategies``): on the 72 dev pages
    where a common article-body selector matches, this keeps trafilatura's clean-up inside the
    body (F1 0.981, generic extraction of the whole page 0.980, at twice its speed), where taking
    the selection's paragraphs directly loses the text kept outside ``<p>`` and keeps in-body
    noise (F1 0.904).
    """
    page = lxml.html.Element("html")
    body = etree.SubElement(page, "body")
    container = etree.SubElement(body, "div", itemprop="articleBody")
    for element in elements:
        element.tail = None  # the text after the element is not in it
        element.attrib.clear()
        if element.tag in ("article", "section", "main"):
            element.tag = "div"
        container.append(element)
    return _article_text(page, french)


def _outermost(elements: list[Any]) -> list[Any]:
    """The matches not inside another match, in page order."""
    chosen = set(elements)
    return [el for el in elements if not any(a in chosen for a in el.iterancestors())]


@functools.lru_cache(maxsize=512)
def _css(selector: str) -> Any:
    """The selector compiled once (to XPath, by cssselect), for HTML: element names in any case."""
    from lxml.cssselect import CSSSelector

    return CSSSelector(selector, translator="html")


# ------------------------------------------------------------------ text clean-up and paywalls

# Subscription prompts, found from the needles "ubscri" and "bonn" with plain substring search
# (fast on a whole page); the patterns then look just after the needle, or just before it.
# Calls to action ("Subscribe to continue reading") mark a paywall wherever they are on the page;
# badges ("Subscribers only", "Réservé aux abonnés") may label links to other stories, so they
# count only inside the extracted text.
_PROMPT_NEEDLES = ("ubscri", "bonn")
_CALL_AFTER = re.compile(
    r"ubscribe(?: now| today)? to (?:(?:continue|keep) reading|read (?:the full|the rest))"
    r"|bonnez-vous(?: dès maintenant| maintenant)? pour (?:lire|continuer|poursuivre|accéder)",
    re.I,
)
_CALL_BEFORE = re.compile(
    r"(?:(?:continue|keep) reading,? (?:please )?s|(?:lire la suite|poursuivre votre lecture),? a)$", re.I
)
_BADGE_AFTER = re.compile(r"ubscribers?[ -]only", re.I)
_BADGE_BEFORE = re.compile(
    r"(?:(?:reserved|available|exclusive(?:ly)?) (?:only )?(?:to|for) (?:paid |our )?s"
    r"|réservée? (?:à nos|aux) a)$",
    re.I,
)
_TEXT_WITH = "//body//text()[contains(., $phrase)]"


def _prompts(text: str, badges: bool, start: int = 0) -> Iterator[tuple[int, int]]:
    """Spans of subscription prompts ("Subscribe to continue reading", "Abonnez-vous pour lire la suite")."""
    patterns = ((_CALL_AFTER, _CALL_BEFORE), (_BADGE_AFTER, _BADGE_BEFORE))[: 2 if badges else 1]
    for needle in _PROMPT_NEEDLES:
        at = text.find(needle, start)
        while at != -1:
            for after, before in patterns:
                found = after.match(text, at)
                if found:
                    yield at, found.end()
                    break
                found = before.search(text, max(0, at - 50), at)
                if found:
                    yield found.start(), at + len(needle)
                    break
            at = text.find(needle, at + 1)


def _clean_text(text: str, title: str) -> tuple[str, bool]:
    """Drop a repeated headline at the top; cut at a subscription prompt (and say so)."""
    lines = text.split("\n")
    while lines and title and _same_words(lines[0], title):
        lines.pop(0)
    text = "\n".join(_drop_header_lines(lines)).strip()
    for start, _end in _prompts(text, badges=True):
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        if (line_end if line_end != -1 else len(text)) - line_start < 400:  # a prompt, not a paragraph
            return text[:line_start].strip(), True
    return text, False


_DATELINE = re.compile(r"(?:published|updated|posted|last updated|publié|mis à jour)\b", re.I)
_NAME_WORD = re.compile(r"[A-ZÀ-Ý][\w'’.-]*,?|and|et|de|du|des|la|le|van|von|[,|&·]")


def _drop_header_lines(lines: list[str]) -> list[str]:
    """Bylines and datelines left above the first paragraph ("By A and B", "Publié le ...")."""
    kept: list[str] = []
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) >= 25 or i >= 4:
            return kept + lines[i:]
        if not (_is_byline(words) or (len(words) <= 15 and _DATELINE.match(line))):
            kept.append(line)
    return kept


def _is_byline(words: list[str]) -> bool:
    return (
        1 < len(words) <= 12
        and words[0].lower() in ("by", "par")
        and all(_NAME_WORD.fullmatch(w) for w in words[1:])
    )


def _same_words(a: str, b: str) -> bool:
    return WORDS.findall(a.casefold()) == WORDS.findall(b.casefold())


def _paywall_prompt_on_page(html: str, tree: Any) -> bool:
    """A visible subscription prompt anywhere on the page (the extractor may have dropped it)."""
    for start, end in _prompts(html, badges=False, start=max(0, html.find("<body"))):
        nodes = tree.xpath(_TEXT_WITH, phrase=html[start:end])
        if any(_visible(node.getparent()) for node in nodes):
            return True
    return False


def _visible(element: Any) -> bool:
    for el in (element, *element.iterancestors()):
        style = (el.get("style") or "").replace(" ", "").lower()
        hidden = el.get("hidden") is not None or el.get("aria-hidden") == "true" or "display:none" in style
        if hidden or el.tag in ("script", "style", "template", "noscript"):
            return False
    return True


# ------------------------------------------------------------------ metadata


@dataclass(slots=True)
class _Meta:
    title: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # as declared (ISO 8601 or RFC 822), normalised by _day/_moment
    modified: str | None = None
    canonical: str | None = None
    section: str | None = None
    paywalled: bool = False
    locale: str = ""


@dataclass(slots=True)
class _Head:
    """What one pass over the parsed page collects."""

    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name/property -> contents
    ld: list[dict[str, Any]] = field(default_factory=list)  # JSON-LD objects (@graph flattened)
    canonical: str | None = None
    title: str = ""
    h1: list[str] = field(default_factory=list)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            if self.meta.get(key):
                return self.meta[key][0]
        return None


_PUBLISHED_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "article.published",
    "pubdate",
    "publishdate",
    "publish-date",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "date",
    "time:published",
)
_MODIFIED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "article.updated",
    "dc.date.modified",
    "dcterms.modified",
    "last-modified",
    "time:updated",
)
_AUTHOR_KEYS = ("author", "article:author", "byl", "parsely-author", "sailthru.author", "dc.creator")
_SECTION_KEYS = ("article:section", "articlesection", "parsely-section", "section", "category")


def _metadata(tree: Any, url: str | None) -> _Meta:
    head = _read_head(tree)
    article = _ld_article(head.ld)
    site = head.first("og:site_name") or ""
    meta = _Meta(
        title=_title(head, article, site),
        authors=_names(article.get("author")) or _meta_authors(head),
        published=_ld_str(article.get("datePublished")) or head.first(*_PUBLISHED_KEYS),
        modified=_ld_str(article.get("dateModified")) or head.first(*_MODIFIED_KEYS),
        canonical=_canonical(head, url),
        section=_first_name(article.get("articleSection"))
        or head.first(*_SECTION_KEYS)
        or _ld_crumb(head.ld),
        paywalled=any(_not_free(item) for item in head.ld),
        locale=head.first("og:locale", "content-language") or "",
    )
    if meta.section:
        meta.section = _clip(meta.section, 80)
    return meta


def _read_head(tree: Any) -> _Head:
    head = _Head()
    for el in tree.iter("meta", "link", "script", "title", "h1", "time"):
        if el.tag == "time":
            _read_time(el, head)
        elif el.tag == "meta":
            key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
            content = (el.get("content") or "").strip()
            if key and content:
                head.meta.setdefault(key.strip().lower(), []).append(content)
        elif el.tag == "link":
            if head.canonical is None and "canonical" in (el.get("rel") or "").lower().split():
                head.canonical = (el.get("href") or "").strip() or None
        elif el.tag == "script":
            if (el.get("type") or "").strip().lower() == "application/ld+json":
                head.ld.extend(_ld_objects(el.text or ""))
        elif el.tag == "title":
            head.title = head.title or _squash(el.text_content())
        else:
            head.h1.append(_squash(el.text_content()))
    return head


def _read_time(el: Any, head: _Head) -> None:
    """``<time datetime>`` marked as the publication or the update (itemprop, hAtom classes)."""
    value = (el.get("datetime") or "").strip()
    kind = f"{el.get('itemprop') or ''} {el.get('class') or ''}".lower()
    if not value:
        return
    if "modif" in kind or "updat" in kind:
        head.meta.setdefault("time:updated", []).append(value)
    elif "publi" in kind or "entry-date" in kind or el.get("pubdate") is not None:
        head.meta.setdefault("time:published", []).append(value)


def _ld_objects(text: str) -> Iterator[dict[str, Any]]:
    try:
        data = json.loads(text, strict=False)
    except ValueError:
        return
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack.extend(reversed(graph))


def _ld_types(item: dict[str, Any]) -> set[str]:
    value = item.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.lower() for v in values if isinstance(v, str)}


def _ld_article(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The article's JSON-LD object; else the web page's (Yoast puts the dates there)."""
    page: dict[str, Any] = {}
    for item in items:
        types = _ld_types(item)
        if any(t.endswith(("article", "posting")) or t == "report" for t in types):
            return item
        if not page and any(t.endswith("webpage") for t in types):
            page = item
    return page


def _ld_str(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _ld_crumb(items: list[dict[str, Any]]) -> str | None:
    """The deepest breadcrumb that is not the home page (nor the article itself)."""
    for item in items:
        if "breadcrumblist" not in _ld_types(item) or not isinstance(item.get("itemListElement"), list):
            continue
        crumbs = [c for c in item["itemListElement"] if isinstance(c, dict)]
        crumbs.sort(key=_position)
        names = [n for n in (_first_name(c.get("name") or c.get("item")) for c in crumbs) if n]
        names = [n for n in names if n.casefold() not in _HOME]
        if len(names) > 1:
            names = names[:-1] if len(names[-1].split()) > 5 else names  # the last is often the headline
        return names[-1] if names else None
    return None


def _position(crumb: dict[str, Any]) -> int:
    position = crumb.get("position")
    return position if isinstance(position, int) else 0


_HOME = frozenset({"home", "accueil", "homepage", "front page", "news", "nouvelles"})


def _not_free(item: dict[str, Any]) -> bool:
    return item.get("isAccessibleForFree") in (False, "False", "false")


def _first_name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    if not isinstance(value, str):
        return None
    return _squash(value) or None


_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ")


def _title(head: _Head, article: dict[str, Any], site: str) -> str:
    """The headline as the page shows it: its only <h1>, else declared headlines, else <title>."""
    if len(head.h1) == 1 and len(head.h1[0].split()) > 1 and head.h1[0] != site:
        return head.h1[0]
    for candidate in (_ld_str(article.get("headline")), head.first("og:title", "twitter:title", "title")):
        if candidate:
            return _strip_site(_squash(candidate), site)
    title = _strip_site(head.title, site)
    for sep in _SEPARATORS:  # "Headline | Site": the last short part is the site's name
        first, _, last = title.rpartition(sep)
        if first and len(last.split()) <= 4:
            return first.strip()
    return title


def _strip_site(title: str, site: str) -> str:
    if site:
        for sep in _SEPARATORS:
            title = title.removesuffix(f"{sep}{site}").removeprefix(f"{site}{sep}")
    return title.strip()


def _canonical(head: _Head, url: str | None) -> str | None:
    """The page's canonical link (or og:url), made absolute; else the URL it came from."""
    og_url = head.first("og:url")
    base = url or og_url
    for link in (head.canonical, og_url):
        if link:
            absolute = urljoin(base, link) if base else link
            parts = urlsplit(absolute)
            if parts.scheme in ("http", "https") and parts.netloc:
                return absolute
    return url


_BY = re.compile(r"^(?:(?:written|posted|reported|story) )?(?:by|par)\s*:?\s+", re.I)
_NAME_SPLIT = re.compile(r"\s*(?:;|,|&|\||\band\b|\bet\b)\s*")


def _names(value: Any) -> list[str]:
    """Author names from a JSON-LD author value or a byline string."""
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return _unique(n for v in value for n in _names(v))
    if not isinstance(value, str):
        return []
    parts = _NAME_SPLIT.split(_BY.sub("", _squash(value)))
    return _unique(p for p in (_BY.sub("", x).strip(" .") for x in parts) if _is_name(p))


_NOT_NAME = ("http", "www.", "@", "/")
_CREDENTIALS = frozenset(
    ("md", "ms", "rd", "rn", "phd", "mph", "mba", "ma", "msc", "bsc", "jd", "esq", "jr", "sr")
)


def _is_name(text: str) -> bool:
    lowered = text.lower()
    return (
        0 < len(text) <= 60
        and len(text.split()) <= 6
        and lowered.replace(".", "") not in _CREDENTIALS  # "Jane Roe, MS, RD"
        and not any(s in lowered for s in _NOT_NAME)
    )


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return list(seen.values())


def _meta_authors(head: _Head) -> list[str]:
    for key in _AUTHOR_KEYS:
        names = _unique(n for value in head.meta.get(key, []) for n in _names(value))
        if names:
            return names
    return []


# Body markup for pages whose head declares no author or section: each XPath runs only when its
# needle occurs in the page text (a substring search costs a tenth of a whole-tree XPath).
_BYLINE_XPATHS = (
    ('author"', "//*[@itemprop='author' or @rel='author']"),
    ("yline", "(//*[contains(@class, 'byline') or contains(@class, 'Byline')])[1]"),
    ("/author/", "(//a[contains(@href, '/author/')][normalize-space()])[1]"),  # WordPress author links
)
_BYLINE_END = re.compile(r"\n|\||\s[-–—]\s|\b(?:published|updated|posted|publié|mis à jour)\b", re.I)
_SECTION_XPATHS = (  # (needle, XPath, take the deepest link: breadcrumbs go from home to the section)
    (
        "readcrumb",
        "(//*[contains(@class, 'readcrumb') or contains(@id, 'readcrumb')"
        " or contains(@aria-label, 'readcrumb')])[1]//a",
        True,
    ),
    ("ariane", "(//*[contains(@class, 'ariane') or contains(@aria-label, 'Ariane')])[1]//a", True),
    ('rel="category', "//a[@rel='category tag' or @rel='tag category' or @rel='category']", False),
)


def _byline_authors(html: str, tree: Any) -> list[str]:
    """Names marked up as authors in the page body."""
    names: list[str] = []
    for el in _xpath_if(html, tree, *_BYLINE_XPATHS[0]):
        named = el.xpath(".//*[@itemprop='name']")
        names.extend(_names((named[0] if named else el).text_content()))
    if names:
        return _unique(names)
    for needle, xpath in _BYLINE_XPATHS[1:]:
        for el in _xpath_if(html, tree, needle, xpath):
            text = _BYLINE_END.split(el.text_content().strip(), maxsplit=1)[0]
            return [n for n in _names(text) if n[:1].isupper()]
    return []


def _page_section(html: str, tree: Any) -> str | None:
    """Section from breadcrumbs (the deepest crumb but home) or category links (the first)."""
    for needle, xpath, deepest in _SECTION_XPATHS:
        names = [_squash(link.text_content()) for link in _xpath_if(html, tree, needle, xpath)]
        names = [n for n in names if n and n.casefold() not in _HOME]
        if names:
            return _clip(names[-1] if deepest else names[0], 80)
    return None


def _xpath_if(html: str, tree: Any, needle: str, xpath: str) -> list[Any]:
    return tree.xpath(xpath) if needle in html else []  # type: ignore[no-any-return]


# ------------------------------------------------------------------ dates


# How pages mark a later change, with its date: "Updated Nov. 5, 2025", <time class="updated"
# datetime="2025-10-19...">, "Mis à jour le 19 octobre 2025", "révisé le <time datetime=...>". A
# page without such a word followed by a year (perhaps after a day) has no update date to find:
# the words alone are on almost every page ("Sign up for updates", "revised terms"), and the
# search for the latest date costs about 1.5 ms a page.
UPDATE_HINT = re.compile(
    r"(?:updat|modif|mis[e]? [àa] jour|r[ée]vis)\D{0,60}(?:\d{1,2}\D{1,12})?(?:19|20)\d\d", re.IGNORECASE
)
# ``UPDATE_HINT.search`` over a whole page costs about 1.7 ms (no literal prefix for the regular
# expression engine to skip to, case ignored): the parts of the words below, in the cases pages
# write them, are found with ``str.find`` first, and the expression runs only in a window around
# each (a match starts at most 8 characters before its part and ends within 100 after it): 0.3
# ms on a 47 KB page, 1.2 ms on the 186 KB of a real one, where the whole search costs 6 ms.
_UPDATE_PARTS = ("pdat", "PDAT", "odif", "ODIF", " jour", " Jour", " JOUR", "vis", "VIS")


def update_hint(text: str) -> bool:
    """Whether *text* marks a change with its date: ``UPDATE_HINT.search(text)``, for any word
    written in lower, upper or title case."""
    for part in _UPDATE_PARTS:
        at = text.find(part)
        while at >= 0:
            if UPDATE_HINT.search(text, max(0, at - 8), at + 100):
                return True
            at = text.find(part, at + 1)
    return False


def _dates(tree: Any, meta: _Meta, url: str | None, text: str) -> tuple[str | None, str | None]:
    """Published and updated days (YYYY-MM-DD); htmldate looks where the metadata says nothing.

    ``updated`` is set only when the page was changed after it was published. A page that
    declares no date at all gets no ``updated``: there htmldate's latest date is the same guess
    as its original date (and twice the cost).
    """
    from htmldate import find_date

    published = _day(meta.published)
    if published is None:  # the quick search first: the extensive one loads dateparser's locales
        quick = find_date(tree, extensive_search=False, original_date=True, url=url)
        return quick or find_date(tree, extensive_search=True, original_date=True, url=url), None
    if meta.modified is not None:
        updated = _day(meta.modified)
        later = updated is not None and _later(meta.modified, meta.published, updated, published)
        return published, updated if later else None
    if not update_hint(text):  # (htmldate's search for the latest date costs ~1.5 ms)
        return published, None
    found = find_date(tree, extensive_search=False, original_date=False, url=url)
    return published, found if found and found > published else None


def _later(modified: str, declared: str | None, updated: str, published: str) -> bool:
    m, p = _moment(modified), _moment(declared)
    if m is not None and p is not None:
        return m > p
    return updated > published


_ISO_DAY = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})")
_COMPACT_DAY = re.compile(r"\s*(\d{4})(\d{2})(\d{2})(?:\D|$)")


def _day(value: str | None) -> str | None:
    """The calendar day a declared date names, as written (no time-zone shift); None if implausible."""
    if not value:
        return None
    match = _ISO_DAY.match(value) or _COMPACT_DAY.match(value)
    try:
        if match:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        else:
            day = parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None
    if not date(1990, 1, 1) <= day <= datetime.now(UTC).date() + timedelta(days=1):
        return None
    return day.isoformat()


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------ encodings


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("mediawatch-cp1252", _cp1252_fallback)

_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_BOM_CODECS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(raw: bytes) -> tuple[str, str]:
    """Text, and a note when the bytes were not what the page declared."""
    for bom, codec in _BOM_CODECS:
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace"), ""
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        pass
    declared = _declared_codec(raw[:4096])
    utf8_bytes = sum(len(m) for m in _UTF8_SEQUENCE.findall(raw))
    mostly_utf8 = utf8_bytes >= len(_HIGH_BYTE.findall(raw)) - utf8_bytes
    if declared is not None and declared != "utf-8" and not mostly_utf8:
        return raw.decode(declared, errors="replace"), ""
    if utf8_bytes:
        text = raw.decode("utf-8", errors="mediawatch-cp1252")
        return text, "mixed encodings: non-UTF-8 bytes read as Windows-1252"
    said = f"declared {declared}" if declared else "no charset declared"
    return raw.decode("cp1252", errors="replace"), f"not UTF-8 ({said}): read as Windows-1252"


def _declared_codec(head: bytes) -> str | None:
    match = _DECLARED.search(head)
    if match is None:
        return None
    try:
        name = codecs.lookup(match[1].decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name  # as browsers do (WHATWG)


# ------------------------------------------------------------------ language

# ------------------------------------------------------------------ small helpers


def _squash(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
