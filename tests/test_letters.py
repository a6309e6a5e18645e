"""Letter templates (pipeline/letters.py) and alert drafts (pipeline/alert.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.alert import ArticleInfo, draft_alert, priority, recipient, sentence_around
from pipeline.errors import ConfigError
from pipeline.letters import (
    LetterContext,
    LetterTemplates,
    TalkingPoint,
    TalkingPoints,
    count_words,
    load_talking_points,
    short_quote,
)
from pipeline.records import Evidence, Score

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "alerts" / "templates"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

QUOTE_EN = "At least 12 people died in Gaza on Tuesday, according to the Hamas-run health ministry."
QUOTE_FR = "Douze personnes sont mortes à Gaza mardi, selon le ministère de la Santé contrôlé par le Hamas."
TITLE = "Twelve dead in overnight Gaza violence"
URL = "https://herald.example/world/2026/11/twelve-dead"


@pytest.fixture(scope="module")
def templates() -> LetterTemplates:
    return LetterTemplates(TEMPLATES)


def _issue(category: str, quote: str, replacement: str | None = None) -> dict[str, Any]:
    return {
        "category": category,
        "quote": quote,
        "match": quote.split()[0],
        "explanation": "The sentence does not say who killed these people.",
        "replacement": replacement,
    }


def _point(i: int, language: str, words: int = 12) -> dict[str, Any]:
    filler = " ".join(["context"] * max(0, words - 6))
    return {
        "id": f"tp-{i}",
        "categories": ["agentless_casualties"],
        "language": language,
        "text": f"Talking point {i} cites the authority {filler}.",
        "source": f"Source {i}",
        "url": None,
    }


def _ctx(
    kind: str = "complaint",
    language: str = "en",
    issues: list[dict[str, Any]] | None = None,
    points: int = 0,
    point_words: int = 12,
    wire: dict[str, Any] | None = None,
) -> LetterContext:
    quote = QUOTE_EN if language == "en" else QUOTE_FR
    category = "agentless_casualties" if kind == "complaint" else "good_coverage"
    return LetterContext(
        kind=kind,
        language=language,
        outlet={"name": "The Test Herald", "reach": 4},
        recipient="letters@herald.example",
        article={"title": TITLE, "url": URL, "published": "2026-11-17"},
        issues=issues if issues is not None else [_issue(category, quote)],
        talking_points=[_point(i, language, point_words) for i in range(points)],
        wire=wire,
    )


# ------------------------------------------------------------------ rendering the real templates


@pytest.mark.parametrize(
    ("kind", "language", "greeting", "subject_start"),
    [
        ("complaint", "en", "To the editor,", "Concern about"),
        ("praise", "en", "To the editor,", "Thank you for"),
        ("complaint", "fr", "Madame, Monsieur,", "Au sujet de"),
        ("praise", "fr", "Madame, Monsieur,", "Merci pour"),
    ],
)
def test_letter_names_article_outlet_url_and_quotes_evidence(
    templates: LetterTemplates, kind: str, language: str, greeting: str, subject_start: str
) -> None:
    draft = templates.render(_ctx(kind, language, points=1), None)
    quote = QUOTE_EN if language == "en" else QUOTE_FR
    assert draft.language == language
    assert draft.kind == kind
    assert draft.subject.startswith(subject_start)
    assert TITLE in draft.subject
    assert draft.body.startswith(greeting)
    for needed in (TITLE, "The Test Herald", URL, "2026-11-17", quote):
        assert needed in draft.body
    assert "Talking point 0" in draft.body
    assert "[optional]" not in draft.body
    assert draft.recipient == "letters@herald.example"
    assert draft.word_count == count_words(draft.body)


def test_complaint_asks_for_the_replacement_wording(templates: LetterTemplates) -> None:
    issues = [_issue("agentless_casualties", QUOTE_EN, replacement="Israeli strikes killed 12 Palestinians")]
    draft = templates.render(_ctx(issues=issues), None)
    assert '"Israeli strikes killed 12 Palestinians" would be accurate' in draft.body


def test_headline_complaint_asks_for_a_headline_change(templates: LetterTemplates) -> None:
    issues = [_issue("headline_framing", "Strike kills 4 militants, 11 others")]
    draft = templates.render(_ctx(issues=issues), None)
    assert "change the headline" in draft.body


def test_complaint_names_the_first_two_issues(templates: LetterTemplates) -> None:
    issues = [
        _issue("agentless_casualties", QUOTE_EN),
        _issue("casualty_doubt", "The figures could not be independently verified."),
    ]
    draft = templates.render(_ctx(issues=issues), None)
    assert "deaths reported without saying who caused them" in draft.body
    assert "doubt cast on casualty figures for one side only" in draft.body
    assert "The figures could not be independently verified." in draft.body


def test_wire_story_letter_mentions_the_agency(templates: LetterTemplates) -> None:
    wire = {"agency": "The Canadian Press", "republishers": ["The Lakeshore Daily"]}
    draft = templates.render(_ctx(wire=wire), None)
    assert "The Canadian Press" in draft.body
    assert "The Lakeshore Daily" in draft.body


def test_french_letters_elide_que_and_de(templates: LetterTemplates) -> None:
    complaint = templates.render(
        _ctx(
            language="fr",
            issues=[_issue("agentless_casualties", QUOTE_FR), _issue("casualty_doubt", QUOTE_FR)],
        ),
        None,
    )
    praise = templates.render(_ctx("praise", "fr"), None)
    for body in (complaint.body, praise.body):
        assert "que un" not in body
        assert " de un " not in body


# ------------------------------------------------------------------ word limit


def _long_ctx() -> LetterContext:
    return _ctx(
        points=2,
        point_words=45,
        wire={"agency": "The Canadian Press", "republishers": ["A Daily", "B Times"]},
        issues=[
            _issue("agentless_casualties", QUOTE_EN, replacement="Israeli strikes killed 12 Palestinians")
        ],
    )


def test_word_limit_drops_optional_paragraphs_and_keeps_required(templates: LetterTemplates) -> None:
    full = templates.render(_long_ctx(), None)
    assert full.word_count > 150  # the test needs a letter over the limit
    draft = templates.render(_long_ctx(), 150)
    assert draft.word_count <= 150
    assert count_words(draft.body) == draft.word_count
    assert draft.dropped_paragraphs > 0
    assert draft.word_limit == 150
    assert QUOTE_EN in draft.body  # the quote stays
    assert "I ask you to correct the wording" in draft.body  # the request stays
    assert URL in draft.body


def test_word_limit_drops_last_optional_paragraph_first(templates: LetterTemplates) -> None:
    full = templates.render(_long_ctx(), None)
    # just under the full length: dropping the last optional paragraph (the wire note) is enough
    draft = templates.render(_long_ctx(), full.word_count - 1)
    assert draft.dropped_paragraphs == 1
    assert "The Canadian Press" not in draft.body
    assert "Talking point 1" in draft.body


def test_no_word_limit_drops_nothing(templates: LetterTemplates) -> None:
    draft = templates.render(_long_ctx(), None)
    assert draft.dropped_paragraphs == 0
    assert "Talking point 0" in draft.body
    assert "Talking point 1" in draft.body
    assert "The Canadian Press" in draft.body


def test_letter_within_limit_is_untouched(templates: LetterTemplates) -> None:
    draft = templates.render(_ctx(points=1), 2000)
    assert draft.dropped_paragraphs == 0
    assert "Talking point 0" in draft.body


def test_count_words_counts_apostrophes_and_hyphens_as_one_word() -> None:
    assert count_words("L’armée n'a pas pu; a well-known 12-year-old.") == 7


def test_short_quote_caps_words_with_ellipsis() -> None:
    assert short_quote("one two three", words=5) == "one two three"
    assert short_quote("one  two\nthree four", words=2) == "one two …"


# ------------------------------------------------------------------ broken templates


def _template_dir(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    directory = _template_dir(tmp_path)
    broken = directory / "fr" / "praise.txt.j2"
    broken.write_text("Objet : x\n\nMadame, Monsieur,\n{{ article.title }\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        LetterTemplates(directory)
    assert str(info.value).startswith(f"{broken}:4:")


def test_missing_template_names_the_file(tmp_path: Path) -> None:
    directory = _template_dir(tmp_path)
    (directory / "en" / "praise.txt.j2").unlink()
    with pytest.raises(ConfigError, match=r"praise\.txt\.j2"):
        LetterTemplates(directory)


def test_undefined_variable_is_a_config_error_at_render(tmp_path: Path) -> None:
    directory = _template_dir(tmp_path)
    (directory / "en" / "praise.txt.j2").write_text("Subject: x\n\n{{ no_such_thing }}\n", encoding="utf-8")
    loaded = LetterTemplates(directory)  # compiles fine
    with pytest.raises(ConfigError, match="no_such_thing"):
        loaded.render(_ctx("praise"), None)


@pytest.mark.parametrize(
    "expression",
    ["''.__class__.__mro__", "article.title.format.__globals__", "outlet.__class__.__subclasses__()"],
)
def test_sandbox_refuses_python_internals(tmp_path: Path, expression: str) -> None:
    directory = _template_dir(tmp_path)
    (directory / "en" / "praise.txt.j2").write_text(
        f"Subject: x\n\n{{{{ {expression} }}}}\n", encoding="utf-8"
    )
    loaded = LetterTemplates(directory)
    with pytest.raises(ConfigError, match="unsafe"):
        loaded.render(_ctx("praise"), None)


# ------------------------------------------------------------------ alert drafts


def _points() -> TalkingPoints:
    return TalkingPoints(
        talking_points=[
            TalkingPoint(
                id="name-the-agent",
                categories=["agentless_casualties"],
                language="en",
                text="Wire style guides ask reporters to say who killed whom when it is known.",
                source="Style guide",
            ),
            TalkingPoint(
                id="nommer-auteur",
                categories=["agentless_casualties"],
                language="fr",
                text="Les guides de rédaction demandent de dire qui a tué qui.",
                source="Guide",
            ),
        ]
    )


ARTICLE_TEXT = (
    "Officials met on Monday. At least 12 people died in Gaza on Tuesday, according to the "
    "Hamas-run health ministry. The figures could not be independently verified."
)


def _score(alert: bool = True, kind: str | None = "complaint", severity: float = 0.8) -> Score:
    start = ARTICLE_TEXT.index("At least")
    doubt = ARTICLE_TEXT.index("Hamas-run")
    return Score(
        id="a1",
        relevant=True,
        relevance=0.95,
        categories={"agentless_casualties": 0.8, "casualty_doubt": 0.6, "loaded_language": 0.7},
        alert=alert,
        kind=kind,
        severity=severity,
        evidence=[
            Evidence("casualty_doubt", "Hamas-run", doubt, doubt + 9, "rule:doubt", "Doubt.", None),
            Evidence(
                "agentless_casualties",
                "12 people died",
                start + 9,
                start + 23,
                "rule:agentless",
                "Nobody named.",
                "Israeli strikes killed 12 Palestinians",
            ),
        ],
    )


def _article(published: datetime | None = NOW - timedelta(hours=3), language: str = "en") -> ArticleInfo:
    return ArticleInfo(title=TITLE, text=ARTICLE_TEXT, url=URL, published=published, language=language)


def _outlet(reach: int = 4, word_limit: int | None = None) -> dict[str, Any]:
    return {
        "id": "test-herald",
        "name": "The Test Herald",
        "reach": reach,
        "letters": {"email": "letters@herald.example", "word_limit": word_limit},
        "complaint_routes": [],
    }


def test_score_without_alert_gives_no_draft(templates: LetterTemplates) -> None:
    score = _score(alert=False, kind=None)
    assert draft_alert(score, _article(), _outlet(), templates, _points(), now=NOW) is None


def test_complaint_draft_has_evidence_letter_and_categories(templates: LetterTemplates) -> None:
    draft = draft_alert(_score(), _article(), _outlet(), templates, _points(), now=NOW)
    assert draft is not None
    assert draft.kind == "complaint"
    # strongest first; loaded_language has no evidence, so it is not an issue
    assert draft.categories == ["agentless_casualties", "casualty_doubt"]
    assert {e.category for e in draft.evidence} == {"agentless_casualties", "casualty_doubt"}
    assert draft.summary.startswith("complaint: deaths reported without saying who caused them")
    letter = draft.letter
    assert TITLE in letter.body and URL in letter.body
    # the whole sentence around the evidence is quoted
    assert (
        "At least 12 people died in Gaza on Tuesday, according to the Hamas-run health ministry."
        in letter.body
    )
    assert "Wire style guides" in letter.body  # talking point in the article's language
    assert "Les guides" not in letter.body
    assert letter.recipient == "letters@herald.example"


def test_french_article_gets_a_french_letter(templates: LetterTemplates) -> None:
    draft = draft_alert(_score(), _article(language="fr"), _outlet(), templates, _points(), now=NOW)
    assert draft is not None
    assert draft.letter.language == "fr"
    assert draft.letter.body.startswith("Madame, Monsieur,")
    assert "Les guides de rédaction" in draft.letter.body


def test_praise_draft_uses_the_praise_letter(templates: LetterTemplates) -> None:
    score = _score(kind="praise")
    score.categories["good_coverage"] = 0.9
    start = ARTICLE_TEXT.index("Officials")
    score.evidence = [Evidence("good_coverage", "Officials met", start, start + 13, "model", "Good.")]
    draft = draft_alert(score, _article(), _outlet(), templates, _points(), now=NOW)
    assert draft is not None
    assert draft.kind == "praise"
    assert draft.categories == ["good_coverage"]
    assert draft.letter.subject.startswith("Thank you for")


def test_outlet_word_limit_is_applied(templates: LetterTemplates) -> None:
    draft = draft_alert(_score(), _article(), _outlet(word_limit=2000), templates, _points(), now=NOW)
    assert draft is not None
    assert draft.letter.word_limit == 2000


def test_complaint_without_evidence_does_not_raise(templates: LetterTemplates) -> None:
    score = _score()
    score.evidence = []
    draft = draft_alert(score, _article(), _outlet(), templates, _points(), now=NOW)
    assert draft is None or TITLE in draft.letter.body


def test_priority_grows_with_reach(templates: LetterTemplates) -> None:
    big = draft_alert(_score(), _article(), _outlet(reach=5), templates, _points(), now=NOW)
    small = draft_alert(_score(), _article(), _outlet(reach=1), templates, _points(), now=NOW)
    assert big is not None and small is not None
    assert big.priority > small.priority


def test_priority_is_higher_for_recent_articles(templates: LetterTemplates) -> None:
    recent = draft_alert(
        _score(), _article(NOW - timedelta(hours=2)), _outlet(), templates, _points(), now=NOW
    )
    old = draft_alert(_score(), _article(NOW - timedelta(days=20)), _outlet(), templates, _points(), now=NOW)
    assert recent is not None and old is not None
    assert recent.priority > old.priority


def test_priority_grows_with_severity_and_ignores_future_dates() -> None:
    assert priority(0.9, 3, NOW, NOW) > priority(0.5, 3, NOW, NOW)
    assert priority(0.9, 3, NOW + timedelta(days=2), NOW) == priority(0.9, 3, NOW, NOW)


def test_recipient_falls_back_to_first_complaint_route() -> None:
    outlet = {
        "letters": {"email": None},
        "complaint_routes": [{"body": "Ombud", "contact": "ombud@x.example"}],
    }
    assert recipient(outlet) == "ombud@x.example"
    assert recipient({"letters": {}, "complaint_routes": []}) is None


def test_sentence_around_extends_match_to_its_sentence() -> None:
    start = ARTICLE_TEXT.index("12 people")
    assert sentence_around(ARTICLE_TEXT, start, start + 9) == (
        "At least 12 people died in Gaza on Tuesday, according to the Hamas-run health ministry."
    )


# ------------------------------------------------------------------ talking points


def test_real_talking_points_load_and_filter_by_language() -> None:
    points = load_talking_points(ROOT / "alerts" / "talking_points.yaml")
    assert points.talking_points
    assert {tp.language for tp in points.talking_points} == {"en", "fr"}
    categories = sorted({c for tp in points.talking_points for c in tp.categories})
    for language in ("en", "fr"):
        chosen = points.for_categories(language, categories, limit=100)
        assert chosen
        assert all(tp.language == language for tp in chosen)
        assert len({tp.id for tp in chosen}) == len(chosen)


def test_for_categories_ranks_by_category_order_and_limits() -> None:
    points = TalkingPoints(
        talking_points=[
            TalkingPoint(id="a", categories=["missing_context"], language="en", text="A", source="s"),
            TalkingPoint(id="b", categories=["casualty_doubt"], language="en", text="B", source="s"),
            TalkingPoint(
                id="c", categories=["casualty_doubt", "missing_context"], language="en", text="C", source="s"
            ),
            TalkingPoint(id="d", categories=["casualty_doubt"], language="fr", text="D", source="s"),
        ]
    )
    chosen = points.for_categories("en", ["casualty_doubt", "missing_context"], limit=3)
    assert [tp.id for tp in chosen] == ["b", "c", "a"]
    assert [tp.id for tp in points.for_categories("en", ["casualty_doubt"], limit=1)] == ["b"]
    assert [tp.id for tp in points.for_categories("fr", ["casualty_doubt"])] == ["d"]
    assert points.for_categories("en", ["islamophobia"]) == []


def test_bad_talking_points_file_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "talking_points.yaml"
    path.write_text(
        "talking_points:\n  - id: tp-one\n    categories: [missing_context]\n    language: de\n"
        "    text: Something.\n    source: Somewhere\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_talking_points(path)
    assert str(info.value).startswith(f"{path}:4:")
    assert "language" in str(info.value)


def test_an_undated_article_leaves_no_empty_date_in_the_letter(make_alert: Any, store: Any) -> None:
    alert_id = make_alert(published=None)
    detail = store.alert_detail(alert_id)
    draft = detail.letters[0]
    assert "()" not in draft.subject and ", ," not in draft.body and "(The Maple Ledger, http" in draft.body
