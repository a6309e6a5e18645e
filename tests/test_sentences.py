"""Sentence-level casualty analysis (pipeline/sentences.py, pipeline/casualty.py).

Every sentence, headline and data row here was written for these tests."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline import casualty
from pipeline.casualty import Example, Item, load_model
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.sentences import (
    article_findings,
    casualty_sentences,
    is_casualty_sentence,
    label_items,
    label_sentence,
    split_sentences,
)

# (sentence, victim, responsible). A regression gate: the model must keep a floor on these.
TABLE = [
    (
        "At least 40 Palestinians were killed in Gaza on Monday, health officials said.",
        "palestinian",
        "neither",
    ),
    ("Nine people died in Rafah overnight, according to hospital staff.", "palestinian", "neither"),
    ("Five Palestinians were wounded in Nablus.", "palestinian", "neither"),
    ("The Gaza health ministry said 300 people had been killed in the past day.", "palestinian", "neither"),
    ("An Israeli airstrike killed 14 Palestinians in a school in Gaza City.", "palestinian", "israel"),
    (
        "Eight Palestinians were killed by Israeli fire near an aid site in Khan Younis.",
        "palestinian",
        "israel",
    ),
    ("Israeli troops shot and killed two Palestinian teenagers in Jenin.", "palestinian", "israel"),
    ("Israeli strikes on the refugee camp killed dozens of Palestinians.", "palestinian", "israel"),
    ("Israel killed three Palestinians in Jenin on Monday.", "palestinian", "israel"),
    ("Hamas gunmen killed dozens of Israelis at a kibbutz near the border.", "israeli", "hamas"),
    ("Three Israeli civilians were killed by Hamas rockets fired from Gaza.", "israeli", "hamas"),
    ("Hamas militants murdered families in their homes in southern Israel.", "israeli", "hamas"),
    ("Two Israeli soldiers were killed on Tuesday.", "israeli", "neither"),
    ("More than 1,000 Israelis have died since the start of the month.", "israeli", "neither"),
    ("The war has killed thousands of Israelis and Palestinians.", "both", "neither"),
    ("The council approved the transit budget on Tuesday.", "neither", "neither"),
    ("Smoking remains a leading cause of early death in the province.", "neither", "neither"),
    # French
    (
        "Au moins 30 Palestiniens sont morts à Gaza dimanche, selon les autorités locales.",
        "palestinian",
        "neither",
    ),
    ("Une frappe aérienne israélienne a tué six Palestiniens à Khan Younis.", "palestinian", "israel"),
    ("Cinq Palestiniens ont été tués par des tirs israéliens à Jénine.", "palestinian", "israel"),
    ("Trois Israéliens ont été tués par le Hamas lors de l'attaque.", "israeli", "hamas"),
    ("Le conseil municipal a adopté le budget mardi.", "neither", "neither"),
]
FLOOR = 0.85  # share of the table each label must get right; the shipped model does better


def test_model_loads_once_with_its_record() -> None:
    model = casualty.get_model()
    assert model is casualty.get_model()
    assert model.version.startswith("casualty-")
    licences = " ".join(s["licence"] for s in model.meta["sources"])
    assert "MIT" in licences and "Benjamin Cuthbert" in licences and "Holly Jackson" in licences
    metrics = json.loads((casualty.MODEL_DIR / "metrics.json").read_text())
    assert metrics["split"]["seed"] == casualty.SEED
    card = (casualty.MODEL_DIR / "MODEL_CARD.md").read_text()
    assert model.version in card and "precision" in card


def test_labels_keep_a_quality_floor_on_team_sentences() -> None:
    labels = [label_sentence(str(i), s) for i, (s, _, _) in enumerate(TABLE)]
    victim = np.mean([lab.victim == v for lab, (_, v, _) in zip(labels, TABLE, strict=True)])
    responsible = np.mean([lab.responsible == r for lab, (_, _, r) in zip(labels, TABLE, strict=True)])
    assert victim >= FLOOR, [
        (s, lab.victim) for lab, (s, v, _) in zip(labels, TABLE, strict=True) if lab.victim != v
    ]
    assert responsible >= FLOOR, [
        (s, lab.responsible) for lab, (s, _, r) in zip(labels, TABLE, strict=True) if lab.responsible != r
    ]


@pytest.mark.parametrize(
    ("sentence", "responsible"),
    [
        ("Twelve Palestinians were killed in Gaza City on Sunday, officials said.", "neither"),
        ("Twelve Palestinians were killed by an Israeli airstrike in Gaza City on Sunday.", "israel"),
        ("Four Israelis were killed in the attack on the festival.", "neither"),
        ("Four Israelis were killed by Hamas gunmen at the festival.", "hamas"),
    ],
)
def test_agentless_and_named_agent(sentence: str, responsible: str) -> None:
    assert label_sentence("s", sentence).responsible == responsible


def test_label_carries_probabilities_and_the_contract_keys() -> None:
    label = label_sentence("7", "An Israeli airstrike killed 14 Palestinians in Gaza City.")
    d = label.as_dict()
    assert {k: d[k] for k in ("id", "victim", "responsible")} == {
        "id": "7",
        "victim": "palestinian",
        "responsible": "israel",
    }
    probs = d["probabilities"]
    assert isinstance(probs, dict)
    assert set(probs["victim"]) == {"israeli", "palestinian", "both", "neither"}
    assert set(probs["responsible"]) == {"israel", "hamas", "both", "neither"}
    assert abs(sum(probs["victim"].values()) - 1) < 1e-3
    assert max(probs["victim"], key=probs["victim"].get) == "palestinian"
    # a sentence without a casualty word never reaches the model
    assert label_sentence("8", "The council met.").as_dict() == {
        "id": "8",
        "victim": "neither",
        "responsible": "neither",
    }


def test_context_changes_a_label_where_it_should() -> None:
    bare = "They were killed as they slept."
    assert label_sentence("1", bare).victim != "palestinian"
    gaza = "Israeli strikes hit a block of flats in Gaza City overnight, killing 20 Palestinians."
    kibbutz = "Hamas gunmen stormed the kibbutz at dawn and killed 40 Israelis."
    ids = ["a", "b"]
    assert label_items(ids, [Item(gaza), Item(bare, gaza)])[1].victim == "palestinian"
    assert label_items(ids, [Item(kibbutz), Item(bare, kibbutz)])[1].victim == "israeli"
    # a sentence that names its own victims keeps them whatever came before
    own = "Two Israeli soldiers were killed on Tuesday."
    assert label_items(["c"], [Item(own, gaza)])[0].victim == "israeli"


def test_casualty_sentences_use_the_previous_casualty_sentence() -> None:
    text = (
        "An Israeli airstrike killed 14 Palestinians in Rafah on Monday. The mayor spoke to reporters. "
        "They were killed as they slept, neighbours said."
    )
    found = casualty_sentences(text, "Strike on Rafah")
    assert [lab.id for _, _, lab in found] == ["0", "2"]
    assert [(lab.victim, lab.responsible) for _, _, lab in found] == [
        ("palestinian", "israel"),
        ("palestinian", "neither"),
    ]
    for a, b, lab in found:
        assert text[a:b] == lab.text


# -------------------------------------------------------------------------------- article findings

ASYM_TITLE = "Nine dead in Gaza after night of strikes"
ASYM_TEXT = (
    "Israeli airstrikes hit a residential block in Gaza City overnight, killing nine Palestinians. "
    "Separately, at least 12 Palestinians were killed in Khan Younis, health officials said. "
    "On Saturday, Hamas gunmen killed two Israeli civilians near Sderot."
)


def _check_offsets(title: str, text: str) -> list[tuple[str, str]]:
    found = article_findings(title, text)
    for ev in found:
        source = title if ev.field == "title" else text
        assert source[ev.start : ev.end] == ev.quote
        assert ev.source == "model"
        assert ev.explanation
    return [(ev.category, ev.field) for ev in found]


def test_article_findings_asymmetry_found_with_exact_offsets() -> None:
    cats = _check_offsets(ASYM_TITLE, ASYM_TEXT)
    assert ("agentless_casualties", "text") in cats
    assert cats.count(("double_standard", "text")) == 2
    assert ("headline_framing", "title") in cats
    ds = [ev for ev in article_findings(ASYM_TITLE, ASYM_TEXT) if ev.category == "double_standard"]
    assert "Hamas" in ds[0].explanation


def test_article_findings_no_asymmetry_when_both_sides_are_agentless() -> None:
    text = (
        "At least 12 Palestinians were killed in Khan Younis, health officials said. "
        "Two Israeli soldiers were killed on Tuesday, the army said."
    )
    cats = _check_offsets("Deaths reported on both sides", text)
    assert ("agentless_casualties", "text") in cats
    assert not any(c in ("double_standard", "headline_framing") for c, _ in cats)


def test_headline_with_an_agent_is_not_flagged() -> None:
    cats = _check_offsets("Israeli strikes kill nine in Gaza", ASYM_TEXT)
    assert ("headline_framing", "title") not in cats


def test_article_without_casualties_has_no_findings() -> None:
    assert article_findings("Budget passes", "The council approved the transit budget on Tuesday.") == []


# ------------------------------------------------------------------------------------------ CLI


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEDIAWATCH_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def test_cli_sentences_contract_and_context(cli: CliRunner, tmp_path: Path) -> None:
    inp = _jsonl(
        tmp_path / "s.jsonl",
        [
            {"id": 1, "text": "An Israeli airstrike killed five Palestinians in Rafah.", "article": "a"},
            {"id": 2, "text": "They were killed as they slept.", "article": "a"},
            {"id": "b", "text": "They were killed as they slept."},
            {"id": 4, "text": "The council approved the budget.", "title": "Budget"},
        ],
    )
    result = cli.invoke(main, ["sentences", "--input", str(inp)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [set(r) for r in rows] == [{"id", "victim", "responsible"}] * 4
    assert [r["id"] for r in rows] == ["1", "2", "b", "4"]
    assert (rows[0]["victim"], rows[0]["responsible"]) == ("palestinian", "israel")
    assert rows[1]["victim"] == "palestinian" and rows[2]["victim"] != "palestinian"
    assert (rows[3]["victim"], rows[3]["responsible"]) == ("neither", "neither")

    result = cli.invoke(main, ["sentences", "--input", str(inp), "--probabilities"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert set(rows[0]["probabilities"]) == {"victim", "responsible"}
    assert "probabilities" not in rows[3]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": 1}', "s.jsonl:2: field 'text'"),
        ('{"id": 1, "text": "Ten died.", "title": 5}', "s.jsonl:2: field 'title'"),
        ("not json", "s.jsonl:2: not valid JSON"),
    ],
)
def test_cli_sentences_bad_line_exits_2(cli: CliRunner, tmp_path: Path, line: str, expected: str) -> None:
    inp = tmp_path / "s.jsonl"
    inp.write_text('{"id": 0, "text": "Five people died."}\n' + line + "\n")
    result = cli.invoke(main, ["sentences", "--input", str(inp)])
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert len(out.splitlines()) == 1 and expected in out


# ------------------------------------------------------------------------------- model file safety


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "casualty"
    shutil.copytree(casualty.MODEL_DIR, target)
    return target


def test_tampered_model_file_is_a_clear_error(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    assert load_model(d).version == casualty.get_model().version
    data = bytearray((d / casualty.MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / casualty.MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"casualty\.npz: checksum differs"):
        load_model(d)


def test_missing_or_invalid_model_file_is_a_clear_error(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / casualty.MODEL_FILE).unlink()
    with pytest.raises(ConfigError, match=r"casualty\.npz.*missing"):
        load_model(d)
    (d / casualty.MODEL_FILE).write_bytes(b"not a zip file")
    meta = json.loads((d / casualty.META_FILE).read_text())
    meta["sha256"] = casualty._sha256(d / casualty.MODEL_FILE)
    (d / casualty.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"casualty\.npz: not a valid casualty model file"):
        load_model(d)


# ---------------------------------------------------------------------- features, split, training


def test_fast_features_match_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [
        "Israeli strikes killed 20 people in Gaza City.",
        "Hamas gunmen killed 20 people in the kibbutz; 20 died.",
        "Officials said the people in Gaza City were killed.",
    ]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(docs)
    assert casualty._terms(docs[1]) == vec.build_analyzer()(docs[1])
    vocab, idf = casualty._vocabulary(docs + docs)
    ours = casualty._design(vocab, idf, [Item(d) for d in docs]).toarray()[:, : len(vocab)]
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(docs + docs)
    order = [ref.vocabulary_[t] for t in sorted(vocab, key=vocab.__getitem__)]
    assert np.allclose(ours, ref.transform(docs).toarray()[:, order])


def _ex(sentence: str, group: str, v: str = "palestinian", r: str | None = "neither") -> Example:
    return Example(sentence, v, r, group, "", "", "breach", "star")


def test_split_holds_out_whole_article_groups() -> None:
    words = [
        a + b
        for a in ("al", "be", "co", "de", "el", "fa", "go", "ha")
        for b in ("ra", "mi", "tu", "zo", "ne")
    ]
    examples = [
        _ex(f"Sentence {w} of article {words[g]}.", f"art{g}") for g in range(40) for w in ("x", "y", "z")
    ]
    examples.append(_ex(f"Sentence x of article {words[1]}.", "art99"))  # a wire copy shared with art1
    train, test = casualty.split(examples)
    assert 0 < len(test) < len(train)
    held = {e.group for e in test}
    assert not held & {e.group for e in train}
    assert ("art1" in held) == ("art99" in held)
    assert casualty.split(examples) == (train, test)  # fixed seed


ROWS = {
    ("palestinian", "neither"): "{n} Palestinians were killed in {p}, health officials said.",
    ("palestinian", "israel"): "An Israeli airstrike killed {n} Palestinians in {p}.",
    ("israeli", "hamas"): "Hamas gunmen killed {n} Israelis in a kibbutz near {q}.",
    ("israeli", "neither"): "{n} Israeli soldiers were killed near {q}, the army said.",
    ("neither", "neither"): "Smoking caused {n} early deaths in {q} last year.",
    ("both", "both"): "Hamas attacks and Israeli strikes have killed {n} Israelis and Palestinians.",
}


VILLAGES = [
    "north",
    "south",
    "east",
    "west",
    "upper",
    "lower",
    "old",
    "new",
    "inner",
    "outer",
    "coastal",
    "hill",
]


def _write_data(root: Path) -> None:
    breach, us = root / casualty.BREACH, root / casualty.US
    breach.mkdir(parents=True)
    us.mkdir()
    for folder, who in ((breach, "Test Author"), (us, "Other Author")):
        (folder / "SOURCE.txt").write_text(
            f"source: https://example.org/{folder.name} commit {'a' * 40} licence MIT (c) 2024 {who}\n"
        )
    places, towns = ["Gaza", "Rafah", "Jenin", "Khan Younis"], ["Sderot", "Ashkelon", "Haifa", "Eilat"]
    for outlet in ("star", "post"):
        with (breach / f"{outlet}_sentences.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["", "date", "title", "category", "victim", "responsible", "url", "sentence"])
            k = 0
            for (v, r), tpl in ROWS.items():
                for i in range(12):
                    s = tpl.format(n=i + 2, p=places[i % 4], q=towns[i % 4])
                    s += f" The {VILLAGES[i]} {outlet} {v} {r} report said so."
                    url = f"https://example.org/{outlet}/{i}"
                    w.writerow([k, "2024-01-01", f"Story {i}", "World", v.title(), r.title(), url, s])
                    k += 1
    with (us / "tagged_data_nyt_test.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["article_index", "article_title", "article_date", "sentence", "category"])
        for i in range(10):
            town = VILLAGES[i]
            w.writerow([i, "Story", "10/10/2023", f"{i + 3} Palestinians died in {town} Gaza.", "palestine"])
            w.writerow([i, "Story", "10/10/2023", f"{i + 3} Israelis died in {town} Sderot.", "israel"])


def test_train_rebuilds_a_loadable_model_with_metrics_and_card(tmp_path: Path) -> None:
    data, models = tmp_path / "data", tmp_path / "models"
    _write_data(data)
    metrics = casualty.train(models, data)
    out = models / "casualty"
    model = load_model(out)
    assert model.meta["sources"][0]["commit"] == "a" * 40
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["held_out"]["victim"]["macro_f1"] == metrics["held_out"]["victim"]["macro_f1"]
    assert metrics["split"]["held_out_sentences"]["breach"] > 0
    assert "Test Author" in (out / "MODEL_CARD.md").read_text()
    assert model.label([Item("An Israeli airstrike killed 9 Palestinians in Rafah.")])[0][:2] == (
        "palestinian",
        "israel",
    )


# ------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Three people were wounded.", True),
        ("Un homme a été blessé.", True),
        ("Hamas militants murdered families.", True),
        ("The ministry published new figures.", False),
        ("The skilled workers left.", False),  # "killed" inside another word does not count
    ],
)
def test_is_casualty_sentence(sentence: str, expected: bool) -> None:
    assert is_casualty_sentence(sentence) is expected


# ------------------------------------------------------------------------------------ splitting

TEXT = (
    "Nine people died in Rafah overnight. Officials gave no cause!  "
    "« Nous avons tout perdu », a dit une mère. Was anyone held to account? Nobody said."
)


def test_split_sentences_offsets_slice_each_sentence() -> None:
    spans = split_sentences(TEXT)
    assert [TEXT[a:b] for a, b in spans] == [
        "Nine people died in Rafah overnight.",
        "Officials gave no cause!",
        "« Nous avons tout perdu », a dit une mère.",
        "Was anyone held to account?",
        "Nobody said.",
    ]


def test_split_sentences_spans_are_ordered_and_cover_all_words() -> None:
    spans = split_sentences(TEXT)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    assert spans[0][0] == 0
    assert spans[-1][1] == len(TEXT)
    assert " ".join(TEXT[a:b] for a, b in spans).split() == TEXT.split()


def test_split_sentences_does_not_break_after_abbreviations() -> None:
    text = "  Since Oct. 7, U.S. officials said Dr. Haddad was safe. Sgt. Cohen died later.  "
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Since Oct. 7, U.S. officials said Dr. Haddad was safe.",
        "Sgt. Cohen died later.",
    ]


def test_split_sentences_of_blank_text_is_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n ") == []


def test_split_sentences_keeps_text_without_final_punctuation() -> None:
    text = "First sentence. then lower case continues. Last one without a stop"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "First sentence. then lower case continues.",
        "Last one without a stop",
    ]


def test_lebanese_deaths_without_a_perpetrator_are_agentless_too() -> None:
    """DESIGN counts Lebanese deaths reported with no named perpetrator under agentless_casualties,
    although the training data labels Lebanese victims 'neither'."""
    en = (
        "Strikes hit southern Lebanon on Tuesday. Twelve people were killed in the Lebanese village "
        "of Khiam, the health ministry in Beirut said."
    )
    fr = "Le ministère libanais de la Santé a indiqué que neuf personnes sont mortes au Liban dans la nuit."
    named = "Nine people were killed by an Israeli drone strike in southern Lebanon, the ministry said."
    for text in (en, fr):
        found = [e for e in article_findings("", text) if e.category == "agentless_casualties"]
        assert len(found) == 1, text
        assert text[found[0].start : found[0].end] == found[0].quote
        assert found[0].explanation.startswith("Lebanese deaths")
    assert not [e for e in article_findings("", named) if e.category == "agentless_casualties"]


def _cue_texts() -> list[str]:
    """Each cue's literals (what the rules engine's analysis says every match contains) in varied
    company: alone, in a sentence, glued to letters, upper case, with a non-breaking space and
    curly quotes, with digits, and cut short."""
    from pipeline.rules import analyse

    out = []
    for pattern in casualty._CUES.values():
        factor = analyse(pattern.pattern)[0]
        for lit in sorted(factor.pre) if factor else ["12 killed", "1,200 dead"]:
            out += [
                lit,
                f"Officials said {lit} on Tuesday, “according to” reports.",
                f"x{lit}x",
                lit.upper() + "!",
                lit.replace(" ", "\xa0") + " by the army",
                f"« {lit} » 7 octobre",
                lit[:-1],
            ]
    return out


def test_cues_found_through_hyperscan_equal_every_regex_tried() -> None:
    """The Hyperscan prefilter only skips cue regexes that cannot match: same cues, same side."""
    if casualty._cue_scanner() is None:
        pytest.skip("hyperscan is not installed here")
    texts = _cue_texts()
    assert len(texts) > 1000
    for text in texts:
        low = text.lower()
        assert casualty.cues(text) == [n for n, p in casualty._CUES.items() if p.search(low)], text
        assert casualty.names_a_side(text) == any(p.search(low) for p in casualty.SIDE_CUES.values())
    assert casualty._candidates("the weather was mild") == set()  # the scan leaves most regexes out
