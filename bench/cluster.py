"""Wire-copy detection: pipeline.cluster.CopyIndex (MinHash LSH + exact containment) on a labelled
stream of stories, against the brute-force containment search it replaced.

    .venv/bin/python bench/cluster.py [--n 10000] [--reference-n 1000] [--seed 20240917] [--quick]

The labelled stream, built in code at run time:

- wire stories: the team-written fixtures in tests/fixtures/cluster (AP, CP, Reuters, AFP and La
  Presse Canadienne, English and French), each followed by ``--copies`` outlet versions;
- real article texts (``shared/data/extraction/ground-truth.json``), three in five of them with 1-3
  outlet versions made the same way;
- for volume, composite stories of 6-18 sentences dealt from real news sentences about the war in
  Gaza (``shared/data/breach-star-post``, ``casualty-mentions-us``; French from ``fignews-iaa``):
  the same vocabulary and sourcing phrases in every story. A sentence is dealt whole to at most two
  stories; after that the deck deals spliced sentences (half of one, half of another). 15 % of
  the composites get 1-3 outlet versions;
- hard negatives: one composite in twenty is followed by a different story that quotes two of its
  sentences (labelled distinct), and the fixture pairs written on the same topic on the same day
  (two AP Gaza strike stories, two AFP West Bank stories, sharing a background paragraph).

An outlet version keeps the first 40-65 % of the paragraphs (sometimes all), drops a middle
paragraph half the time, changes 0-2 words in each paragraph (a word replaced, dropped or added;
style edits such as "Israel's" -> "Israeli", "per cent" -> "%"), may lose its dateline, may get a
paragraph of the outlet's own at the end or, less often, at the start, and a sign-off line. The
headline is not part of the text the index sees, so a new headline changes nothing.

The stream is shuffled (a copy may arrive before its original; the fixture stories go first so that
their figures hold at any ``--n``) and clustered as the pipeline does:
``find(text, exclude=id)``, link the two, ``add(id, text)``. Groups are the connected components
of those links. Reported: pairwise precision and recall of the groups against the labels (overall,
for the fixture stories, and how many hard-negative pairs ended up grouped); wall time to cluster
the whole stream; the index's memory (tracemalloc, in a second pass: tracing slows the code);
and the brute-force search of the old ``CopyIndex`` (every stored story compared, 5-word shingle
containment >= 0.5) on the first ``--reference-n`` stories of the same stream, its time, quality
and the time extrapolated to ``--n`` (its cost grows with the square of the stream). Nothing read
from shared/data is written anywhere. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.cluster import CopyIndex, sketch  # noqa: E402

DATA = ROOT.parent / "shared/data"
FIXTURES = ROOT / "tests/fixtures/cluster"
UNRELATED_FIXTURES = ("local_transit_council.txt",)
SENTENCE = re.compile(r"(?<=[.!?»”\"])\s+(?=[«“\"A-ZÀ-Ý0-9])|(?<=[a-z][.!?])(?=[A-Z“])")
TARGET_SECONDS = 10.0  # to cluster 10,000 stories on a 2-core machine
TARGET_N = 10_000

# Style edits outlets make to wire copy, both ways.
STYLE = [
    ("Israel's", "Israeli"),
    ("per cent", "%"),
    ("on Tuesday", "Tuesday"),
    ("said", "stated"),
    ("killed", "left dead"),
    ("at least", "no fewer than"),
    ("neighbourhood", "neighborhood"),
    ("centre", "center"),
    ("a déclaré", "a dit"),
    ("au moins", "pas moins de"),
    ("a indiqué", "a précisé"),
]
OUTLET_SIGNOFFS = [
    "This report by The Canadian Press was first published {day}.",
    "— With files from The Associated Press",
    "With files from Reuters",
    "Avec l'Agence France-Presse",
    "Ce texte de La Presse Canadienne a été publié pour la première fois le {day}.",
    "",
    "",
    "",
]


@dataclass
class Story:
    story_id: int
    text: str
    group: int  # the original story's id: copies share it
    kind: str  # fixture, real, composite, shared-passage
    copy: bool = False
    french: bool = False


# --- Source texts ---------------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def fixture_stories() -> list[tuple[str, list[str]]]:
    return [(path.name, paragraphs(path.read_text())) for path in sorted(FIXTURES.glob("*.txt"))]


def real_bodies(data: Path) -> list[list[str]]:
    truth = json.loads((data / "extraction/ground-truth.json").read_text())
    bodies = [paragraphs(item["articleBody"]) for _, item in sorted(truth.items())]
    return [b for b in bodies if sum(len(p.split()) for p in b) >= 120]


def sentence_pools(data: Path) -> tuple[list[str], list[str]]:
    """English and French news sentences (deduplicated, 8 to 60 words: the casualty data holds some
    paragraphs run together without spaces, split here where a full stop meets a capital)."""
    english: dict[str, None] = {}
    for name in ("star_sentences.csv", "post_sentences.csv"):
        with (data / "breach-star-post" / name).open(newline="") as f:
            for row in csv.DictReader(f):
                english.update(dict.fromkeys(SENTENCE.split(" ".join(row["sentence"].split()))))
    for path in sorted((data / "casualty-mentions-us").glob("tagged_data_*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                english.update(dict.fromkeys(SENTENCE.split(" ".join(row["sentence"].split()))))
    french: dict[str, None] = {}
    with (data / "fignews-iaa/FIGNEWS-2024-TEXT-IAA.tsv").open(newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["Source Language"] == "French":
                text = re.sub(r"https?://\S+|#|@\w+", " ", row["Text"])
                for sentence in SENTENCE.split(" ".join(text.split())):
                    french[sentence] = None

    def keep(pool: Iterable[str]) -> list[str]:
        return [s for s in pool if 8 <= len(s.split()) <= 60]

    return keep(english), keep(french)


# --- Outlet versions -------------------------------------------------------------------------------


def copy_edit(paragraph: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """0-2 edits: a style substitution, or a word replaced, dropped or added."""
    for _ in range(rng.choice((0, 1, 1, 2, 2))):
        style = [(a, b) for a, b in STYLE if a in paragraph] + [(b, a) for a, b in STYLE if b in paragraph]
        if style and rng.random() < 0.4:
            a, b = rng.choice(style)
            paragraph = paragraph.replace(a, b, 1)
            continue
        words = paragraph.split()
        if len(words) < 6:
            continue
        i = rng.randrange(1, len(words))
        action = rng.random()
        if action < 0.4:
            words[i] = rng.choice(vocabulary)
        elif action < 0.7:
            del words[i]
        else:
            words.insert(i, rng.choice(vocabulary))
        paragraph = " ".join(words)
    return paragraph


def outlet_version(original: list[str], rng: random.Random, vocabulary: Sequence[str], own: list[str]) -> str:
    """What an outlet makes of a wire story: trimmed, a middle paragraph dropped, copy-edited,
    dateline dropped, a paragraph of its own, a sign-off."""
    keep = len(original) if rng.random() < 0.15 else max(3, round(len(original) * rng.uniform(0.4, 0.65)))
    kept = original[:keep]
    if len(kept) > 4 and rng.random() < 0.5:
        del kept[rng.randrange(1, len(kept) - 1)]
    kept = [copy_edit(p, rng, vocabulary) for p in kept]
    if rng.random() < 0.3:
        kept[0] = re.sub(r"^[^—–]{0,60}?[—–-]\s+", "", kept[0], count=1)
    if own:
        if rng.random() < 0.2:
            kept.insert(0, " ".join(own))
        else:
            kept.append(" ".join(own))
    signoff = rng.choice(OUTLET_SIGNOFFS).format(day=f"Oct. {rng.randint(1, 28)}, 2024")
    if signoff:
        kept.append(signoff)
    return "\n\n".join(kept)


class Deck:
    """Sentences dealt without replacement. After ``WHOLE_ROUNDS`` rounds the deck deals spliced
    sentences (the first half of one, the second half of another): real stories share phrases
    and the odd widely quoted sentence, not every sentence with a dozen other stories. The small
    French deck is dealt once."""

    WHOLE_ROUNDS = 2

    def __init__(self, sentences: Sequence[str], rng: random.Random, reshuffle: bool) -> None:
        self.sentences, self.rng, self.reshuffle = list(sentences), rng, reshuffle
        self.left: list[str] = []
        self.rounds = 0

    def splice(self, sentence: str) -> str:
        first, second = sentence.split(), self.rng.choice(self.sentences).split()
        return " ".join(first[: len(first) // 2] + second[len(second) // 2 :])

    def deal(self, k: int) -> list[str] | None:
        if len(self.left) < k:
            if self.rounds and not self.reshuffle:
                return None
            self.left = self.rng.sample(self.sentences, len(self.sentences))
            self.rounds += 1
        dealt, self.left = self.left[:k], self.left[k:]
        if self.rounds > self.WHOLE_ROUNDS:
            dealt = [self.splice(sentence) for sentence in dealt]
        return dealt


def in_paragraphs(sentences: Sequence[str], rng: random.Random) -> list[str]:
    """Sentences in paragraphs of one or two, as wire stories are written."""
    out, i = [], 0
    while i < len(sentences):
        step = rng.choice((1, 2))
        out.append(" ".join(sentences[i : i + step]))
        i += step
    return out


# --- The labelled stream -------------------------------------------------------------------------


@dataclass
class StreamBuilder:
    rng: random.Random
    english: list[str]
    french: list[str]
    copies: int

    def __post_init__(self) -> None:
        self.stories: list[Story] = []
        self.vocabulary = [w for s in self.rng.sample(self.english, 2000) for w in s.split()]
        self.hard_negative_pairs: list[tuple[int, int]] = []
        self.decks = {
            False: Deck(self.english, self.rng, reshuffle=True),
            True: Deck(self.french, self.rng, reshuffle=False),
        }

    def add(self, text: str, group: int | None, kind: str, french: bool) -> int:
        story_id = len(self.stories) + 1
        self.stories.append(Story(story_id, text, group or story_id, kind, group is not None, french))
        return story_id

    def own_paragraph(self, french: bool) -> list[str]:
        if self.rng.random() < 0.4:
            return []
        return self.decks[french].deal(self.rng.choice((1, 2))) or self.decks[False].deal(1) or []

    def with_copies(self, paras: list[str], kind: str, copies: int, french: bool = False) -> int:
        original = self.add("\n\n".join(paras), None, kind, french)
        for _ in range(copies):
            version = outlet_version(paras, self.rng, self.vocabulary, self.own_paragraph(french))
            self.add(version, original, kind, french)
        return original

    def composite(self) -> None:
        """A story of 6-18 sentences from the decks; 15 % get outlet versions; 1 in 20 is
        followed by a different story that quotes two of its sentences."""
        rng = self.rng
        french = rng.random() < 0.15
        sentences = self.decks[french].deal(rng.randint(6, 18))
        if sentences is None:
            french, sentences = False, self.decks[False].deal(rng.randint(6, 18))
        assert sentences is not None
        if rng.random() < 0.05:
            other = self.with_copies(in_paragraphs(sentences, rng), "composite", 0, french)
            size = rng.randint(6, 14)
            fresh = self.decks[french].deal(size) or self.decks[False].deal(size) or []
            quoted = sorted(rng.sample(range(len(sentences)), 2))
            new = in_paragraphs(fresh, rng)
            new.insert(rng.randrange(1, len(new) + 1), " ".join(sentences[i] for i in quoted))
            self.hard_negative_pairs.append((other, self.with_copies(new, "shared-passage", 0, french)))
            return
        copies = rng.choice((1, 2, 3)) if rng.random() < 0.15 else 0
        self.with_copies(in_paragraphs(sentences, rng), "composite", copies, french)

    def build(self, n: int, bodies: list[list[str]]) -> list[Story]:
        for name, paras in fixture_stories():
            copies = 0 if name in UNRELATED_FIXTURES else self.copies
            self.with_copies(paras, "fixture", copies, french=name.startswith(("afp", "pc")))
        for body in bodies:
            self.with_copies(body, "real", self.rng.choice((0, 0, 1, 2, 3)))
        while len(self.stories) < n:
            self.composite()
        stories = self.stories[:n]
        self.rng.shuffle(stories)
        return stories


# --- Grouping and scoring ------------------------------------------------------------------------


class Components:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def root(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def link(self, a: int, b: int) -> None:
        self.parent[self.root(a)] = self.root(b)


def cluster(index: Any, stories: Iterable[Story]) -> Components:
    groups = Components()
    for story in stories:
        match = index.find(story.text, exclude=story.story_id)
        groups.root(story.story_id)
        if match is not None:
            groups.link(story.story_id, match)
        index.add(story.story_id, story.text)
    return groups


def pairs_of(members: dict[int, list[int]]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for ids in members.values():
        out.update(combinations(sorted(ids), 2))
    return out


def score(stories: Sequence[Story], groups: Components, hard: list[tuple[int, int]]) -> dict[str, Any]:
    truth: dict[int, list[int]] = defaultdict(list)
    found: dict[int, list[int]] = defaultdict(list)
    for story in stories:
        truth[story.group].append(story.story_id)
        found[groups.root(story.story_id)].append(story.story_id)
    true_pairs, found_pairs = pairs_of(truth), pairs_of(found)
    tp = len(true_pairs & found_pairs)
    kinds = {s.story_id: s.kind for s in stories}
    fixture_true = {p for p in true_pairs if kinds[p[0]] == "fixture"}
    fixture_found = {p for p in found_pairs if kinds[p[0]] == "fixture" or kinds[p[1]] == "fixture"}
    present = {s.story_id for s in stories}
    hard_in = [(a, b) for a, b in hard if a in present and b in present]
    return {
        "stories": len(stories),
        "true_pairs": len(true_pairs),
        "found_pairs": len(found_pairs),
        "precision": round(tp / len(found_pairs), 4) if found_pairs else 1.0,
        "recall": round(tp / len(true_pairs), 4) if true_pairs else 1.0,
        "fixture_precision": round(len(fixture_true & fixture_found) / len(fixture_found), 4)
        if fixture_found
        else 1.0,
        "fixture_recall": round(len(fixture_true & fixture_found) / len(fixture_true), 4)
        if fixture_true
        else 1.0,
        "hard_negative_pairs": len(hard_in),
        "hard_negatives_grouped": sum(groups.root(a) == groups.root(b) for a, b in hard_in),
        "false_pairs_by_kind": _false_pairs_by_kind(found_pairs - true_pairs, kinds),
    }


def _false_pairs_by_kind(pairs: set[tuple[int, int]], kinds: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for a, b in pairs:
        out["/".join(sorted((kinds[a], kinds[b])))] += 1
    return dict(out)


# --- The old search, as the reference ---------------------------------------------------------------


class BruteForceIndex:
    """pipeline/cluster.py's CopyIndex before MinHash LSH: every stored story compared."""

    def __init__(self) -> None:
        self._items: list[tuple[int, set[int]]] = []

    @staticmethod
    def shingles(text: str) -> set[int]:
        words = re.findall(r"\w+", text.lower())
        return {hash(tuple(words[i : i + 5])) for i in range(max(0, len(words) - 4))}

    def add(self, story_id: int, text: str) -> None:
        self._items.append((story_id, self.shingles(text)))

    def find(self, text: str, exclude: int | None = None) -> int | None:
        mine = self.shingles(text)
        if len(mine) < 20:
            return None
        best, best_id = 0.5, None
        for sid, theirs in self._items:
            if sid == exclude or not theirs:
                continue
            s = len(mine & theirs) / min(len(mine), len(theirs))
            if s >= best:
                best, best_id = s, sid
        return best_id


def timed(index: Any, stories: Sequence[Story]) -> tuple[float, Components]:
    start = time.perf_counter()
    groups = cluster(index, stories)
    return time.perf_counter() - start, groups


def split_seconds(stories: Sequence[Story]) -> dict[str, float]:
    """The stream's time in the two places the pipeline spends it: making each story's sketch
    (shingles and MinHash; a worker process does this as it extracts the page) and finding and
    adding with the sketch already made (the process that stores the articles does this)."""
    start = time.perf_counter()
    made = [sketch(story.text) for story in stories]
    sketched = time.perf_counter()
    index = CopyIndex()
    for story, own in zip(stories, made, strict=True):
        index.find(story.text, exclude=story.story_id, made=own)
        index.add(story.story_id, story.text, own)
    indexed = time.perf_counter()
    return {"sketch_s": round(sketched - start, 2), "find_and_add_s": round(indexed - sketched, 2)}


def traced_memory(stories: Sequence[Story]) -> dict[str, float]:
    """Memory the index holds after the stream, and its peak while clustering (tracemalloc)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    index = CopyIndex()
    cluster(index, stories)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return {"index_mb": round((current - base) / 2**20, 1), "peak_mb": round((peak - base) / 2**20, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=TARGET_N, help="stories in the stream")
    parser.add_argument("--reference-n", type=int, default=1000, help="stories for the brute force")
    parser.add_argument("--copies", type=int, default=6, help="outlet versions of each fixture story")
    parser.add_argument("--seed", type=int, default=20240917)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="2,000 stories, brute force on 500")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.reference_n = min(args.n, 2000), min(args.reference_n, 500)

    english, french = sentence_pools(args.data)
    builder = StreamBuilder(random.Random(args.seed), english, french, args.copies)
    stories = builder.build(args.n, real_bodies(args.data))
    # Fixture stories first, so the quality figures for them hold at any --n.
    stories.sort(key=lambda s: s.kind != "fixture")

    seconds, groups = timed(CopyIndex(), stories)
    split = split_seconds(stories)
    quality = score(stories, groups, builder.hard_negative_pairs)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory = traced_memory(stories)

    head = stories[: args.reference_n]
    ref_seconds, ref_groups = timed(BruteForceIndex(), head)
    new_seconds, new_groups = timed(CopyIndex(), head)
    extrapolated = ref_seconds * (len(stories) / len(head)) ** 2
    result = {
        "n": len(stories),
        "seconds": round(seconds, 2),
        "stories_per_s": round(len(stories) / seconds),
        "split": split,
        "quality": quality,
        "memory": memory | {"peak_rss_mb": round(rss_mb)},
        "reference": {
            "n": len(head),
            "brute_force_s": round(ref_seconds, 2),
            "index_s": round(new_seconds, 3),
            "speedup": round(ref_seconds / new_seconds, 1),
            "brute_force_extrapolated_to_n_s": round(extrapolated, 1),
            "speedup_at_n": round(extrapolated / seconds, 1),
            "brute_force_quality": score(head, ref_groups, builder.hard_negative_pairs),
            "index_quality": score(head, new_groups, builder.hard_negative_pairs),
        },
        "stream": {
            "kinds": {k: sum(s.kind == k for s in stories) for k in sorted({s.kind for s in stories})},
            "copies": sum(s.copy for s in stories),
            "french_sentences": len(french),
            "english_sentences": len(english),
            "english_deck_rounds": builder.decks[False].rounds,
            "french_stories": sum(s.french for s in stories),
        },
        "targets": {"seconds_per_10k": TARGET_SECONDS},
        "meets_target": seconds * TARGET_N / len(stories) <= TARGET_SECONDS,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
