"""Sourcing balance (pipeline/sourcing.py) and the `rules test|check` command, on team-written text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_feeds
from pipeline.demo import DEMO_FEEDS
from pipeline.records import Extracted
from pipeline.settings import Settings
from pipeline.sourcing import ONE_SIDE_MIN, SOURCE, quotes, sourcing_balance, sourcing_evidence
from pipeline.store import Store

ONE_SIDED_EN = (
    "Israeli strikes killed 31 people in Deir al-Balah overnight. The Israeli military said it hit a "
    'command post. "Our forces acted with precision," said the IDF. According to Israeli officials, '
    "the operation will go on for weeks. A spokesperson for the Israeli army told reporters that "
    "tunnels ran under the school."
)
PALESTINIAN_VOICES = (
    " The Gaza Health Ministry said most of the dead were women and children. A Palestinian father "
    "told reporters his two sons were asleep when the roof fell."
)
ONE_SIDED_FR = (
    "Des frappes ont tué 18 personnes à Gaza dans la nuit. L'armée israélienne a déclaré avoir visé "
    "un entrepôt d'armes. Selon Tsahal, des combattants s'y cachaient. « Nous continuerons », a "
    "affirmé le premier ministre israélien. Le gouvernement israélien affirme que la guerre durera."
)


def test_quotes_find_speaker_affiliation_and_offsets() -> None:
    found = quotes(ONE_SIDED_EN, "en")
    assert [q.speaker for q in found] == ["Israeli military", "IDF", "Israeli officials", "Israeli army"]
    assert {q.affiliation for q in found} == {"israeli_official"}
    for q in found:
        assert ONE_SIDED_EN[q.start : q.end] == q.speaker
        a, b = q.span
        assert a <= q.start and q.end <= b


def test_one_sided_article_gives_evidence_with_exact_offsets() -> None:
    (ev,) = sourcing_evidence("Strikes hit Deir al-Balah", ONE_SIDED_EN, "en")
    assert ev.category == "one_sided_sourcing" and ev.source == SOURCE and ev.field == "text"
    assert ONE_SIDED_EN[ev.start : ev.end] == ev.quote == "Israeli military said"
    assert ev.explanation.startswith("4 attributions to Israeli officials, none to Palestinian")


def test_balanced_article_gives_no_evidence() -> None:
    text = ONE_SIDED_EN + PALESTINIAN_VOICES
    balance = sourcing_balance(text, "en")
    assert (balance.israeli, balance.palestinian) == (4, 2)
    assert balance.by_affiliation["palestinian_civilian"] == 1
    assert sourcing_evidence("Strikes hit Deir al-Balah", text, "en") == []


def test_too_few_attributions_or_no_war_give_no_evidence() -> None:
    two = (
        "Israeli strikes killed 9 people in Gaza. The IDF said it hit militants. "
        "Israeli officials said more would come."
    )
    assert sourcing_balance(two, "en").israeli == 2 < ONE_SIDE_MIN
    assert sourcing_evidence("", two, "en") == []
    budget = (
        "The city said the budget grew. Israeli officials said trade talks went well. The Israeli "
        "government said exports rose. An Israeli official told the council about tourism."
    )
    assert sourcing_balance(budget, "en").israeli == 3
    assert sourcing_evidence("Trade talks", budget, "en") == []  # not about the war


def test_independent_sources_outnumbering_the_dominant_side_give_no_evidence() -> None:
    text = ONE_SIDED_EN + (
        " UNRWA said shelters were full. Amnesty International said the strike must be investigated. "
        "Save the Children said children were among the dead. The World Health Organization said "
        "hospitals had run out of fuel. Human Rights Watch said the school was a shelter."
    )
    assert sourcing_balance(text, "en").independent == 5
    assert sourcing_evidence("", text, "en") == []


def test_french_one_sided_article() -> None:
    found = quotes(ONE_SIDED_FR, "fr")
    assert [q.affiliation for q in found] == ["israeli_official"] * 4
    (ev,) = sourcing_evidence("Guerre à Gaza", ONE_SIDED_FR, "fr")
    assert ONE_SIDED_FR[ev.start : ev.end] == ev.quote
    assert ev.explanation.startswith("4 attributions à des responsables israéliens, aucune")


def test_french_balanced_article() -> None:
    text = ONE_SIDED_FR + " Le ministère de la Santé de Gaza a déclaré que 18 personnes étaient mortes."
    assert sourcing_balance(text, "fr").palestinian == 1
    assert sourcing_evidence("Guerre à Gaza", text, "fr") == []


@pytest.mark.parametrize(
    ("sentence", "affiliation"),
    [
        ("According to the Hamas-run health ministry, 40 people died.", "palestinian_official"),
        ("Hamas said the ceasefire talks had stalled.", "hamas"),
        ("The Palestinian Red Crescent said an ambulance was hit.", "palestinian_official"),
        ("B'Tselem said the raid broke the law.", "rights_group"),
        ("The WHO said the hospital was out of fuel.", "un_agency"),
        ("A resident of Khan Younis said the tents burned.", "palestinian_civilian"),
        ("The Hostages and Missing Families Forum said talks must go on.", "israeli_civilian"),
        ("Global Affairs Canada said it was monitoring the situation.", "canadian_government"),
    ],
)
def test_gazetteer_aliases(sentence: str, affiliation: str) -> None:
    (q,) = quotes(sentence, "en")
    assert q.affiliation == affiliation


def test_pronouns_and_lowercase_acronyms_are_not_speakers() -> None:
    assert quotes("He said the strike hit a school in Gaza.", "en") == []
    assert quotes("Those who said nothing were spared.", "en") == []


# ------------------------------------------------------------------ mediawatch rules test|check

CLASH = {
    "id": "a1",
    "title": "Clashes in Jenin",
    "text": "Deadly clashes erupted in the West Bank.",
    "language": "en",
}


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI on the test's database (a file under tmp_path/var, or PostgreSQL: see conftest)."""
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MEDIAWATCH_DATABASE_URL", settings.db_url)
    return CliRunner()


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rules_test_on_a_file_shows_matches_and_counts(cli: CliRunner, tmp_path: Path) -> None:
    inp = _jsonl(tmp_path / "in.jsonl", [CLASH, {"text": "Nothing to see here.", "language": "en"}])
    result = cli.invoke(main, ["rules", "test", str(inp)])
    assert result.exit_code == 0, result.output
    assert "a1  text  loaded-clashes  (loaded_language)  …Deadly [clashes] erupted" in result.output
    assert "2 texts, 3 matches" in result.output
    assert "never fired" in result.output and "agentless-count-killed" in result.output
    data = json.loads(
        cli.invoke(main, ["rules", "test", str(inp), "--format", "json", "--rule", "loaded-clashes"]).output
    )
    assert data["counts"] == {"loaded-clashes": 2}  # headline and text
    title, text = data["matches"]
    assert (title["field"], text["field"]) == ("title", "text")
    assert CLASH["text"][text["start"] : text["end"]] == text["quote"] == "clashes"


def test_rules_test_bad_line_and_bad_rules_file_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    inp = _jsonl(tmp_path / "in.jsonl", [CLASH, {"title": "no text"}])
    result = cli.invoke(main, ["rules", "test", str(inp)])
    assert result.exit_code == 2
    assert f"{inp}:2: field 'text'" in result.output
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: x\n    category: nope\n    language: en\n    phrases: [a]\n"
        "    weight: 0.5\n    explanation: e\n"
    )
    result = cli.invoke(main, ["rules", "test", str(inp), "--rules", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: rule 'x': field 'rules[0].category'" in result.output
    result = cli.invoke(main, ["rules", "test", str(inp), "--rule", "no-such-rule"])
    assert result.exit_code == 2 and "no-such-rule" in result.output
    result = cli.invoke(main, ["rules", "test", "--since", "7x"])
    assert result.exit_code == 2 and "--since" in result.output


def test_rules_test_since_reruns_stored_articles(
    cli: CliRunner, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.sync_outlets(load_feeds(DEMO_FEEDS, "http://127.0.0.1:9"))
    doc = Extracted(
        "u1", "Clashes near Nablus", "Settlers and villagers clashed in the West Bank.", language="en"
    )
    other = Extracted("u2", "Budget day", "The council passed the budget.", language="en")
    first = store.save_article("maple-ledger", "http://127.0.0.1:9/a", doc, "", None, None)
    store.save_article("maple-ledger", "http://127.0.0.1:9/b", other, "", None, None)
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(settings.data_dir))
    result = cli.invoke(main, ["rules", "test", "--since", "24h", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["texts"] == 2
    assert {(m["id"], m["rule"]) for m in data["matches"]} >= {(f"article {first}", "loaded-clashes")}


def test_rules_check_passes_on_the_real_rules_and_fails_on_a_bad_example(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(main, ["rules", "check"])
    assert result.exit_code == 0, result.output
    assert "0 failures" in result.output
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: mob\n    category: protest_smear\n    language: en\n    phrases: [mob]\n"
        "    weight: 0.5\n    explanation: e\n    example: A crowd gathered.\n"
        "    near_miss: A mob gathered.\n"
    )
    result = cli.invoke(main, ["rules", "check", "--rules", str(bad)])
    assert result.exit_code == 1
    assert "FAIL mob: does not fire on its example" in result.output
    assert "FAIL mob: fires on its near_miss" in result.output


def test_scorer_reports_one_sided_sourcing_through_the_score_contract() -> None:
    """The score stage carries the sourcing finding, with its own weight, into the categories."""
    from pipeline.records import ScoreInput
    from pipeline.score import build_scorer

    scorer = build_scorer(Settings(_env_file=None))  # type: ignore[call-arg]
    one_sided, balanced = scorer.score_many(
        [
            ScoreInput("a", "Strikes hit Deir al-Balah", ONE_SIDED_EN, language="en"),
            ScoreInput("b", "Strikes hit Deir al-Balah", ONE_SIDED_EN + PALESTINIAN_VOICES, language="en"),
        ]
    )
    found = [e for e in one_sided.evidence if e.source == SOURCE]
    assert [e.category for e in found] == ["one_sided_sourcing"]
    assert ONE_SIDED_EN[found[0].start : found[0].end] == found[0].quote
    assert not any(e.source == SOURCE for e in balanced.evidence)
    assert one_sided.categories["one_sided_sourcing"] > balanced.categories["one_sided_sourcing"]


def test_scorer_keeps_the_report_counts_for_relevant_articles_only() -> None:
    """Each relevant score carries the counts coverage reports sum (the same as counting the
    article afresh); an irrelevant one carries none."""
    from pipeline.facts import article_facts
    from pipeline.records import ScoreInput
    from pipeline.score import build_scorer

    scorer = build_scorer(Settings(_env_file=None))  # type: ignore[call-arg]
    war = "Five Palestinians were killed in Gaza on Tuesday. " + ONE_SIDED_EN
    relevant, other = scorer.score_many(
        [
            ScoreInput("a", "Strikes hit Deir al-Balah", war, language="en"),
            ScoreInput("b", "Maple syrup prices rise", "Farmers in Quebec sold more syrup.", language="en"),
        ]
    )
    assert relevant.relevant and not other.relevant
    assert relevant.facts == article_facts("Strikes hit Deir al-Balah", war, "en")
    assert relevant.facts["pal_sentences"] >= 1 and relevant.facts["quotes_israeli"] >= ONE_SIDE_MIN
    assert other.facts is None
