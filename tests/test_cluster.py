"""Wire copies: agency from byline, dateline or credit line; trimmed, retitled, copy-edited and
French copies found; different stories on the same topic, unrelated and short stories not; the
original of a cluster. The stories in tests/fixtures/cluster are fictional, written for these tests."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline.cluster import (
    MIN_CONTAINMENT,
    MIN_SHINGLES,
    NUM_PERM,
    CopyIndex,
    Member,
    cluster_agency,
    containment,
    content_words,
    minhash,
    originator_of,
    shingle_hashes,
    sketch,
    wire_agency,
    without_credits,
)

STORIES = Path(__file__).parent / "fixtures" / "cluster"
ROOT = Path(__file__).resolve().parents[1]


def paragraphs(name: str) -> list[str]:
    return [p for p in (STORIES / f"{name}.txt").read_text().split("\n\n") if p.strip()]


def story(name: str) -> str:
    return "\n\n".join(paragraphs(name))


KHAN_YOUNIS = "ap_gaza_khan_younis"  # AP, strikes in southern Gaza
JABALIYA = "ap_gaza_jabaliya"  # AP, the same day, strikes in northern Gaza: another story
ARMS = "cp_arms_permits"  # The Canadian Press
JENINE = "afp_jenine_raid"  # AFP, in French
NAPLOUSE = "afp_naplouse_colons"  # AFP, the same day, the West Bank: another story
MONTREAL = "pc_manifestation_montreal"  # La Presse Canadienne
BEIRUT = "reuters_lebanon_border"
TRANSIT = "local_transit_council"  # a city-hall story, nothing to do with the others

LOCAL_PARAGRAPH = (
    "In Hamilton, members of the local Palestinian community gathered outside city hall on "
    "Tuesday evening to read the names of relatives killed since the spring, organizers said."
)


def full_index() -> CopyIndex:
    index = CopyIndex()
    for i, name in enumerate((KHAN_YOUNIS, JABALIYA, ARMS, JENINE, NAPLOUSE, MONTREAL, BEIRUT, TRANSIT)):
        index.add(i + 1, story(name))
    return index


IDS = {KHAN_YOUNIS: 1, JABALIYA: 2, ARMS: 3, JENINE: 4, NAPLOUSE: 5, MONTREAL: 6, BEIRUT: 7, TRANSIT: 8}


# --- Copies found ---------------------------------------------------------------------------------


def test_half_the_story_with_a_local_paragraph_is_found() -> None:
    """Half the paragraphs kept (a new headline is not part of the text), a local paragraph
    added at the end."""
    original = paragraphs(KHAN_YOUNIS)
    copy = "\n\n".join([*original[: len(original) // 2], LOCAL_PARAGRAPH])
    assert full_index().find(copy) == IDS[KHAN_YOUNIS]


def test_middle_paragraphs_dropped_and_a_local_paragraph_first_is_found() -> None:
    original = paragraphs(BEIRUT)
    copy = "\n\n".join([LOCAL_PARAGRAPH, LOCAL_PARAGRAPH.replace("Hamilton", "London, Ont.")])
    copy += "\n\n" + "\n\n".join(original[:2] + original[4:6])
    assert full_index().find(copy) == IDS[BEIRUT]


def test_copy_edited_copy_is_found() -> None:
    """A few words changed in every paragraph, the dateline dropped, spelling and style changed."""
    edited = [
        "The federal government has suspended 28 export permits for military goods bound for Israel, "
        "Foreign Minister Claire Beaulieu said on Thursday, but permits for components that end up in "
        "F-35 fighter jets built in the United States remain in force.",
        "Beaulieu told journalists on Parliament Hill that officials had reviewed all active permits "
        "since the House passed a non-binding motion in March calling on Ottawa to stop approving "
        "new exports. She said the suspended permits cover goods that could be used in Gaza, but would "
        "not list them, citing commercial confidentiality.",
        '"Canada\'s export system is among the most rigorous in the world, and we are applying it," '
        'Beaulieu said. "Where there is a substantial risk that an item could be used in a serious '
        'breach of international humanitarian law, the permit will not stand."',
        "Global Affairs Canada says the department approved almost $31 million in permits for "
        "military goods to Israel in the three months following the Oct. 7 attacks, more than in any "
        "full year prior to 2021. Officials have said most of the permits were for non-lethal gear "
        "such as communications equipment and night-vision parts.",
        "A coalition of lawyers and Palestinian Canadian groups went to Federal Court in the spring, "
        "arguing that the permits violate the Export and Import Permits Act and Canada's obligations "
        "under the Arms Trade Treaty. The case is to be heard in November.",
    ]
    copy = "\n\n".join(edited)
    original = np.unique(shingle_hashes(story(ARMS)))
    score, _ = containment(np.unique(shingle_hashes(copy)), original)
    assert score < 0.9  # the edits are real: a good part of the phrases changed
    assert full_index().find(copy) == IDS[ARMS]


def test_french_wire_copy_trimmed_is_found() -> None:
    """An AFP story cut to its first four paragraphs, accents lost on the capitals of the
    dateline, a paragraph of the outlet's own."""
    original = paragraphs(JENINE)
    lead = original[0].replace("JÉNINE (AFP)", "JENINE")
    own = (
        "À Montréal, une vigile a réuni une centaine de personnes mercredi soir devant le "
        "consulat, a constaté Le Devoir."
    )
    copy = "\n\n".join([lead, *original[1:4], own])
    assert full_index().find(copy) == IDS[JENINE]


def test_a_copy_stored_first_is_found_from_the_full_story() -> None:
    """The trimmed copy may arrive before the full wire story: containment is measured on the
    smaller of the two."""
    index = CopyIndex()
    index.add(10, "\n\n".join(paragraphs(MONTREAL)[:4]))
    index.add(11, story(TRANSIT))
    assert index.find(story(MONTREAL)) == 10


def test_a_republished_story_finds_every_earlier_copy_first_stored_on_a_tie() -> None:
    index = CopyIndex()
    index.add(7, story(ARMS))
    index.add(3, story(ARMS))
    assert index.find(story(ARMS)) == 7


# --- Not copies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "other"), [(JABALIYA, KHAN_YOUNIS), (NAPLOUSE, JENINE)])
def test_same_topic_same_day_different_story_is_not_a_copy(query: str, other: str) -> None:
    """Same agency, same day, same sources ("Palestinian health officials said", "selon le
    ministère palestinien de la Santé"), the same background paragraph word for word."""
    index = CopyIndex()
    index.add(1, story(other))
    score, shared = containment(
        np.unique(shingle_hashes(story(query))), np.unique(shingle_hashes(story(other)))
    )
    assert shared >= 20  # they do share phrases, and a whole paragraph
    assert score < MIN_CONTAINMENT
    assert index.find(story(query)) is None
    # nor a short version of it that keeps the shared background paragraph
    short = paragraphs(query)
    assert index.find("\n\n".join([*short[:4], short[-2]])) is None


def test_unrelated_story_is_not_a_copy() -> None:
    index = full_index()
    index_without_transit = CopyIndex()
    index_without_transit.add_many((i, story(n)) for n, i in IDS.items() if n != TRANSIT)
    assert index_without_transit.find(story(TRANSIT)) is None
    assert index.find(story(TRANSIT)) == IDS[TRANSIT]


def test_short_texts_never_match() -> None:
    index = full_index()
    lead = paragraphs(KHAN_YOUNIS)[0]
    short = " ".join(lead.split()[:24])  # the start of a stored story, word for word
    assert 10 < len(np.unique(shingle_hashes(short))) < MIN_SHINGLES
    assert index.find(short) is None
    index.add(20, short)
    assert index.find(short) is None
    assert index.find("") is None
    assert len(index) == len(IDS)
    assert index.find(lead) == IDS[KHAN_YOUNIS]  # a whole lead paragraph is long enough


def test_exclude_skips_the_story_itself() -> None:
    index = full_index()
    assert index.find(story(ARMS)) == IDS[ARMS]
    assert index.find(story(ARMS), exclude=IDS[ARMS]) is None
    index.add(30, "\n\n".join(paragraphs(ARMS)[:6]))
    assert index.find(story(ARMS), exclude=IDS[ARMS]) == 30


def test_credit_lines_at_the_foot_are_not_evidence_of_copying() -> None:
    """Every CP story ends "This report by The Canadian Press was first published ...": two short
    stories sharing only their credit lines are not copies."""
    credits = (
        "This report by The Canadian Press was first published Oct. 7, 2024.\n\n"
        "With files from The Associated Press and Reuters in Jerusalem, Beirut and Cairo.\n\n"
        "Associated Press writer Lea Marchetti in Jerusalem contributed to this report.\n\n"
        "(Reporting by Laila Bassam and Maya Gebeily in Beirut; Editing by Alex Richardson)"
    )
    transit = " ".join(" ".join(paragraphs(TRANSIT)[:2]).split()[:38])
    arms = " ".join(paragraphs(ARMS)[1].split()[:32])
    one, other = f"{transit}\n\n{credits}", f"{arms}\n\n{credits}"
    assert without_credits(one) == transit
    assert len(np.unique(shingle_hashes(arms))) >= MIN_SHINGLES
    assert len(np.unique(shingle_hashes(transit))) >= MIN_SHINGLES
    with_credits, _ = containment(np.unique(shingle_hashes(one)), np.unique(shingle_hashes(other)))
    assert with_credits >= MIN_CONTAINMENT  # counted, the credits alone would make them copies
    index = CopyIndex()
    index.add(1, one)
    assert index.find(other) is None
    assert index.find(f"{transit} The freeze takes effect Jan. 1.\n\nWith files from Reuters") == 1


def test_adding_an_id_again_replaces_its_text() -> None:
    index = CopyIndex()
    index.add(1, story(ARMS))
    index.add(1, story(BEIRUT))
    assert index.find(story(ARMS)) is None
    assert index.find(story(BEIRUT)) == 1
    assert len(index) == 1


def test_replacing_a_story_leaves_nothing_of_its_old_text_in_the_index() -> None:
    """A story indexed again (its text changed) must not leave its old band keys behind: the
    index would grow with every revision and hand out stale candidates."""
    replaced = CopyIndex()
    replaced.add(1, story(ARMS))
    replaced.add(2, story(JENINE))
    replaced.add(1, story(BEIRUT))
    fresh = CopyIndex()
    fresh.add(2, story(JENINE))
    fresh.add(1, story(BEIRUT))
    assert replaced._buckets == fresh._buckets
    assert replaced._keys == fresh._keys


def test_minhash_agreement_estimates_jaccard_similarity() -> None:
    """The share of equal MinHash values of two sets estimates their Jaccard similarity: over
    many pairs of random sets the mean estimate is close to the true value, and the permutations
    are not copies of one another (each value is an independent draw)."""
    rng = np.random.default_rng(5)
    for jaccard in (0.2, 0.5, 0.8):
        estimates = []
        for _ in range(200):
            pool = rng.choice(2**32, size=300, replace=False).astype(np.uint32)
            shared = round(300 * jaccard / (1 + jaccard))  # |A| = |B| = 150, |A & B| = shared
            a, b = pool[:150], np.concatenate([pool[:shared], pool[150 : 300 - shared]])
            estimates.append(float(np.mean(minhash(a) == minhash(b))))
        assert abs(np.mean(estimates) - jaccard) < 0.03, jaccard
    values = minhash(rng.choice(2**32, size=100, replace=False).astype(np.uint32))
    assert len(values) == NUM_PERM and len(set(values.tolist())) > NUM_PERM - 3


def test_add_many_is_the_same_as_add_one_by_one() -> None:
    items = [(i, story(n)) for n, i in IDS.items()] + [(40, "\n\n".join(paragraphs(JENINE)[:5]))]
    one_by_one = CopyIndex()
    for article_id, text in items:
        one_by_one.add(article_id, text)
    bulk = CopyIndex()
    bulk.add_many(iter(items))
    queries = [text for _, text in items] + ["\n\n".join(paragraphs(KHAN_YOUNIS)[:5]), LOCAL_PARAGRAPH]
    for query in queries:
        for exclude in (None, *IDS.values(), 40):
            assert bulk.find(query, exclude=exclude) == one_by_one.find(query, exclude=exclude)
    assert len(bulk) == len(one_by_one) == len(items)


def test_sketches_made_elsewhere_give_the_same_answers() -> None:
    """A worker process makes each story's sketch (pickled to the process that stores): the index
    answers with it as it does from the text."""
    import pickle

    items = [(i, story(n)) for n, i in IDS.items()] + [(40, "\n\n".join(paragraphs(JENINE)[:5]))]
    from_text, from_sketch = CopyIndex(), CopyIndex()
    queries = [text for _, text in items] + ["\n\n".join(paragraphs(KHAN_YOUNIS)[:5]), LOCAL_PARAGRAPH]
    for article_id, text in items:
        made = pickle.loads(pickle.dumps(sketch(text)))
        assert from_sketch.find(text, exclude=article_id, made=made) == from_text.find(
            text, exclude=article_id
        )
        from_text.add(article_id, text)
        from_sketch.add(article_id, "", made)  # the text is not looked at when the sketch is given
    for query in queries:
        assert from_sketch.find(query, made=sketch(query)) == from_text.find(query)
        assert from_sketch.find(query) == from_text.find(query)
    assert any(from_text.find(q) is not None for q in queries)


@pytest.mark.parametrize(
    ("wire", "edited"),
    [
        (
            "Israel's military said the strike hit the neighbourhood.",
            "The Israeli military says the strikes hit a neighborhood.",
        ),
        (
            "L'armée israélienne a affirmé avoir visé des combattants.",
            "L'ARMEE ISRAELIENNE a affirme avoir vise les combattants.",
        ),
        (
            "Gaza's Health Ministry said 23 people were killed on Tuesday.",
            "Gaza's health ministry says 23 people were killed Tuesday.",
        ),
    ],
)
def test_small_copy_edits_leave_the_shingles_alone(wire: str, edited: str) -> None:
    """Possessive to adjective, plural, spelling of the last letters, accents and capitals,
    function words: none of them changes a shingle."""
    assert shingle_hashes(wire).tolist() == shingle_hashes(edited).tolist()
    assert len(shingle_hashes(wire)) >= 3


def test_words_are_folded_as_if_the_whole_text_were() -> None:
    """``content_words`` folds accents word by word, only in words that have any: the words must
    be those of folding the whole text first (ligatures, capitals, dotted I, sharp s, quotes)."""
    from pipeline import cluster

    text = (
        "L'ŒUVRE d'Éloïse à İstanbul: « naïve » café, Straße, l’armée israélienne a dit ; "
        "ÆSIR ½ ﬁne — Gaza's “health ministry” said 23 people were killed. " + story(JENINE)
    )
    whole = cluster._WORD.findall(text.lower().translate(cluster._FOLD))
    expected = [w[: cluster.STEM] for w in whole if len(w) > 1 and w not in cluster.STOPWORDS]
    assert content_words(text) == expected
    assert "oeuvre" in expected and "eloise" in expected and "strass" in expected


def test_shingles_are_the_same_in_every_process() -> None:
    """Python's hash() of a string changes with each process; the shingles and MinHash sketches
    must not (a worker makes the sketch the storing process indexes)."""
    code = (
        "import sys; from pipeline.cluster import shingle_hashes, sketch; t = sys.stdin.read(); "
        "print(shingle_hashes(t).tolist(), [w.tolist() for w in sketch(t).windows])"
    )
    text = story(JENINE)
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    windows = [w.tolist() for w in sketch(text).windows]
    assert outputs == {f"{shingle_hashes(text).tolist()} {windows}\n"}


# --- Agency ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "authors", "agency"),
    [
        ("KHAN YOUNIS, Gaza Strip (AP) — Israeli strikes on two homes ...", [], "Associated Press"),
        ("JERUSALEM (AP) — The cabinet met on Sunday.", [], "Associated Press"),
        ("BEIRUT, Nov 3 (Reuters) - Israeli air strikes ...", [], "Reuters"),
        ("(Reuters) - Oil prices rose on Monday.", [], "Reuters"),
        ("JÉNINE (AFP) — Au moins neuf Palestiniens ...", [], "AFP"),
        ("UNITED NATIONS (CP) — The General Assembly voted.", [], "The Canadian Press"),
        ("OTTAWA — The Canadian Press\n\nThe federal government has suspended ...", [], "The Canadian Press"),
        ("OTTAWA (The Canadian Press) — The federal government ...", [], "The Canadian Press"),
        ("MONTRÉAL — La Presse Canadienne\n\nDes milliers de personnes ...", [], "The Canadian Press"),
        ("By Jane Doe, The Associated Press\n\nJERUSALEM — The cabinet met.", [], "Associated Press"),
        ("Par Jean Roy, La Presse Canadienne\n\nDes milliers ...", [], "The Canadian Press"),
        ("The cabinet met.", ["Associated Press"], "Associated Press"),
        ("The cabinet met.", ["Jane Doe, The Associated Press"], "Associated Press"),
        ("The cabinet met.", ["By Jane Doe", "The Canadian Press"], "The Canadian Press"),
        ("The cabinet met.", ["AFP"], "AFP"),
        ("Le cabinet s'est réuni.", ["Agence France-Presse"], "AFP"),
        ("Le cabinet s'est réuni.", ["La Presse Canadienne"], "The Canadian Press"),
        ("The cabinet met.", ["Staff", "Reuters"], "Reuters"),
    ],
)
def test_agency_from_byline_or_dateline(text: str, authors: list[str], agency: str) -> None:
    assert wire_agency(text, authors) == agency


BODY = "\n\n".join(paragraphs(TRANSIT)[:4])


@pytest.mark.parametrize(
    ("last_line", "agency"),
    [
        ("— With files from The Associated Press", "Associated Press"),
        ("With files from Reuters", "Reuters"),
        ("With files from The Canadian Press and Reuters", "The Canadian Press"),
        ("This report by The Canadian Press was first published Sept. 12, 2024.", "The Canadian Press"),
        (
            "Associated Press writer Lea Marchetti in Jerusalem contributed to this report.",
            "Associated Press",
        ),
        ("(Reporting by Laila Bassam; Editing by Alex Richardson)", "Reuters"),
        ("Ce texte a été rédigé avec l'aide de l'Agence France-Presse.", "AFP"),
        ("Avec l'AFP", "AFP"),
        ("Avec des informations de La Presse Canadienne", "The Canadian Press"),
        ("— The Associated Press", "Associated Press"),
    ],
)
def test_agency_from_a_credit_at_the_foot(last_line: str, agency: str) -> None:
    """A staff story "with files from" an agency is partly wire copy: the agency is returned."""
    assert wire_agency(f"{BODY}\n\n{last_line}") == agency


@pytest.mark.parametrize(
    "text",
    [
        "OTTAWA — The federal budget was tabled on Tuesday.",
        BODY + "\n\nReuters reported that the talks failed, citing two officials.",
        "Bayport council voted on Wednesday. " * 3 + "\n\n" + BODY + "\n\nReuters reported that ...",
        "Israel struck the camp overnight, Reuters reported on Tuesday, citing officials.",
        "The Associated Press has learned that the talks stalled.\n\n" + BODY,
        "Le Parti conservateur (PC) a voté contre la motion mardi.",
        BODY + "\n\nLe ministre a accordé un entretien avec Reuters la semaine dernière.",
        BODY + "\n\nAssociated Press reporters saw the convoy turn back.",
        "A former Associated Press cameraman was among the dead. " * 8,
    ],
)
def test_agency_merely_mentioned_is_not_a_credit(text: str) -> None:
    assert wire_agency(text) is None
    assert wire_agency(text, ["Jane Doe", "Staff"]) is None


def test_byline_wins_over_a_credit_at_the_foot() -> None:
    text = f"{BODY}\n\nWith files from Reuters"
    assert wire_agency(text, ["The Canadian Press"]) == "The Canadian Press"


def test_fixture_stories_credit_their_agencies() -> None:
    assert wire_agency(story(KHAN_YOUNIS)) == "Associated Press"
    assert wire_agency(story(ARMS)) == "The Canadian Press"  # only the credit at the foot
    assert wire_agency(story(JENINE)) == "AFP"
    assert wire_agency(story(BEIRUT)) == "Reuters"
    assert wire_agency(story(MONTREAL)) == "AFP"  # "rédigé avec l'aide de l'Agence France-Presse"
    assert wire_agency(story(TRANSIT)) is None


# --- The original of a cluster --------------------------------------------------------------------

T0 = datetime(2024, 10, 7, 12, 0, tzinfo=UTC)


def member(
    article_id: int,
    agency: str | None = None,
    published: timedelta | None = None,
    seen: timedelta = timedelta(0),
    outlet: str = "outlet",
) -> Member:
    return Member(article_id, outlet, agency, T0 + published if published is not None else None, T0 + seen)


def test_originator_prefers_the_copy_with_an_agency_credit() -> None:
    staff = member(1, None, published=timedelta(hours=-5))
    credited = member(2, "Associated Press", published=timedelta(hours=1))
    assert originator_of([staff, credited]) == credited


def test_originator_then_earliest_published_with_unknown_dates_last() -> None:
    early = member(5, "Reuters", published=timedelta(hours=-2), seen=timedelta(hours=3))
    late = member(3, "Reuters", published=timedelta(hours=1), seen=timedelta(hours=-9))
    undated = member(1, "Reuters", published=None, seen=timedelta(hours=-10))
    assert originator_of([late, undated, early]) == early
    assert originator_of([undated, late]) == late


def test_originator_then_earliest_seen_then_lowest_id() -> None:
    a = member(9, None, published=None, seen=timedelta(minutes=5))
    b = member(8, None, published=None, seen=timedelta(minutes=1))
    c = member(4, None, published=None, seen=timedelta(minutes=1))
    assert originator_of([a, b, c]) == c
    assert originator_of([a, b]) == b


def test_originator_compares_naive_and_aware_dates_as_utc() -> None:
    naive = Member(1, "o", None, datetime(2024, 10, 7, 11, 0), datetime(2024, 10, 7, 11, 0))
    aware = member(2, None, published=timedelta(0))  # 12:00 UTC
    assert originator_of([aware, naive]) == naive


def test_originator_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        originator_of([])


def test_cluster_agency_is_the_most_common_credit() -> None:
    members = [
        member(1, "Reuters", published=timedelta(hours=-3)),
        member(2, "Associated Press", published=timedelta(hours=1)),
        member(3, "Associated Press", published=timedelta(hours=2)),
        member(4, None, published=timedelta(hours=-9)),
    ]
    assert cluster_agency(members) == "Associated Press"


def test_cluster_agency_tie_goes_to_the_earliest_and_none_without_credit() -> None:
    members = [
        member(1, "Reuters", published=timedelta(hours=2)),
        member(2, "AFP", published=timedelta(hours=-1)),
        member(3, "Reuters", published=None, seen=timedelta(hours=-20)),
        member(4, "AFP", published=timedelta(hours=5)),
    ]
    assert cluster_agency(members) == "AFP"
    assert cluster_agency([member(1), member(2)]) is None
    assert cluster_agency([]) is None
