"""Keyword rules: real rules vs their examples and near misses; matching; validation (pipeline/rules.py)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline import rulescan
from pipeline.errors import ConfigError
from pipeline.extract import extract_file
from pipeline.records import CATEGORIES, Evidence
from pipeline.rules import RuleSet, RuleSpec, analyse, fold, load_rules, start_literals
from pipeline.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parents[1]
RULES_FILE = ROOT / "alerts" / "rules.yaml"
# the raw entries, read once at collection so each rule is its own test case
RAW_RULES: list[dict[str, Any]] = read_yaml(RULES_FILE)[0]["rules"]
RULE_IDS = [r["id"] for r in RAW_RULES]
HEADLINE_IDS = [r["id"] for r in RAW_RULES if r.get("headline_only")]


# The engine's two paths: Hyperscan (when the package is installed) and the keyword path (its
# fallback); the tests that use the real rules run on both.
PATHS = [
    pytest.param(
        True, id="hyperscan", marks=pytest.mark.skipif(not rulescan.AVAILABLE, reason="no hyperscan")
    ),
    pytest.param(False, id="keywords"),
]


@pytest.fixture(scope="module", params=PATHS)
def real_rules(request: pytest.FixtureRequest) -> RuleSet:
    return RuleSet([r.spec for r in load_rules(RULES_FILE).rules], hyperscan=request.param)


def _fired(rules: RuleSet, rule_id: str, sentence: str, headline_only: bool, language: str) -> list[Evidence]:
    title, text = (sentence, "") if headline_only else ("", sentence)
    return [e for e in rules.match(title, text, language) if e.source == f"rule:{rule_id}"]


# ------------------------------------------------------------------ the real rules file


def test_real_rules_file_loads_with_many_rules(real_rules: RuleSet) -> None:
    assert len(real_rules) == len(RAW_RULES) >= 40
    assert {r.spec.language for r in real_rules.rules} == {"en", "fr"}
    assert {r.spec.category for r in real_rules.rules} <= set(CATEGORIES)


def test_every_real_rule_has_an_example_and_a_near_miss() -> None:
    missing = [r["id"] for r in RAW_RULES if not r.get("example") or not r.get("near_miss")]
    assert missing == [], f"rules without example/near_miss: {', '.join(missing)}"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_real_rule_fires_on_its_example(real_rules: RuleSet, rule_id: str) -> None:
    spec = real_rules.by_id[rule_id].spec
    assert spec.example, f"rule {rule_id} has no example"
    found = _fired(real_rules, rule_id, spec.example, spec.headline_only, spec.language)
    assert found, f"rule {rule_id} did not fire on its example: {spec.example!r}"
    assert all(e.category == spec.category for e in found)
    assert all(e.explanation == spec.explanation for e in found)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_real_rule_is_silent_on_its_near_miss(real_rules: RuleSet, rule_id: str) -> None:
    spec = real_rules.by_id[rule_id].spec
    assert spec.near_miss, f"rule {rule_id} has no near_miss"
    found = _fired(real_rules, rule_id, spec.near_miss, spec.headline_only, spec.language)
    assert found == [], f"rule {rule_id} fired on its near miss: {[e.quote for e in found]}"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_real_rule_evidence_offsets_point_at_the_quote(real_rules: RuleSet, rule_id: str) -> None:
    spec = real_rules.by_id[rule_id].spec
    assert spec.example
    title, text = (spec.example, "") if spec.headline_only else ("Unrelated headline", spec.example)
    found = [e for e in real_rules.match(title, text, spec.language) if e.source == f"rule:{rule_id}"]
    assert found
    for ev in found:
        body = title if ev.field == "title" else text
        assert ev.field == ("title" if spec.headline_only else "text")
        assert body[ev.start : ev.end] == ev.quote
        assert ev.quote.strip()


@pytest.mark.parametrize("rule_id", HEADLINE_IDS)
def test_real_headline_only_rule_ignores_body_text(real_rules: RuleSet, rule_id: str) -> None:
    spec = real_rules.by_id[rule_id].spec
    assert spec.example
    assert _fired(real_rules, rule_id, spec.example, True, spec.language)
    in_body = [
        e
        for e in real_rules.match("Unrelated headline", spec.example, spec.language)
        if e.source == f"rule:{rule_id}"
    ]
    assert in_body == []


def test_real_rules_only_run_in_their_language(real_rules: RuleSet) -> None:
    spec = real_rules.by_id[RULE_IDS[0]].spec
    assert spec.example
    other = "fr" if spec.language == "en" else "en"
    assert _fired(real_rules, spec.id, spec.example, spec.headline_only, other) == []


# ------------------------------------------------------------------ matching behaviour (small files)


def _rules(tmp_path: Path, body: str, hyperscan: bool | None = None) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n" + body, encoding="utf-8")
    return RuleSet([r.spec for r in load_rules(path).rules], hyperscan)


NEAR_RULE = """\
  - id: clash-near-west-bank
    category: loaded_language
    language: en
    phrases: ['clashes']
    near: {words: 5, terms: ['west bank', 'settlers?']}
    weight: 0.4
    explanation: Describe who did what.
"""


def test_near_condition_fires_when_term_is_within_the_window(tmp_path: Path) -> None:
    rules = _rules(tmp_path, NEAR_RULE)
    text = "Deadly clashes erupted in the West Bank on Monday."
    (ev,) = rules.match("", text, "en")
    assert ev.quote == "clashes"
    assert text[ev.start : ev.end] == "clashes"
    assert ev.source == "rule:clash-near-west-bank"


def test_near_condition_looks_before_the_match_too(tmp_path: Path) -> None:
    rules = _rules(tmp_path, NEAR_RULE)
    assert rules.match("", "Armed settlers and villagers: clashes again.", "en")


def test_near_condition_is_silent_when_term_is_too_far(tmp_path: Path) -> None:
    rules = _rules(tmp_path, NEAR_RULE)
    text = (
        "Clashes broke out at the hockey game between rival fans long before anyone mentioned the West Bank."
    )
    assert rules.match("", text, "en") == []


def test_near_terms_match_whole_words_only(tmp_path: Path) -> None:
    rules = _rules(tmp_path, NEAR_RULE.replace("['west bank', 'settlers?']", "['idf']"))
    assert rules.match("", "Rival fans clashed after the midfielder scored: clashes all night.", "en") == []


MOB_RULE = """\
  - id: mob
    category: protest_smear
    language: en
    patterns: ['\\bmobs?\\b']
    not_preceded_by: ['flash', 'so-called']
    weight: 0.4
    explanation: Calls protesters a mob.
"""


def test_not_preceded_by_drops_the_match(tmp_path: Path) -> None:
    rules = _rules(tmp_path, MOB_RULE)
    assert rules.match("", "A flash mob danced in the square.", "en") == []
    assert rules.match("", 'What critics called a so-called "mob" gathered.', "en") == []


def test_not_preceded_by_keeps_other_matches(tmp_path: Path) -> None:
    rules = _rules(tmp_path, MOB_RULE)
    text = "A flash mob danced, then a mob of students marched."
    found = rules.match("", text, "en")
    assert len(found) == 1
    assert found[0].start == text.rindex("mob")


def test_phrases_are_literal_and_on_word_boundaries(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        """\
  - id: literal
    category: loaded_language
    language: en
    phrases: ['U.N. vote']
    weight: 0.3
    explanation: Literal phrase.
""",
    )
    assert rules.match("", "After the U.N. vote, nothing changed.", "en")
    assert rules.match("", "After the UxNx vote, nothing changed.", "en") == []  # dots are literal
    assert rules.match("", "After the U.N. voters left.", "en") == []  # word boundary


def test_rule_matches_title_and_text_with_field_offsets(tmp_path: Path) -> None:
    rules = _rules(tmp_path, MOB_RULE)
    title, text = "Mob takes over quad", "Students say the mob label is unfair."
    found = rules.match(title, text, "en")
    assert {e.field for e in found} == {"title", "text"}
    for ev in found:
        assert (title if ev.field == "title" else text)[ev.start : ev.end].lower() == "mob"


def test_headline_only_rule_skips_body(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path, MOB_RULE.replace("    weight: 0.4\n", "    headline_only: true\n    weight: 0.4\n")
    )
    assert rules.match("", "A mob gathered.", "en") == []
    (ev,) = rules.match("A mob gathered", "A mob gathered.", "en")
    assert ev.field == "title"


def test_language_none_runs_every_rule(tmp_path: Path) -> None:
    rules = _rules(tmp_path, MOB_RULE)
    assert rules.match("", "A mob gathered.", None)
    assert rules.match("", "A mob gathered.", "fr") == []


def test_evidence_carries_replacement(tmp_path: Path) -> None:
    rules = _rules(tmp_path, MOB_RULE + "    replacement: protesters\n")
    (ev,) = rules.match("", "A mob gathered.", "en")
    assert ev.replacement == "protesters"
    assert ev.category == "protest_smear"


# ------------------------------------------------------------------ validation errors

VALID = """\
rules:
  - id: first-rule
    category: loaded_language
    language: en
    phrases: ['disputed land']
    weight: 0.5
    explanation: Because.
  - id: second-rule
    category: casualty_doubt
    language: en
    patterns: ['\\bHamas-run\\b']
    weight: 0.5
    explanation: Because.
"""
SECOND_WEIGHT = VALID.rindex("    weight: 0.5\n")
SECOND_WEIGHT_LINE = VALID[:SECOND_WEIGHT].count("\n") + 1


def _error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    return path, str(info.value)


def _refused(tmp_path: Path, text: str, at: str, *parts: str) -> None:
    """Loading *text* fails with an error that starts with the file and the line holding *at*,
    and says each of *parts*."""
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{_line_of(text, at)}:"), message
    for part in parts:
        assert part in message, (part, message)


def _line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, needle
    return hits[0]


def test_valid_small_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert sorted(load_rules(path).by_id) == ["first-rule", "second-rule"]


def test_unknown_category_names_file_line_rule_and_field(tmp_path: Path) -> None:
    text = VALID.replace("category: casualty_doubt", "category: media_bias")
    _refused(tmp_path, text, "media_bias", "rule 'second-rule'", "category", "unknown category")


def test_invalid_regex_names_the_pattern(tmp_path: Path) -> None:
    text = VALID.replace("['\\bHamas-run\\b']", "['(unclosed']")
    _refused(tmp_path, text, "(unclosed", "rule 'second-rule'", "patterns", "(unclosed")


def test_invalid_near_term_names_the_rule_and_field(tmp_path: Path) -> None:
    phrases = "    phrases: ['disputed land']\n"
    text = VALID.replace(phrases, phrases + "    near: {terms: ['gaza(']}\n")
    _refused(tmp_path, text, "gaza(", "rule 'first-rule'", "near.terms", "'gaza('")


@pytest.mark.parametrize(
    "pattern",
    [r"(?:\w+\s?)*clashes", r"(a+)+b", r"(?:x|(?:y+z?)+?)*", r"x(?=(?:\w+\s?)*;)", r"(?>(?:\w+\s?)*;)"],
)
def test_a_repeat_without_bound_inside_another_is_refused(tmp_path: Path, pattern: str) -> None:
    """Such a pattern takes time exponential in a text's length where it fails: one would stall the
    scoring of every article."""
    text = VALID.replace("['\\bHamas-run\\b']", f"['{pattern}']")
    _refused(
        tmp_path, text, "patterns:", "rule 'second-rule'", "patterns", "without an upper bound inside another"
    )


@pytest.mark.parametrize(
    "pattern", [r"(?:\s+\w+){0,3}x", r"(?:\w+\s?)*+x", r"(?>\w+\s?)*x", r"(?:(?![^.]*by)\w)+"]
)
def test_bounded_possessive_atomic_and_lookahead_repeats_are_taken(tmp_path: Path, pattern: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID.replace("['\\bHamas-run\\b']", f"['{pattern}']"), encoding="utf-8")
    assert load_rules(path).by_id["second-rule"].spec.patterns == [pattern]


def test_patterns_that_cannot_be_tried_together_are_refused(tmp_path: Path) -> None:
    text = VALID.replace("['\\bHamas-run\\b']", "['(?P<who>Hamas)-run', '(?P<who>Gaza)']")
    _refused(tmp_path, text, "patterns:", "rule 'second-rule'", "cannot be tried together")


def test_rule_without_patterns_or_phrases_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("    patterns: ['\\bHamas-run\\b']\n", "")
    _refused(tmp_path, text, "id: second-rule", "rule 'second-rule'", "patterns or phrases")


@pytest.mark.parametrize("weight", ["0", "-0.2", "1.5"])
def test_weight_out_of_range_is_refused(tmp_path: Path, weight: str) -> None:
    text = (
        VALID[:SECOND_WEIGHT] + f"    weight: {weight}\n" + VALID[SECOND_WEIGHT + len("    weight: 0.5\n") :]
    )
    path, message = _error(tmp_path, text)
    assert message.startswith(f"{path}:{SECOND_WEIGHT_LINE}:")
    assert "rule 'second-rule'" in message
    assert "weight" in message


def test_duplicate_rule_id_is_refused_at_the_second_rule(tmp_path: Path) -> None:
    text = VALID.replace("id: second-rule", "id: first-rule")
    path, message = _error(tmp_path, text)
    second = [i for i, line in enumerate(text.splitlines(), 1) if "id: first-rule" in line][1]
    assert message.startswith(f"{path}:{second}:")
    assert "'first-rule' appears twice" in message
    assert "id" in message.split("field", 1)[1]


def test_extra_key_names_the_key(tmp_path: Path) -> None:
    text = VALID[:SECOND_WEIGHT] + "    severity: high\n" + VALID[SECOND_WEIGHT:]
    _refused(tmp_path, text, "severity: high", "rule 'second-rule'", "severity")


def test_bad_rule_id_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("id: second-rule", "id: Second Rule")
    _refused(tmp_path, text, "Second Rule", "id")


def test_missing_rules_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_rules(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------ one-pass engine = reference

# Team-written passages: the rules' own examples and near misses, glued in different orders and
# with paragraph breaks, long whitespace runs, curly quotes and characters that IGNORECASE folds.
EXTRA_EN = [
    "Clashes broke out near Nablus as settlers torched cars; the Israeli army said it was investigating.",
    "At least 1,200 people were killed in Gaza this week, the Gaza Health Ministry said.\n\nMore died.",
    "The Hamas-run health ministry's figures could not be independently verified, the IDF said.",
    "Israeli forces killed 12 people in Jenin, and the mob chanted; a flash mob danced in Toronto.",
    "Amal Hassan, 9, was killed with her brother Omar Hassan, aged 12, in a strike on Rafah.",
    "KİBBUTZ residents spoke; the ſtrike on the ſchool killed 40 people in Gaza, by Israel's count.",
    "The death toll in Gaza rose" + " " * 40 + "to 40,000, the ministry said.",
]
EXTRA_FR = [
    "Des affrontements ont éclaté près de Naplouse, a déclaré l’armée israélienne.",
    "Au moins 46\u202f000 Palestiniens ont été tués à Gaza, selon le ministère de la Santé du Hamas.",
    "Le bilan s’est alourdi à Gaza\u00a0: 30 personnes sont mortes dans la bande de Gaza.",
]


def _passages(language: str) -> list[str]:
    own = [
        s for r in RAW_RULES if r["language"] == language for s in (r.get("example"), r.get("near_miss")) if s
    ]
    extra = EXTRA_EN if language == "en" else EXTRA_FR
    glued = [" ".join(own[i : i + 7]) for i in range(0, len(own), 5)]
    glued += ["\n".join(reversed(own[i : i + 9])) for i in range(0, len(own), 4)]
    return own + extra + glued + [" ".join(own + extra)]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_one_pass_engine_equals_the_reference(real_rules: RuleSet, language: str) -> None:
    passages = _passages(language)
    fired = 0
    for k, text in enumerate(passages):
        title = passages[(k + 1) % len(passages)][:120]
        for lang in (language, None):
            got = real_rules.match(title, text, lang)
            assert got == real_rules.match_reference(title, text, lang), (lang, text[:80])
            fired += len(got)
    assert fired > 200  # the comparison saw plenty of matches


def test_engine_equals_reference_on_generated_rule_variants(real_rules: RuleSet) -> None:
    """The rules with one word of each pattern changed (keywords move), on the same passages."""
    rng = random.Random(7)
    words = ["gaza", "said", "killed", "the", "army", "clashes", "ministry", "people", "mob"]
    specs = []
    for k, rule in enumerate(real_rules.rules):
        data = rule.spec.model_dump() | {"id": f"{rule.spec.id}-v{k}", "example": None, "near_miss": None}
        data["patterns"] = [
            re.sub(r"(?<![\\\w?])[a-z]{5,}", rng.choice(words), p, count=1) for p in data["patterns"]
        ]
        try:
            specs.append(RuleSpec.model_validate(data))
        except ValueError:
            continue
    variants = RuleSet([r.spec for r in real_rules.rules] + specs)
    for language in ("en", "fr"):
        for text in _passages(language):
            assert variants.match("", text, language) == variants.match_reference("", text, language)


@pytest.mark.parametrize(
    ("pattern", "keywords"),
    [
        (r"\bclash(?:es|ed)?\b", {"clash"}),
        (r"\baccording to Hamas\b", {"according to hamas"}),
        (r"\b(?:Jewish|Israeli)\s+neighbou?rhoods?\b", {"neighborhood", "neighbourhood"}),
        (r"\bhuman\s+shields?\b", {"shield"}),
        (r"(?:\d+|dozens) (?:killed|dead)", {" killed", " dead"}),
    ],
)
def test_required_literals_are_derived_from_patterns(pattern: str, keywords: set[str]) -> None:
    factor, _, _ = analyse(pattern)
    assert factor is not None
    assert set(factor.pre) == keywords


@pytest.mark.parametrize("hyperscan", PATHS)
@pytest.mark.parametrize("pattern", [r"\w+ said", r"(?:a|\d)+", r"\bx?\b"])
def test_unbounded_or_literal_free_patterns_still_match_like_the_reference(
    tmp_path: Path, pattern: str, hyperscan: bool
) -> None:
    factor, ext, _ = analyse(pattern)
    assert factor is None or ext is None or None in factor.pre.values()
    body = f"""\
  - id: free
    category: loaded_language
    language: en
    patterns: ['{pattern}']
    weight: 0.3
    explanation: Anything.
"""
    rules = _rules(tmp_path, body, hyperscan)
    text = "The minister said 12 aaa things."
    assert rules.match("", text, "en") == rules.match_reference("", text, "en")


def test_fold_keeps_offsets_and_folds_like_ignorecase() -> None:
    text = "İstanbul\u00a0ſtrike\tKİBBUTZ 2024 Σ"
    assert fold(text) == "istanbul strike kibbutz 0000 ς"
    assert len(fold(text)) == len(text)
    assert re.search("strike", text, re.I) and re.search("kibbutz", text, re.I)  # what re matches, fold finds


def test_keywords_gate_the_rule_on_the_field(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        """\
  - id: gated
    category: good_coverage
    language: en
    patterns: ['(?-i:\\b[A-Z][a-z]{1,20}), \\d{1,2},']
    keywords: ['killed']
    weight: 0.3
    explanation: Named victims.
    example: 'Sami, 7, was killed.'
""",
    )
    assert rules.match("", "Sami, 7, was killed in Gaza.", "en")
    assert rules.match("", "Sami, 7, went to school.", "en") == []
    for text in ("Sami, 7, was killed.", "Sami, 7, went to school."):
        assert rules.match("", text, "en") == rules.match_reference("", text, "en")


def test_keyword_that_does_not_occur_in_the_example_is_refused(tmp_path: Path) -> None:
    ok = VALID.replace(
        "    weight: 0.5\n",
        "    weight: 0.5\n    example: Settlers took disputed land.\n    keywords: ['land']\n",
        1,
    )
    path = tmp_path / "ok.yaml"
    path.write_text(ok, encoding="utf-8")
    assert load_rules(path).by_id["first-rule"].gate
    bad = ok.replace("keywords: ['land']", "keywords: ['occupied']")
    path, message = _error(tmp_path, bad)
    assert message.startswith(f"{path}:{_line_of(bad, 'keywords:')}:")
    assert "rule 'first-rule'" in message
    assert "keywords" in message and "occupied" in message


def test_empty_keyword_is_refused(tmp_path: Path) -> None:
    bad = VALID.replace("    weight: 0.5\n", "    weight: 0.5\n    keywords: ['  ']\n", 1)
    _, message = _error(tmp_path, bad)
    assert "rule 'first-rule'" in message and "keywords" in message


# ------------------------------------------------------------------ rules tried together (groups)


def _specs(*patterns: str, hyperscan: bool | None = None) -> RuleSet:
    return RuleSet(
        [
            RuleSpec.model_validate(
                {"id": f"r{k}", "category": "loaded_language", "language": "en", "patterns": [p]}
                | {"weight": 0.3, "explanation": "Anything."}
            )
            for k, p in enumerate(patterns)
        ],
        hyperscan,
    )


@pytest.mark.parametrize(
    ("pattern", "starts"),
    [
        (r"\b(?:\d{1,3}|dozens|tens of thousands)(?: of)? killed", {"0", "dozens", "tens of thousands"}),
        (r"\ban?\s+Israeli\b", {"a ", "an "}),
        (r"(?:the\s+)?(?:IDF|Israeli\s+army)\s+said", {"the ", "idf", "israeli "}),
        (r"(?:a|b)*c", {"a", "b", "c"}),
        (r"\bclash(?:es|ed)?\b", {"clash"}),
        (r"\bx?\b", None),  # can match the empty string
        (r"\w+ said", None),  # starts with any word character
    ],
)
def test_start_literals_are_derived_from_patterns(pattern: str, starts: set[str] | None) -> None:
    found = start_literals(pattern)
    assert (None if found is None else set(found)) == starts


@pytest.mark.parametrize("hyperscan", PATHS)
def test_rules_sharing_a_keyword_match_like_the_reference(hyperscan: bool) -> None:
    """Rules keyed on " killed" tried by one combined pattern: capturing groups (their numbers
    shift there), lookaheads, overlapping matches, one rule's match inside another's."""
    rules = _specs(
        r"\b(\d{1,3}) (?:people )?(killed)\b(?! by)",
        r"\b(w\w{2,3}) killed\b",
        r"\b(k\w{0,8})(,)? killed",
        r"(?:\d{1,3}|dozens)(?: (\w{1,12})){0,3} killed",
        r"\b(\d{1,3})\s+killed",  # its own group (keyword "killed"); assumes short whitespace runs
        hyperscan=hyperscan,
    )
    groups = rules._plan_for("en", "text").groups
    # on the keyword path four rules are tried together; Hyperscan takes all five
    assert sorted(len(g.rules) for g in groups) == ([] if hyperscan else [1, 4])
    texts = [
        "12 people killed in Gaza; 3 killed by fire. Dozens were killed, 40 people were killed in Rafah.",
        "killed killed 7 killed 8 people killed 9 killed by, 12 people 8 killed",
        "",
        "At least 1,200 were\u00a0killed, 12" + " " * 30 + "killed in Gaza, and 5 were killed.",  # long space
    ]
    for text in texts:
        assert rules.match(text[:30], text, "en") == rules.match_reference(text[:30], text, "en")
    assert len(rules.match("", texts[1], "en")) >= 6


@pytest.mark.parametrize("hyperscan", PATHS)
def test_a_keyword_window_holding_two_matches_gives_both(hyperscan: bool) -> None:
    """The window of the last "a" first finds "xxß" (found through "ß", whose window is unbounded);
    the match "a" in the same window must follow (the engine went on to the next window, and
    there was none)."""
    rules = _specs("a(?:[^\\s]){0,12}|(\\w)\\1(?:ß)", hyperscan=hyperscan)
    title = "a" + " " * 12 + "xxßa"  # the long whitespace run lifts the bounds
    got = rules.match(title, "", "en")
    assert got == rules.match_reference(title, "", "en")
    assert [(e.start, e.end) for e in got] == [(0, 1), (13, 16), (16, 17)]


@pytest.mark.parametrize("hyperscan", PATHS)
def test_non_ascii_digits_match_like_the_reference(hyperscan: bool) -> None:
    """``\\d`` also matches Arabic-Indic digits, which ``fold`` leaves alone: such texts are searched
    without start literals."""
    rules = _specs(r"\b\d{1,3} (?:people )?killed\b", hyperscan=hyperscan)
    assert rules.rules[0].starts == {"0"}
    for text in (
        "\u0663 people killed and 12 killed",
        "\u0661\u0662 killed",
        "12 killed, \u2019quoted\u2019 \u00e9",
    ):
        got = rules.match("", text, "en")
        assert got == rules.match_reference("", text, "en")
        assert got


def test_engine_equals_reference_on_demo_articles(real_rules: RuleSet) -> None:
    paths = sorted((ROOT / "pipeline" / "demo" / "site").rglob("*.html"))
    assert paths
    fired = 0
    for path in paths:
        page = extract_file(path)
        for language in ("en", "fr", None):
            got = real_rules.match(page.title, page.text, language)
            assert got == real_rules.match_reference(page.title, page.text, language), path
            fired += len(got)
    assert fired > 100
