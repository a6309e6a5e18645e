"""Article extraction on the bundled demo pages and on broken input (pipeline/extract.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

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


# ------------------------------------------------------------------ bad or empty input


def test_truncated_gzip_bytes_are_not_html_without_exception() -> None:
    doc = extract_html(gzip.compress(MAPLE.read_bytes())[:40], source="cut.gz")
    assert doc.status == "not_html"
    assert doc.text == ""


def test_bytes_with_nuls_are_not_html() -> None:
    doc = extract_html(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, source="image.png")
    assert doc.status == "not_html"
    assert doc.text == ""


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"<html><body>   \n  </body></html>",
        (
            b"<html><head><title>Sections</title></head><body><header><nav><ul>"
            b"<li><a href='/news'>News</a></li><li><a href='/sports'>Sports</a></li>"
            b"<li><a href='/opinion'>Opinion</a></li></ul></nav></header><main></main>"
            b"<footer><p>Copyright 2026 Example Media. All rights reserved.</p></footer></body></html>"
        ),
    ],
    ids=["empty", "blank-body", "nav-and-footer-only"],
)
def test_page_without_article_is_empty(html: bytes) -> None:
    doc = extract_html(html, source="p.html")
    assert doc.status == "empty"
    assert doc.text == ""
    assert doc.language is None


def test_consent_wall_without_article_is_empty() -> None:
    html = (
        "<html><head><title>Example News</title></head><body>"
        "<div class='cookie-banner' id='cookie-consent'><p>We use cookies to improve your "
        "experience. Accept all cookies?</p><button>Accept</button></div>"
        "<footer><p>Contact us | Privacy policy | Terms of use</p></footer></body></html>"
    )
    assert extract_html(html, source="wall.html").status == "empty"


def test_latin1_bytes_declared_utf8_do_not_raise() -> None:
    paragraphs = "".join(
        f"<p>Le café de la rue Saint-Denis a rouvert ses portes après des travaux de trois mois, "
        f"a expliqué la propriétaire, très émue de revoir sa clientèle fidèle (jour {i}).</p>"
        for i in range(6)
    )
    html = (
        '<html><head><meta charset="utf-8"><title>Café</title></head><body><article>'
        f"<h1>Un café rouvre à Montréal</h1>{paragraphs}</article></body></html>"
    )
    doc = extract_html(html.encode("latin-1"), source="latin1.html")
    assert doc.status == "ok"
    assert "Saint-Denis a rouvert ses portes" in doc.text
    assert doc.language == "fr"


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


# ------------------------------------------------------------------ language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The city council approved the new transit budget on Tuesday evening.", "en"),
        ("Le conseil municipal a adopté le nouveau budget du transport mardi soir.", "fr"),
        ("short", None),
        ("   ", None),
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected
