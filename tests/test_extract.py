"""Article extraction (pipeline/extract.py): demo pages, golden pages, paywalls, bad input, encodings."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from pathlib import Path

import pytest

from pipeline import extract
from pipeline.errors import InputError
from pipeline.extract import detect_language, extract_file, extract_html
from pipeline.records import Extracted

SITE = Path(__file__).resolve().parents[1] / "pipeline" / "demo" / "site"
MAPLE = SITE / "maple-ledger/2026/11/khan-younis-family-killed-airstrike.html"
COURRIER = SITE / "courrier-du-fleuve/2026/11/gaza-frappe-enseignante-deux-fils.html"
LAKESHORE = SITE / "lakeshore-daily/2026/11/west-bank-settlers-attack-olive-pickers.html"
PRAIRIE = SITE / "prairie-broadcast/2026/11/regina-family-mourns-relatives-gaza.html"


@pytest.fixture(scope="module")
def maple() -> Extracted:
    return extract_file(MAPLE)


@pytest.fixture(scope="module")
def courrier() -> Extracted:
    return extract_file(COURRIER)


# ------------------------------------------------------------------ demo pages


def test_english_page_title_and_body(maple: Extracted) -> None:
    assert maple.status == "ok"
    assert maple.source == str(MAPLE)
    assert maple.title.startswith("‘She wanted to be a pharmacist’: Israeli airstrike kills seven")
    assert "| The Maple Ledger" not in maple.title
    assert "an Israeli airstrike hit the house" in maple.text
    assert "Rana’s classmates held up her student card" in maple.text  # last paragraph too


@pytest.mark.parametrize(
    "boilerplate",
    [
        "We use cookies",  # cookie banner
        "Manage preferences",
        "Life & Arts",  # navigation
        "Related stories",
        "Canada backs UN General Assembly resolution",  # related link
        "Start your day with the stories that matter",  # newsletter box
        "All rights reserved",  # footer
        "Editorial code of conduct",
    ],
)
def test_english_page_text_has_no_boilerplate(maple: Extracted, boilerplate: str) -> None:
    assert boilerplate not in maple.text


def test_english_page_metadata(maple: Extracted) -> None:
    assert maple.language == "en"
    assert maple.authors == ["Hélène Varga"]
    assert maple.published == "2026-11-17"


def test_french_page_title_body_and_metadata(courrier: Extracted) -> None:
    assert courrier.status == "ok"
    assert courrier.title.startswith("« Elle corrigeait encore des copies »")
    assert "ont été tués par une frappe aérienne israélienne" in courrier.text
    assert courrier.language == "fr"
    assert courrier.authors == ["Claudine Aubertin"]
    assert courrier.published == "2026-11-19"


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Ce site utilise des témoins",  # cookie banner
        "Économie",  # navigation
        "À lire aussi",
        "Des centaines de manifestants pro-Hamas défilent",  # related link
        "L’infolettre du Courrier",  # newsletter box
        "Tous droits réservés",  # footer
    ],
)
def test_french_page_text_has_no_boilerplate(courrier: Extracted, boilerplate: str) -> None:
    assert boilerplate not in courrier.text


@pytest.mark.parametrize(
    ("page", "sentence", "language", "author"),
    [
        (LAKESHORE, "attacked a group of Palestinian farmers and volunteers", "en", "Ines Kowalczyk"),
        (PRAIRIE, "Osama Darwish checked his phone every morning", "en", "Aaron Lindqvist-Moore"),
    ],
)
def test_other_outlet_markups_extract_body_language_and_author(
    page: Path, sentence: str, language: str, author: str
) -> None:
    doc = extract_file(page)
    assert doc.status == "ok"
    assert sentence in doc.text
    assert doc.language == language
    assert doc.authors == [author]


def test_html_gz_file_gives_the_same_result(tmp_path: Path, maple: Extracted) -> None:
    gz = tmp_path / "story.html.gz"
    gz.write_bytes(gzip.compress(MAPLE.read_bytes()))
    doc = extract_file(gz)
    assert doc.status == "ok"
    assert doc.source == str(gz)
    assert doc.title == maple.title
    assert doc.text == maple.text


def test_gzipped_bytes_are_decoded_by_extract_html(maple: Extracted) -> None:
    doc = extract_html(gzip.compress(MAPLE.read_bytes()), source="mem")
    assert doc.text == maple.text


# ------------------------------------------------------------------ golden pages (fictional outlets)
#
# Each page under tests/fixtures/pages/ has its expected result beside it (NAME.json: every
# Extracted field but ``source``; ``text`` as a list of paragraphs). After a deliberate change,
# regenerate them with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_extract.py -k golden`` and
# read the diff before committing it.

PAGES = Path(__file__).parent / "fixtures" / "pages"
GOLDEN_PAGES = sorted(PAGES.glob("*.html"))


def _as_golden(doc: Extracted) -> dict[str, object]:
    fields = {f.name: getattr(doc, f.name) for f in dataclasses.fields(doc) if f.name != "source"}
    fields["text"] = doc.text.split("\n") if doc.text else []
    return fields


@pytest.mark.parametrize("page", GOLDEN_PAGES, ids=[p.stem for p in GOLDEN_PAGES])
def test_golden_page(page: Path) -> None:
    golden = page.with_suffix(".json")
    result = _as_golden(extract_file(page))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert result == json.loads(golden.read_text(encoding="utf-8"))


def test_golden_pages_cover_both_languages_and_a_paywall() -> None:
    docs = [extract_file(p) for p in GOLDEN_PAGES]
    assert {d.language for d in docs if d.status == "ok"} == {"en", "fr"}
    assert any(d.paywalled and d.status == "ok" for d in docs)
    assert any(d.status == "paywalled" for d in docs)


@pytest.mark.parametrize(
    ("name", "noise"),
    [
        ("en-harbour-gazette-council-ceasefire", "We use cookies"),  # consent banner
        ("en-harbour-gazette-council-ceasefire", "Arts & Life"),  # navigation
        ("en-harbour-gazette-council-ceasefire", "Advertisement"),  # ad slots
        ("en-harbour-gazette-council-ceasefire", "Waterfront condo tower"),  # related link in the body
        ("en-harbour-gazette-council-ceasefire", "Morning Brief"),  # newsletter box in the body
        ("en-harbour-gazette-council-ceasefire", "Share on"),  # share tools
        ("en-harbour-gazette-council-ceasefire", "Total waste of an evening"),  # reader comment
        ("en-harbour-gazette-council-ceasefire", "Causeway bridge"),  # most-read sidebar
        ("en-harbour-gazette-council-ceasefire", "All rights reserved"),  # footer
        ("en-harbour-gazette-council-ceasefire", "By Tamsin"),  # byline: it is in authors
        ("fr-le-riverain-vigile-montreal", "témoins"),  # consent banner
        ("fr-le-riverain-vigile-montreal", "Publicité"),
        ("fr-le-riverain-vigile-montreal", "À lire aussi"),
        ("fr-le-riverain-vigile-montreal", "budget municipal"),  # related link
        ("fr-le-riverain-vigile-montreal", "infolettre"),
        ("fr-le-riverain-vigile-montreal", "émouvant sur place"),  # reader comment
        ("fr-le-riverain-vigile-montreal", "Par Josée"),  # byline
        ("fr-le-riverain-vigile-montreal", "Mis à jour"),  # dateline
        ("fr-le-riverain-vigile-montreal", "Tous droits réservés"),
        ("en-northern-ledger-paywall", "Subscribe"),  # the subscription prompt
        ("en-northern-ledger-paywall", "Sign in"),
        ("en-northern-ledger-paywall", "tuition freeze"),  # previous-post link
    ],
)
def test_golden_page_text_has_no_boilerplate(name: str, noise: str) -> None:
    doc = extract_file(PAGES / f"{name}.html")
    assert doc.status == "ok"
    assert noise not in doc.text


def test_metadata_from_the_head_and_from_the_page_body() -> None:
    gazette = extract_file(PAGES / "en-harbour-gazette-council-ceasefire.html")  # og/JSON-LD head
    assert gazette.authors == ["Tamsin Achterberg", "Devon Okonkwo-Reid"]  # JSON-LD authors
    assert (gazette.published, gazette.updated, gazette.section) == ("2025-09-24", "2025-09-25", "Local News")
    assert (
        gazette.canonical_url
        == "https://harbourgazette.example/news/2025/09/port-calder-council-ceasefire-motion"
    )
    riverain = extract_file(PAGES / "fr-le-riverain-vigile-montreal.html")  # bylines, crumbs, <time>
    assert riverain.authors == ["Josée Bellemare-Nadeau", "Karim Haddad"]  # rel=author links
    assert riverain.section == "Montréal"  # the deepest breadcrumb
    assert riverain.updated == "2025-10-19"  # <time class="updated">
    assert riverain.title == "Une vigile à Montréal pour les civils tués à Gaza réunit près de 800 personnes"


def test_relative_canonical_link_is_resolved_against_the_page_url() -> None:
    html = (PAGES / "en-harbour-gazette-council-ceasefire.html").read_bytes()
    html = html.replace(b'<meta property="og:url"', b'<meta property="og:ignored"')
    doc = extract_html(html, source="x", url="https://mirror.example/story?id=1")
    assert doc.canonical_url == "https://mirror.example/news/2025/09/port-calder-council-ceasefire-motion"
    assert extract_html(html, source="x").canonical_url is None  # relative, and nothing to resolve it


def test_dates_come_from_htmldate_when_the_metadata_has_none() -> None:
    html = (PAGES / "fr-le-riverain-vigile-montreal.html").read_text(encoding="utf-8")
    html = html.replace('property="article:published_time"', 'property="x-none"')
    html = html.replace('<time class="updated"', "<time")
    doc = extract_html(html, source="x")
    assert doc.published == "2025-10-18"
    assert doc.updated is None  # a page that declares no date gets no update date


@pytest.mark.parametrize(
    ("marker", "searched", "updated"),
    [
        (
            'Updated <time class="modified" datetime="2025-10-19T09:15:00-04:00">19 oct.</time>',
            0,
            "2025-10-19",
        ),
        ('<span class="modified">Updated Oct. 20, 2025</span>', 1, None),  # searched; htmldate: none
        ("Inscrivez-vous: updates, mises à jour 24/7, revised terms (3 pages)", 0, None),
    ],
)
def test_the_update_date_is_searched_only_where_a_word_marks_a_dated_change(
    marker: str, searched: int, updated: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that declares its publication but not its change is searched for a later date only
    when "updated", "mis à jour"... is followed by a date: the words alone are on most pages. (A
    change the page marks up is read from the markup, with no search.)"""
    import htmldate

    html = (PAGES / "fr-le-riverain-vigile-montreal.html").read_text(encoding="utf-8")
    old = 'Mis à jour le <time class="updated" datetime="2025-10-19T09:15:00-04:00">19 octobre 2025 à 9 h 15</time>'  # noqa: E501
    assert old in html
    calls = []
    find_date = htmldate.find_date
    monkeypatch.setattr(htmldate, "find_date", lambda *a, **k: calls.append(k) or find_date(*a, **k))
    doc = extract_html(html.replace(old, marker), source="x")
    assert (doc.published, doc.updated, len(calls)) == ("2025-10-18", updated, searched)


def test_the_quick_update_hint_finds_what_the_whole_page_search_finds() -> None:
    """``update_hint`` looks for the expression only around the parts of its words: it must give
    ``UPDATE_HINT.search``'s answer, with matches at the start and end of the text, in every case
    pages write, and on pages full of near misses ("visit", "updates", years far away)."""
    import random

    marks = [
        "Updated Nov. 5, 2025",
        "UPDATED: 2025-11-05",
        "updated 5 nov 2025",
        "Last modified 2024",
        "MODIFIED ON 12 MARCH 2023",
        "Mis à jour le 19 octobre 2025",
        "Mise a jour 2025",
        "MIS À JOUR LE 3 MAI 2022",
        "Mis À Jour le 3 mai 2022",
        "Révisé le 4 juin 2021",
        "RÉVISÉ LE 4 JUIN 2021",
        "revised 1999",
        "REVISED " + "x" * 56 + " 2020",  # the longest gap the expression allows
    ]
    misses = [
        "Sign up for updates",
        "visit our site in 2025",
        "Updated" + " " * 61 + "2025",  # too far
        "mis à jour 24/7",
        "television 2020",
        "revised terms (3 pages)",
    ]
    rng = random.Random(5)
    filler = ["lorem", "visitor", "ipsum", "modi", "update", "19", "20", "Jour", "2", "odd", "division"]
    texts = marks + misses
    for _ in range(300):
        words = [rng.choice(filler) for _ in range(rng.randint(0, 400))]
        if rng.random() < 0.5:
            words.insert(rng.randint(0, len(words)), rng.choice(marks + misses))
        texts.append(" ".join(words))
    texts += [m + " end" for m in marks] + ["start " + m for m in marks]
    for text in texts:
        assert extract.update_hint(text) == bool(extract.UPDATE_HINT.search(text)), text[:80]
    assert all(extract.update_hint(m) for m in marks)
    assert not any(extract.update_hint(m) for m in misses)


# ------------------------------------------------------------------ paywalls


def _article(paragraphs: int, extra: str = "", head: str = "") -> str:
    body = "".join(
        f"<p>Paragraph {i}: the regional transit authority confirmed on Monday that the new line will open "
        f"in the spring, after two years of delays blamed on supply problems and a labour dispute.</p>"
        for i in range(paragraphs)
    )
    return (
        f"<html><head><title>Transit line to open in spring</title>{head}</head>"
        f"<body><article><h1>Transit line to open in spring</h1>{body}</article>{extra}</body></html>"
    )


def test_paywall_prompt_outside_the_article_is_flagged() -> None:
    overlay = '<div class="overlay"><p>Subscribe to continue reading this story.</p></div>'
    doc = extract_html(_article(3, overlay), source="x")
    assert doc.status == "ok" and doc.paywalled


@pytest.mark.parametrize(
    "extra",
    [
        '<div class="paywall" hidden><p>Subscribe to continue reading</p></div>',  # template, hidden
        '<div style="display: none"><p>Abonnez-vous pour lire la suite</p></div>',
        "<script>var prompt = 'Subscribe to continue reading';</script>",
        '<p><a href="/subscribe">Subscribe</a> to our newsletter for daily updates.</p>',
        '<aside><a href="/budget">Budget : ce qui change</a> <span>Réservé aux abonnés</span></aside>',
        '<aside><a href="/vote">Inside the vote</a> <em>Subscribers only</em></aside>',
    ],
    ids=["hidden-attribute", "display-none", "script", "newsletter-link", "badge-fr", "badge-en"],
)
def test_free_article_is_not_flagged_as_paywalled(extra: str) -> None:
    doc = extract_html(_article(3, extra), source="x")
    assert doc.status == "ok" and not doc.paywalled


def test_json_ld_is_accessible_for_free_false_flags_a_paywall() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": false}</script>'
    )
    assert extract_html(_article(3, head=head), source="x").paywalled


# ------------------------------------------------------------------ bad or empty input: status, never raise

PARA = (
    "<p>Le café de la rue Saint-Denis a rouvert ses portes après des travaux de trois mois, a expliqué "
    "la propriétaire, très émue de revoir sa clientèle fidèle (jour {i}).</p>"
)
FRENCH_BODY = "".join(PARA.format(i=i) for i in range(6))
NAV_ONLY = (
    b"<html><head><title>Sections</title></head><body><header><nav><ul>"
    b"<li><a href='/news'>News</a></li><li><a href='/sports'>Sports</a></li>"
    b"<li><a href='/opinion'>Opinion</a></li></ul></nav></header><main></main>"
    b"<footer><p>Copyright 2026 Example Media. All rights reserved.</p></footer></body></html>"
)
CONSENT_WALL = (
    b"<html><head><title>Example News</title></head><body>"
    b"<div class='cookie-banner' id='cookie-consent'><p>We use cookies to improve your "
    b"experience. Accept all cookies?</p><button>Accept</button></div>"
    b"<footer><p>Contact us | Privacy policy | Terms of use</p></footer></body></html>"
)
BAD_INPUT = [
    ("empty-bytes", b"", "empty", "empty"),
    ("whitespace", b"  \n\t ", "empty", "empty"),
    ("blank-body", b"<html><body>   \n  </body></html>", "empty", "no text"),
    ("nav-and-footer-only", NAV_ONLY, "no_article", "no article text"),
    ("consent-wall", CONSENT_WALL, "no_article", "words of article text"),
    (
        "two-sentences",
        _article(0, "<p>Short note: the meeting is postponed.</p>").encode(),
        "no_article",
        "words",
    ),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "not_html", "PNG image"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "not_html", "PDF"),
    ("nul-bytes", b"<html>\x00\x01\x02" + bytes(range(256)) * 8, "not_html", "NUL"),
    ("control-characters", bytes(range(1, 9)) * 200 + b"<p>x</p>", "not_html", "control characters"),
    ("json", b'{"error": "not found", "status": 404}', "not_html", "JSON"),
    ("plain-text", b"Just a line of plain text, with no markup at all.", "not_html", "plain text"),
    ("truncated-gzip", gzip.compress(_article(3).encode())[:40], "not_html", "gzip"),
    ("gzip-bomb", gzip.compress(b" " * 6_000_000), "too_large", "decompresses to more than 5.0 MB"),
    ("over-5-mb", b"<html><body>" + b"<div>" * 1_100_000 + b"</body></html>", "too_large", "5.5 MB"),
    (
        "deeply-nested-divs",
        b"<html><body>" + b"<div>" * 400_000 + b"<p>deep</p>" + b"</div>" * 400_000 + b"</body></html>",
        "too_large",
        "nested 256+ deep",
    ),
    ("45k-elements", _article(0, "<p>Words.</p>" * 45_000).encode(), "too_large", "45,0"),
]


@pytest.mark.parametrize(
    ("raw", "status", "reason"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_gets_a_status_and_a_reason(raw: bytes, status: str, reason: str) -> None:
    doc = extract_html(raw, source="bad.html")
    assert (doc.status, doc.text, doc.language) == (status, "", None)
    assert reason in doc.reason


def test_unexpected_failure_is_an_error_status_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(extract.trafilatura, "bare_extraction", broken)
    doc = extract_html(_article(3), source="x.html")
    assert (doc.status, doc.text) == ("error", "")
    assert doc.reason == "RuntimeError: parser exploded"


def test_title_and_metadata_are_kept_for_a_page_without_article() -> None:
    doc = extract_file(PAGES / "fr-quotidien-estuaire-abonnes.html")
    assert (doc.status, doc.text, doc.paywalled) == ("paywalled", "", True)
    assert doc.title.startswith("Aide humanitaire")
    assert (doc.published, doc.authors, doc.section) == (
        "2025-03-02",
        ["Mathilde Ouellet-Sirois"],
        "Politique",
    )


# ------------------------------------------------------------------ broken encodings


def _page(charset: str, body: str = FRENCH_BODY, title: str = "Café") -> str:
    head = f'<head><meta charset="{charset}"><title>{title}</title></head>'
    return f"<html>{head}<body><article>{body}</article></body></html>"


def test_latin1_bytes_declared_utf8_are_read_as_windows_1252() -> None:
    doc = extract_html(_page("utf-8").encode("latin-1"), source="latin1.html")
    assert doc.status == "ok"
    assert "Saint-Denis a rouvert ses portes après des travaux" in doc.text
    assert doc.language == "fr"
    assert "Windows-1252" in doc.reason


def test_utf8_bytes_declared_latin1_are_read_as_utf8() -> None:
    doc = extract_html(_page("iso-8859-1").encode("utf-8"), source="utf8.html")
    assert doc.status == "ok"
    assert "très émue" in doc.text and "Ã" not in doc.text
    assert doc.reason == ""


def test_mixed_utf8_and_windows_1252_bytes_are_both_decoded() -> None:
    utf8 = _page("utf-8", FRENCH_BODY.replace("Saint-Denis", "Saint‑Laurent")).encode("utf-8")
    cp1252 = "<p>Un deuxième café, rue Émery, a fermé ses portes « pour de bon » après l’été.</p>".encode(
        "cp1252"
    )
    raw = utf8.replace(b"</article>", cp1252 + b"</article>")
    doc = extract_html(raw, source="mixed.html")
    assert doc.status == "ok"
    assert "Saint‑Laurent" in doc.text  # UTF-8 part (with a non-breaking hyphen)
    assert "Un deuxième café, rue Émery, a fermé ses portes « pour de bon » après l’été." in doc.text
    assert "\ufffd" not in doc.text
    assert "mixed encodings" in doc.reason


def test_declared_single_byte_charset_is_honoured() -> None:
    body = "".join(
        f"<p>Городской совет утвердил новый бюджет на транспорт во вторник вечером, сообщили ({i}).</p>"
        for i in range(6)
    )
    doc = extract_html(_page("windows-1251", body, "Бюджет").encode("cp1251"), source="cp1251.html")
    assert doc.status == "ok"
    assert "Городской совет утвердил новый бюджет" in doc.text
    assert doc.language is None  # neither English nor French


def test_utf16_with_bom_is_decoded() -> None:
    doc = extract_html(_page("utf-16").encode("utf-16"), source="utf16.html")
    assert doc.status == "ok"
    assert "très émue" in doc.text


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16", "str"])
@pytest.mark.parametrize("stray", ["\x01", "\x0b", "\x1f", "\ufffe", "\uffff"], ids=repr)
def test_stray_control_characters_are_deleted_not_replaced(encoding: str, stray: str) -> None:
    if encoding == "cp1252" and stray in "\ufffe\uffff":
        pytest.skip("not in Windows-1252")
    body = FRENCH_BODY.replace("Saint-Denis", f"Saint{stray}-Denis")
    page = _page("utf-16" if encoding == "utf-16" else "utf-8", body)
    doc = extract_html(page if encoding == "str" else page.encode(encoding), source="stray.html")
    assert doc.status == "ok"
    assert "Le café de la rue Saint-Denis a rouvert" in doc.text
    assert "\ufffd" not in doc.text


# ------------------------------------------------------------------ files


def test_missing_file_is_an_input_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "gone.html"
    with pytest.raises(InputError, match="cannot read") as info:
        extract_file(path)
    assert str(path) in str(info.value)


def test_corrupt_gz_is_an_input_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.html.gz"
    path.write_bytes(gzip.compress(b"<html><body><p>hello</p></body></html>")[:20])
    with pytest.raises(InputError, match="gzip") as info:
        extract_file(path)
    assert str(path) in str(info.value)


def test_plain_bytes_named_gz_are_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "not-really.html.gz"
    path.write_bytes(b"<html><body>not compressed</body></html>")
    with pytest.raises(InputError, match="not a valid gzip"):
        extract_file(path)


def test_oversized_file_is_too_large_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.html"
    with path.open("wb") as fh:
        fh.truncate(6_000_000)  # sparse: nothing to read
    doc = extract_file(path)
    assert (doc.status, doc.source) == ("too_large", str(path))
    assert "6.0 MB" in doc.reason


def test_gz_file_inflating_past_the_limit_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "bomb.html.gz"
    path.write_bytes(gzip.compress(b"<p>" * 2_000_000))
    assert extract_file(path).status == "too_large"


# ------------------------------------------------------------------ language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The city council approved the new transit budget on Tuesday evening.", "en"),
        ("Le conseil municipal a adopté le nouveau budget du transport mardi soir.", "fr"),
        ("Gaza: strikes kill 12", "en"),  # too few function words: py3langid decides
        ("Gaza : douze morts dans des frappes nocturnes", "fr"),
        ("Westbrook d. Port Calder 61-48, Riverside d. Eastdale 55-12 and Harbourview d. Northvale", "en"),
        ("short", None),
        ("   ", None),
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_text_in_another_language_is_neither_english_nor_french() -> None:
    german = (
        "Der Stadtrat hat am Dienstagabend nach einer langen Debatte einen neuen Haushalt für den "
        "öffentlichen Nahverkehr beschlossen. Die Fahrpreise bleiben im kommenden Jahr stabil, "
        "während die Stadt zusätzliche Busse für die Vororte bestellt. Kritiker bemängeln, dass "
        "die Finanzierung der neuen Straßenbahnlinie weiterhin ungeklärt ist und die Bürger zu "
        "spät informiert wurden. Eine Entscheidung darüber soll erst im Frühjahr fallen, sagte die "
        "Bürgermeisterin nach der Sitzung."
    )
    assert detect_language(german) is None
