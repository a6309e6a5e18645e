"""The Hyperscan path of the rules engine (pipeline/rulescan.py) against the per-rule reference, and
its fallback, the keyword path: tricky patterns and texts, patterns Hyperscan cannot take, no
hyperscan at all, threads, pickling, the disk cache."""

from __future__ import annotations

import pickle
import random
import re
import threading
from dataclasses import replace
from pathlib import Path
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline import rulescan
from pipeline.rules import RuleSet, RuleSpec, _first_chars, _guard_tails, load_rules

ROOT = Path(__file__).resolve().parents[1]
RULES_FILE = ROOT / "alerts" / "rules.yaml"

needs_hyperscan = pytest.mark.skipif(not rulescan.AVAILABLE, reason="hyperscan is not installed")
PATHS = [pytest.param(True, id="hyperscan", marks=needs_hyperscan), pytest.param(False, id="keywords")]


def _spec(k: int, patterns: list[str], **extra: Any) -> RuleSpec:
    return RuleSpec.model_validate(
        {"id": f"r{k}", "category": "loaded_language", "language": "en", "patterns": patterns}
        | {"weight": 0.3, "explanation": "Anything."}
        | extra
    )


def _same(rules: RuleSet, title: str, text: str, language: str | None = "en") -> list[Any]:
    got = rules.match(title, text, language)
    assert got == rules.match_reference(title, text, language), (title, text, language)
    return got


# Patterns whose relaxed Hyperscan form needs care, each with texts where it must behave exactly as
# ``re`` does: (pattern, texts, how many evidence the texts hold at least).
TRICKY = [
    # lookbehind and lookahead (dropped from the relaxed form, checked by re)
    (r"(?<!Hamas-)\bIsrael\b(?!-Hamas)", ["Hamas-Israel war, Israel-Hamas war, Israel said."], 1),
    # a back-reference: no Hyperscan form, the keyword path
    (r"\b(\w+) \1\b", ["the the army said said it", "Gaza gaza"], 2),
    # IGNORECASE's extra equivalences: long s, Kelvin sign, dotted and dotless i, capital sharp s
    (r"\bstrike\b", ["the ſtrike; STRIKE; a strike!"], 3),
    (r"\bkill(?:ed)?\b", ["\u212aILLED, kill, skilled, killed"], 3),
    (r"\bkibbutz\b", ["KİBBUTZ residents; kıbbutz"], 2),
    (r"stra\u00dfe", ["STRA\u1e9eE, Strasse, straße"], 2),
    (r"\b(?-i:IDF)\b", ["the IDF, the idf"], 1),
    # accents and French elisions, curly and straight apostrophes
    (r"\bl[’']arm[ée]e\b", ["L’ARMÉE, l'armée, l‘armée, dell’armee"], 2),
    (r"\bétat\b", ["L'État, ÉTAT, états, xétat"], 2),
    (r"\bcaf[ée]\b", ["café-crème, cafés, CAFÉ"], 2),
    # a boundary next to a letter past U+00FF (a word character to re, "?" to Hyperscan)
    (r"\bkill\b", ["Ωkill, кkill, kill’s, kill😀"], 2),
    (r"\bgaza\b", ["Gaza\u202fcity, Gazaα, Gaza—"], 2),
    # overlapping matches: finditer's choice from the left
    (r"\b\w+ killed\b", ["killed killed killed killed"], 2),
    (r"a(?:ba)*", ["abababa aba a"], 3),
    (r"\bclash(?:es|ed)?\b", ["clash clashes clashed clashing"], 3),
    # anchors
    (r"^Breaking\b", ["Breaking: news. Breaking again"], 1),
    (r"(?m:^said)\b", ["he said\nsaid it"], 1),
    # non-ASCII digits, which \d matches
    (r"\b\d{1,3} (?:people )?killed\b", ["\u0663\u0664 killed, 12 people killed"], 2),
    # wide characters in the pattern
    (r"[’']s\b", ["Israel’s army, Hamas's, it’S"], 3),
    (r"\bœuvre\b", ["ŒUVRE, œuvres, main-d’œuvre"], 2),
    # a dot stops at a newline; a case-sensitive class
    (r"\bsaid.{0,10}\bgaza", ["said in\nGaza, said in Gaza"], 1),
    (r"(?-i:\b[A-Z][a-z]+), \d{1,2},", ["Amal, 9, and omar, 12, and Omar, 12,"], 2),
    # a repeat whose tail starts with one of a few characters: the lookahead put before the tail
    # must take every character IGNORECASE equates with them (Kelvin sign, long s, dotted I)
    (
        r"\bkilled\b(?![^.!?]{0,30}(?:\b(?:by|Israel)\b|\bkibbutz|\bsettlers?\b))",
        ["killed in Gaza. killed near \u212aIBBUTZ Be'eri. killed by them", "KİLLED, killed İSRAEL"],
        2,
    ),
    (r"\bkilled\b(?![^.]{0,20}\bſettlers\b)", ["killed by SETTLERS. killed. killed by ſettlers"], 1),
    (r"\b\d+ .*?(?:killed|dead)\b", ["12 were KILLED, 3 dead, 4 and \u212aILLED"], 2),
    (r"\bwar\b(?![^.]{0,20}?(?-i:Hamas|IDF))", ["war with hamas. war with Hamas. war and IDF"], 1),
    (r"\bwar\b(?![^.]{0,20}?(?:\bby)?\bthe)", ["war, the end. war on it. war by a"], 2),
]


@pytest.mark.parametrize("hyperscan", PATHS)
@pytest.mark.parametrize(("pattern", "texts", "least"), TRICKY, ids=[p for p, _, _ in TRICKY])
def test_tricky_patterns_match_like_the_reference(
    pattern: str, texts: list[str], least: int, hyperscan: bool
) -> None:
    rules = RuleSet([_spec(0, [pattern])], hyperscan)
    found = 0
    for text in texts:
        for title, body in ((text, ""), ("", text), (text, text)):
            for language in ("en", None, "fr"):
                found += len(_same(rules, title, body, language))
    assert found >= least


@pytest.mark.parametrize("hyperscan", PATHS)
def test_all_tricky_rules_together_match_like_the_reference(hyperscan: bool) -> None:
    """One database of all of them (the ones Hyperscan takes), each text as title and text."""
    specs = [_spec(k, [p], headline_only=k % 5 == 0) for k, (p, _, _) in enumerate(TRICKY)]
    rules = RuleSet(specs, hyperscan)
    texts = [t for _, ts, _ in TRICKY for t in ts]
    for k, text in enumerate(texts):
        for language in ("en", None):
            _same(rules, texts[k - 1], text, language)
    _same(rules, " ".join(texts), "\n".join(texts))


@needs_hyperscan
def test_hyperscan_takes_the_rules_it_can_and_leaves_the_others() -> None:
    rules = RuleSet(
        [
            _spec(0, [r"\bHamas-run\b"]),
            _spec(1, [r"\b(\w+) \1\b"]),  # back-reference
            _spec(2, [r"\bx?\b"]),  # matches the empty string
            _spec(3, [r"\bmob\b"], keywords=["mob"]),  # a keyword gate
            _spec(4, [r"^Breaking"], headline_only=True),
        ]
    )
    assert [r.scan is not None for r in rules.rules] == [True, False, False, False, True]
    assert rules._scan_for("en", False).covered == {0}
    assert rules._scan_for("en", True).covered == {4}
    assert rules.scanned("en") == {0, 4}
    assert rules.scanned("fr") == frozenset()
    assert rules._plan_for("en", "text").size == 3
    for text in ("Hamas-run the the mob x", "", "Breaking mob"):
        _same(rules, text, text)


@needs_hyperscan
def test_a_pattern_hyperscan_refuses_takes_the_keyword_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """An expression Hyperscan will not compile is found among the others (its error does not say
    which) and its rule matches on the keyword path."""
    rules = RuleSet([_spec(k, [p]) for k, p in enumerate([r"\bmob\b", r"\bclash(?:es)?\b", r"\bHamas\b"])])
    rules.rules[1] = replace(rules.rules[1], scan=b"(?:unclosed")
    assert rules._scan_for("en", False).covered == {0, 2}
    assert rules._plan_for("en", "text").size == 1
    for text in ("mob clashes with Hamas", "clash", "Clashes, a mob"):
        assert _same(rules, "", text)


@needs_hyperscan
def test_refused_expressions_are_found_by_bisection() -> None:
    good = [rulescan.translate(p) for p in (r"\bmob\b", r"kill", r"\d+ dead", r"gaza")]
    scanner = rulescan.Scanner([good[0], b"(", good[1], b"[", good[2], good[3], b"x{2,1}"])
    assert scanner.refused == {1, 3, 6}
    found = scanner.scan(b"12 dead in gaza, a mob")
    assert set(found) == {0, 4, 5}


def test_without_hyperscan_every_rule_takes_the_keyword_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rulescan, "AVAILABLE", False)
    real = load_rules(RULES_FILE)
    assert not real.hyperscan
    assert real._scan_for("en", False) is None
    spec = real.by_id["agentless-count-killed"].spec
    assert spec.example
    assert "rule:agentless-count-killed" in [e.source for e in _same(real, "", spec.example)]
    with pytest.raises(RuntimeError, match="hyperscan"):
        RuleSet([spec], hyperscan=True)


@needs_hyperscan
def test_a_build_that_misses_matches_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Vectorscan 5.4.12 (hyperscan 0.7.23 and later) loses matches at the end of buffers of 17 to
    34 bytes: a build that does is found at import and not used."""
    assert rulescan._finds_what_it_should()
    collect = rulescan._collect

    def lossy(ident: int, start: int, end: int, flags: int, found: Any) -> None:
        if not 17 <= end <= 34:
            collect(ident, start, end, flags, found)

    monkeypatch.setattr(rulescan, "_HANDLER", lossy)
    assert not rulescan._finds_what_it_should()


def test_first_characters_of_a_tail_are_known_only_when_every_match_starts_with_one() -> None:
    def first(source: str) -> Any:
        got = _first_chars(_parser.parse(source, re.IGNORECASE))
        return None if got is None else sorted(chr(av) for _, av in got)

    assert first(r"\b(?:by|Israel|IDF)\b|\bkibbutz") == ["I", "b", "k"]
    assert first(r"(?=x)(?:settlers?|[hH]amas)+") == ["H", "h", "s"]
    assert first(r"(?:by)?the") is None  # "the" may come first
    assert first(r"(?-i:IDF)") is None  # other flags: left alone
    assert first(r".x") is None
    assert first(r"[^x]y") is None
    assert first(r"\b") is None


def test_a_repeat_gets_a_lookahead_for_the_first_characters_of_its_tail() -> None:
    parsed = _parser.parse(r"x(?![^.]{0,250}?\b(?:by|Israel))[^.]*(?:y|z)", re.IGNORECASE)
    assert _guard_tails(parsed)
    ahead = parsed.data[1][1][1].data  # the negative lookahead's sequence
    assert ahead[1][0] is _constants.ASSERT
    assert sorted(chr(av) for _, av in ahead[1][1][1].data[0][1]) == ["I", "b"]
    assert parsed.data[3][0] is _constants.ASSERT  # after [^.]*, before (?:y|z)
    # a literal tail: re looks for the literal itself; nothing to put
    assert not _guard_tails(_parser.parse(r"[^.]{0,9}?by", re.IGNORECASE))


@pytest.mark.parametrize("hyperscan", PATHS)
def test_random_patterns_match_like_the_reference(hyperscan: bool) -> None:
    """Random patterns built from pieces that have needed care, on random texts built from
    characters that have: the engine finds exactly what every rule's regex finds."""
    rng = random.Random(20251121)
    for _ in range(40):  # about 40 rules the rules file takes
        specs = []
        for k in range(rng.randint(1, 4)):
            patterns = [_random_pattern(rng) for _ in range(rng.randint(1, 2))]
            extra: dict[str, Any] = {"language": rng.choice(["en", "fr"])}
            if rng.random() < 0.2:
                extra["headline_only"] = True
            if rng.random() < 0.2:
                extra["near"] = {"words": rng.randint(1, 3), "terms": [rng.choice(["gaza", "by", r"\d+"])]}
            try:  # patterns that do not compile, or that the rules file refuses (nested repeats)
                specs.append(_spec(k, patterns, **extra))
            except ValidationError:
                continue
        if not specs:
            continue
        rules = RuleSet(specs, hyperscan)
        for _ in range(5):
            title, text = _random_text(rng), _random_text(rng)
            for language in ("en", "fr", None):
                _same(rules, title, text, language)


_WORDS = ["kill", "killed", "Gaza", "strike", "israël", "État", "l’armée", "by", "the", "a", "K", "ß", "’"]
_CLASSES = [r"\d", r"\w", r"\s", r"\W", ".", "[a-z]", "[^.!?]", "[’']", "(?-i:[A-Z])", "(?s:.)", "(?a:\\w)"]
_TEXT = [
    *["kill", "killed", "skills", "Gaza", "GAZA", "ſtrike", "İsraël", "israël", "ÉTAT", "état"],
    *["l’armée", "l'armée", "by", "the", "a", "K", "\u212a", "k", "ß", "ẞ", "Œuvre", "’", "‘", "x"],
    *["12", "\u0663", "Ω", "の", "😀", ".", ",", "!", "-", "«", "»"],
    *[" ", " ", "  ", "\n", "\u202f", "\u00a0", "\t", " " * 12],
]


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    out = ""
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if depth > 1 or pick < 0.45:
            piece = re.escape(rng.choice(_WORDS)) if rng.random() < 0.6 else rng.choice(_CLASSES)
        elif pick < 0.6:
            piece = "(?:" + "|".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3))) + ")"
        elif pick < 0.7:
            piece = rng.choice(["(?!", "(?=", "(?<!", "(?<="]) + re.escape(rng.choice(_WORDS)) + ")"
        elif pick < 0.8:
            piece = rng.choice([r"\b", r"\B", "^", "$", r"\A", r"\Z"])
        elif pick < 0.85:
            piece = r"(\w)\1"
        else:
            piece = "(" + _random_pattern(rng, depth + 1) + ")"
        out += piece + rng.choice(["", "", "", "?", "*", "+", "{1,3}", "{0,2}", "*?"])
    return out


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, 25)))


def test_threads_share_a_rule_set() -> None:
    """Many threads matching at once, from the first call (which compiles the databases) on: each
    thread gets its own scratch space and the evidence of the reference."""
    rules = load_rules(RULES_FILE)
    texts = [
        (r.spec.example or "", r.spec.language)
        for r in rules.rules
        if not r.spec.headline_only and r.spec.example
    ]
    expected = [rules.match_reference("", t, lang) for t, lang in texts]
    results: dict[int, list[Any]] = {}
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        results[n] = [rules.match("", t, lang) for t, lang in texts[n:] + texts[:n]]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, got in results.items():
        assert got == expected[n:] + expected[:n]
    assert len(results) == 8


def test_a_rule_set_pickles_and_matches_the_same() -> None:
    """For a process pool: what is pickled is the rules, not the compiled databases."""
    rules = load_rules(RULES_FILE)
    text = "At least 27 people were killed in Rafah overnight, hospital officials in Gaza said."
    before = rules.match("", text, "en")
    again = pickle.loads(pickle.dumps(rules))
    assert again.hyperscan == rules.hyperscan
    assert again.match("", text, "en") == before
    assert before


@needs_hyperscan
def test_compiled_databases_are_kept_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expressions = [rulescan.translate(p, reverse=True) for p in (r"\bmob\b", r"\bkill(?:ed)?\b")] + [b"("]
    rulescan.Scanner(expressions, tmp_path)
    assert list(tmp_path.glob("*.hsdb")) == []  # compiled in no time: not worth keeping
    monkeypatch.setattr(rulescan, "CACHE_AFTER", 0)
    first = rulescan.Scanner(expressions, tmp_path)
    (kept,) = tmp_path.glob("*.hsdb")
    again = rulescan.Scanner(expressions, tmp_path)  # read back, not compiled
    assert again.refused == first.refused == {2}
    data = b"a mob killed"[::-1]
    assert again.scan(data) == first.scan(data) == {0: [10], 1: [6]}
    kept.write_bytes(kept.read_bytes()[:-10])  # a damaged file is compiled anew
    assert rulescan.Scanner(expressions, tmp_path).scan(data) == {0: [10], 1: [6]}
    monkeypatch.setenv("MEDIAWATCH_HYPERSCAN_CACHE", "off")
    assert rulescan.cache_dir() is None
    monkeypatch.setenv("MEDIAWATCH_HYPERSCAN_CACHE", str(tmp_path / "elsewhere"))
    assert rulescan.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("MEDIAWATCH_HYPERSCAN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rulescan.cache_dir() == tmp_path / "xdg" / "mediawatch" / "hyperscan"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(Path, "home", _no_home)
    assert rulescan.cache_dir() is None
    unwritable = rulescan.Scanner(expressions, Path("/proc/no-such-dir"))  # a cache it cannot write
    assert unwritable.scan(data) == {0: [10], 1: [6]}


def _no_home() -> Path:
    raise RuntimeError("Could not determine home directory.")


@needs_hyperscan
def test_classes_take_the_wide_byte_for_every_character_ignorecase_equates() -> None:
    """For every character up to U+00FF, as a literal with and without IGNORECASE: if a character
    past U+00FF matches it, the class also holds "?" (the byte such characters are scanned as)."""
    wide = "".join(map(chr, range(0x100, 0x110000)))
    equated = set(re.findall("(?i)[\x00-\xff]", wide))
    assert {"\u212a", "\u017f", "\u0131", "\u0130", "\u1e9e"} <= equated
    for code in range(0x100):
        for flags in (re.IGNORECASE, 0):
            members = rulescan._byte_class(_constants.LITERAL, code, flags, {})
            assert code in members
            matched = any(re.fullmatch(re.escape(chr(code)), c, flags) for c in equated)
            if matched:
                assert rulescan.WIDE in members, (chr(code), flags)


def test_the_written_out_unicode_tables_equal_what_unicode_gives() -> None:
    """Tables written out to save start-up time: the whitespace the prefilter folds to a space,
    and the Latin-1 characters that characters past U+00FF fold to."""
    from pipeline import rules

    every = (chr(c) for c in range(0x110000))
    assert [c for c in every if c.isspace() and c != " "] == rules._SPACES
    assert rulescan.wide_folds_of_unicode() == rulescan.WIDE_FOLDS
