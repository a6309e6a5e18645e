"""Per-outlet CSS selectors for extraction: feeds.yaml `extraction:`, extract_html(selectors=...),
`mediawatch extract --outlet`.

The outlet pages under tests/fixtures/pages/ are the team's own fictional articles written in the
markup style of real Canadian outlets (see that folder's README). Each has two goldens beside it:
NAME.json, generic extraction (checked by tests/test_extract.py), and NAME.outlet.json, extraction
with the outlet's selectors taken from the real feeds.yaml. Regenerate both after a deliberate
change with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_extract.py tests/test_extract_overrides.py
-k golden`` and read the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import extract
from pipeline.cli import main
from pipeline.config import Extraction, load_feeds
from pipeline.errors import ConfigError
from pipeline.extract import extract_file, extract_html
from pipeline.records import Extracted, Selectors

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT / "feeds.yaml"
PAGES = Path(__file__).parent / "fixtures" / "pages"
POSTMEDIA = PAGES / "en-postmedia-style-mosque-security-grants.html"
GLOBE = PAGES / "en-globe-style-campus-teach-in.html"
LAPRESSE = PAGES / "fr-lapresse-style-collecte-laval.html"
OUTLET_PAGES = [  # (outlet in feeds.yaml, page in its markup style)
    ("national-post", POSTMEDIA),
    ("montreal-gazette", POSTMEDIA),
    ("globe-and-mail", GLOBE),
    ("la-presse", LAPRESSE),
]


@pytest.fixture(scope="module")
def real_selectors() -> dict[str, Selectors]:
    feeds = load_feeds(FEEDS)
    return {outlet.id: outlet.extraction.selectors() for outlet in feeds.outlets}


def _as_golden(doc: Extracted) -> dict[str, object]:
    fields = {f.name: getattr(doc, f.name) for f in dataclasses.fields(doc) if f.name != "source"}
    fields["text"] = doc.text.split("\n") if doc.text else []
    return fields


# ------------------------------------------------------------------ outlet-style pages


@pytest.mark.parametrize(("outlet", "page"), OUTLET_PAGES, ids=[o for o, _ in OUTLET_PAGES])
def test_golden_outlet_page_with_the_outlets_selectors(
    outlet: str, page: Path, real_selectors: dict[str, Selectors]
) -> None:
    golden = page.with_suffix(".outlet.json")
    result = _as_golden(extract_file(page, real_selectors[outlet]))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert result == json.loads(golden.read_text(encoding="utf-8"))
    assert result["status"] == "ok" and result["reason"] == ""


# Noise generic extraction keeps, and article text it loses, on each outlet's markup.
NOISE = [
    (POSTMEDIA, "Recommended from Editorial"),  # related-stories box inside the body
    (POSTMEDIA, "Start every weekday with the stories Kestrel Bay is talking about"),  # newsletter box
    (POSTMEDIA, "you agree to receive this newsletter"),
    (POSTMEDIA, "Read more: School board report"),  # inline promo
    (POSTMEDIA, "Continue reading below"),  # label between paragraphs
    (LAPRESSE, "Lisez aussi « Aide humanitaire"),  # inline "read also" link
    (LAPRESSE, "PHOTO JULIEN MARCOUX-DESROSIERS"),  # photo credit inside the body
    (LAPRESSE, "Publicité"),  # ad slot label
]
LOST = [  # the text containers after the first ad slot
    (GLOBE, "A panel of three law professors took questions"),
    (GLOBE, "Campus security said both groups were peaceful"),
    (GLOBE, "a second session on Palestinian literature is planned for January"),
]
OUTLET_OF = {POSTMEDIA: "national-post", GLOBE: "globe-and-mail", LAPRESSE: "la-presse"}


@pytest.mark.parametrize(("page", "noise"), NOISE, ids=[f"{p.stem[:12]}:{n[:24]}" for p, n in NOISE])
def test_generic_extraction_keeps_noise_that_the_outlets_selectors_remove(
    page: Path, noise: str, real_selectors: dict[str, Selectors]
) -> None:
    assert noise in extract_file(page).text
    assert noise not in extract_file(page, real_selectors[OUTLET_OF[page]]).text


@pytest.mark.parametrize(("page", "sentence"), LOST, ids=[s[:30] for _, s in LOST])
def test_generic_extraction_loses_paragraphs_that_the_outlets_selectors_keep(
    page: Path, sentence: str, real_selectors: dict[str, Selectors]
) -> None:
    assert sentence not in extract_file(page).text
    assert sentence in extract_file(page, real_selectors[OUTLET_OF[page]]).text


@pytest.mark.parametrize("page", [POSTMEDIA, GLOBE, LAPRESSE], ids=lambda p: p.stem[:16])
def test_selectors_keep_the_metadata_of_the_whole_page(
    page: Path, real_selectors: dict[str, Selectors]
) -> None:
    generic, selected = extract_file(page), extract_file(page, real_selectors[OUTLET_OF[page]])
    for name in ("title", "published", "updated", "authors", "canonical_url", "section", "language"):
        assert getattr(selected, name) == getattr(generic, name), name
    assert selected.title and selected.authors and selected.published and selected.section


def test_the_real_feeds_file_marks_its_selectors_unverified() -> None:
    text = FEEDS.read_text(encoding="utf-8")
    blocks = text.split("\n    extraction:\n")[1:]
    assert len(blocks) == 4
    for before in text.split("\n    extraction:\n")[:-1]:
        comment = before.rsplit("\n    sources:", 1)[-1][-400:]
        assert "UNVERIFIED" in comment and "fixture markup" in comment


# ------------------------------------------------------------------ how selectors behave

PARAGRAPH = (
    "<p>Paragraph {i}: the harbour commission confirmed on Thursday that the north pier will reopen "
    "in the spring after two winters of repairs and a long dispute over who pays for them.</p>"
)


def _page(body: str, head: str = "") -> str:
    return (
        f"<html><head><title>North pier to reopen in the spring</title>{head}</head><body>"
        f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>{body}"
        "<footer><p>© 2026 Example Harbour News. All rights reserved.</p></footer></body></html>"
    )


STORY = _page(
    "<article><h1>North pier to reopen in the spring</h1>"
    "<div class='story-body'>"
    + "".join(PARAGRAPH.format(i=i) for i in range(3))
    + "<div class='tip-box'><p>Got a story tip? Send it to the newsroom by text message any time.</p></div>"
    + "<p>The commission will publish the contract <a class='promo' href='/x'>SEE ALSO: the 2024 audit</a>"
    " next week, its chair said.</p>"
    "</div></article>"
)


def test_no_selectors_and_empty_selectors_change_nothing() -> None:
    generic = extract_html(STORY, source="x")
    assert not Selectors()
    assert extract_html(STORY, source="x", selectors=Selectors()) == generic
    assert "Got a story tip?" in generic.text  # what the drop selectors below remove


def test_drop_selectors_remove_elements_and_keep_the_text_after_them() -> None:
    doc = extract_html(STORY, source="x", selectors=Selectors(drop=("div.tip-box", "a.promo")))
    assert doc.status == "ok" and doc.reason == ""
    assert "Got a story tip?" not in doc.text
    assert "SEE ALSO" not in doc.text
    assert "The commission will publish the contract next week, its chair said." in doc.text
    assert "Paragraph 2: the harbour commission" in doc.text


def test_body_selector_takes_the_text_of_that_element_only() -> None:
    page = _page(
        "<div class='wrap-a'>" + "".join(PARAGRAPH.format(i=i) for i in range(3)) + "</div>"
        "<div class='wrap-b'><p>Ferry fares rise by 5 per cent in January, the operator announced "
        "on Monday, citing fuel and wages; monthly passes are not affected this year.</p></div>"
    )
    assert "Ferry fares rise" in extract_html(page, source="x").text
    doc = extract_html(page, source="x", selectors=Selectors(body="div.wrap-a"))
    assert (doc.status, doc.reason) == ("ok", "")
    assert doc.text.split("\n") == [
        PARAGRAPH.format(i=i).removeprefix("<p>").removesuffix("</p>") for i in range(3)
    ]


def test_body_selector_matching_several_containers_keeps_them_all_in_page_order() -> None:
    page = _page(
        "<div class='body-part'>"
        + PARAGRAPH.format(i=0)
        + PARAGRAPH.format(i=1)
        + "<div class='body-part'>"  # nested in a match: taken once, with its container
        + PARAGRAPH.format(i=2)
        + "</div></div><div class='slot'><p>Story continues after this message</p></div>"
        "<div class='body-part'>" + PARAGRAPH.format(i=3) + PARAGRAPH.format(i=4) + "</div>"
    )
    doc = extract_html(page, source="x", selectors=Selectors(body="div.body-part"))
    assert [line.split(":")[0] for line in doc.text.split("\n")] == [f"Paragraph {i}" for i in range(5)]
    assert "Story continues" not in doc.text


def test_body_selector_matching_nothing_falls_back_to_generic_extraction_and_says_so() -> None:
    doc = extract_html(STORY, source="x", selectors=Selectors(body="div.article-text"))
    assert doc.status == "ok"
    assert doc.text == extract_html(STORY, source="x").text
    assert doc.reason == "body selector 'div.article-text' matched nothing; generic extraction used"


def test_body_selector_matching_too_little_text_falls_back_and_says_so() -> None:
    doc = extract_html(STORY, source="x", selectors=Selectors(body="div.tip-box"))
    assert doc.status == "ok"
    assert "Paragraph 0: the harbour commission" in doc.text
    assert doc.reason == "body selector 'div.tip-box' matched 14 words; generic extraction used"


def test_fallback_note_joins_the_encoding_note() -> None:
    raw = STORY.replace("harbour", "harbour café").encode("latin-1")
    doc = extract_html(raw, source="x", selectors=Selectors(body="div.gone"))
    assert doc.reason == (
        "not UTF-8 (no charset declared): read as Windows-1252; "
        "body selector 'div.gone' matched nothing; generic extraction used"
    )


def test_page_metadata_and_paywall_prompt_are_read_before_anything_is_dropped() -> None:
    head = '<meta name="author" content="Ines Kowalczyk"><meta property="article:section" content="Harbour">'
    overlay = "<div class='paywall-box'><p>Subscribe to continue reading this story.</p></div>"
    page = _page(
        "<article><h1>North pier to reopen in the spring</h1><p class='byline'>By Ines Kowalczyk</p>"
        + "".join(PARAGRAPH.format(i=i) for i in range(3))
        + "</article>"
        + overlay,
        head,
    )
    doc = extract_html(page, source="x", selectors=Selectors(drop=("p.byline", "div.paywall-box", "h1")))
    assert doc.title == "North pier to reopen in the spring"
    assert (doc.authors, doc.section, doc.paywalled) == (["Ines Kowalczyk"], "Harbour", True)


def test_selectors_are_compiled_once_per_string() -> None:
    assert extract._css("div.story-body p") is extract._css("div.story-body p")
    extract_html(STORY, source="x", selectors=Selectors(body="div.story-body", drop=("div.tip-box",)))
    hits = extract._css.cache_info().hits
    extract_html(STORY, source="x", selectors=Selectors(body="div.story-body", drop=("div.tip-box",)))
    assert extract._css.cache_info().hits == hits + 2


def test_an_invalid_selector_given_directly_is_an_error_status_not_an_exception() -> None:
    doc = extract_html(STORY, source="x", selectors=Selectors(body="div[oops"))
    assert (doc.status, doc.text) == ("error", "")
    assert doc.reason.startswith("SelectorSyntaxError")


def test_extraction_without_selectors_imports_no_css_config_or_numpy() -> None:
    code = (
        "import sys; from pathlib import Path; from pipeline.extract import extract_file; "
        f"d = extract_file(Path({str(GLOBE)!r})); assert d.status == 'ok', d; "
        "print(sorted(m for m in ('cssselect', 'pydantic', 'pipeline.config', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ feeds.yaml validation

FEEDS_TEXT = """\
outlets:
  - id: alpha-news
    name: Alpha News
    language: en
    extraction:
      body_selector: section.article-content
      drop_selectors:
        - div.related-links
        - aside.newsletter
    sources:
      - url: https://alpha.example/feed.xml
"""


def _feeds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extraction_block_gives_selectors(tmp_path: Path) -> None:
    outlet = load_feeds(_feeds(tmp_path, FEEDS_TEXT)).outlet("alpha-news")
    assert outlet.extraction.selectors() == Selectors(
        body="section.article-content", drop=("div.related-links", "aside.newsletter")
    )
    assert not Extraction().selectors()


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        (
            "body_selector: section.article-content",
            "body_selector: 'section[class'",
            "extraction.body_selector",
        ),
        ("- aside.newsletter", "- 'aside..newsletter'", "extraction.drop_selectors[1]"),
        ("- div.related-links", "- 'div:nth-child(x)'", "extraction.drop_selectors[0]"),
        ("- aside.newsletter", "- '  '", "extraction.drop_selectors[1]"),
    ],
    ids=["body-unclosed-bracket", "drop-double-dot", "drop-bad-pseudo-class", "drop-blank"],
)
def test_invalid_selector_is_a_config_error_naming_line_outlet_and_field(
    tmp_path: Path, before: str, after: str, field: str
) -> None:
    text = FEEDS_TEXT.replace(before, after)
    assert text != FEEDS_TEXT
    path = _feeds(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    message = str(info.value)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if after in row)
    assert message.startswith(f"{path}:{line}: outlet 'alpha-news': field 'outlets[0].{field}'")
    assert "CSS selector" in message


# ------------------------------------------------------------------ mediawatch extract --outlet


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def _texts(output: str) -> list[str]:
    return [json.loads(line)["text"] for line in output.splitlines()]


def test_extract_command_applies_the_outlets_selectors(cli: CliRunner) -> None:
    args = ["extract", str(GLOBE), "--feeds", str(FEEDS), "--outlet", "globe-and-mail"]
    result = cli.invoke(main, args)
    assert result.exit_code == 0, result.output
    golden = json.loads(GLOBE.with_suffix(".outlet.json").read_text(encoding="utf-8"))
    assert _texts(result.output) == ["\n".join(golden["text"])]
    plain = cli.invoke(main, ["extract", str(GLOBE)])
    assert "a second session on Palestinian literature" not in _texts(plain.output)[0]


def test_extract_command_reads_the_settings_feeds_file_by_default(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = _feeds(tmp_path, FEEDS_TEXT.replace("section.article-content", "div.c-article-body__text"))
    monkeypatch.setenv("MEDIAWATCH_FEEDS_FILE", str(feeds))
    result = cli.invoke(main, ["extract", str(GLOBE), "--outlet", "alpha-news"])
    assert result.exit_code == 0, result.output
    assert "a second session on Palestinian literature" in _texts(result.output)[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--outlet", "no-such-paper", "--feeds", str(FEEDS)], "unknown outlet 'no-such-paper'"),
        (["--feeds", str(FEEDS)], "give --outlet too"),
        (["--outlet", "alpha-news", "--feeds", "missing-feeds.yaml"], "missing-feeds.yaml: cannot read"),
    ],
    ids=["unknown-outlet", "feeds-without-outlet", "missing-feeds-file"],
)
def test_extract_command_outlet_errors_are_one_line(cli: CliRunner, args: list[str], needle: str) -> None:
    result = cli.invoke(main, ["extract", str(GLOBE), *args])
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert len(out.splitlines()) == 1 and needle in out


def test_extract_command_reports_a_bad_selector_in_the_feeds_file(cli: CliRunner, tmp_path: Path) -> None:
    feeds = _feeds(tmp_path, FEEDS_TEXT.replace("- div.related-links", "- 'div[x'"))
    result = cli.invoke(main, ["extract", str(GLOBE), "--outlet", "alpha-news", "--feeds", str(feeds)])
    out = result.output.strip()
    assert result.exit_code == 2 and len(out.splitlines()) == 1
    assert "outlet 'alpha-news'" in out and "drop_selectors[0]" in out
