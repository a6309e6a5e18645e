"""Sentence-level casualty analysis: victim and named perpetrator (pipeline/sentences.py)."""

from __future__ import annotations

import itertools

import pytest

from pipeline.sentences import casualty_sentences, is_casualty_sentence, label_sentence, split_sentences

# (sentence, victim, responsible). All sentences written for these tests.
TABLE = [
    # agentless: Palestinian deaths, nobody named
    (
        "At least 40 Palestinians were killed in Gaza on Monday, health officials said.",
        "palestinian",
        "neither",
    ),
    ("Nine people died in Rafah overnight, according to hospital staff.", "palestinian", "neither"),
    ("Five Palestinians were wounded in Nablus.", "palestinian", "neither"),
    # Israel named as the perpetrator
    ("An Israeli airstrike killed 14 Palestinians in a school in Gaza City.", "palestinian", "israel"),
    (
        "Eight Palestinians were killed by Israeli fire near an aid site in Khan Younis.",
        "palestinian",
        "israel",
    ),
    ("Israeli troops shot and killed two Palestinian teenagers in Jenin.", "palestinian", "israel"),
    ("A Palestinian man was shot dead by Israeli settlers near Ramallah.", "palestinian", "israel"),
    # Israelis killed by Hamas
    ("Hamas gunmen killed dozens of Israelis at a kibbutz near the border.", "israeli", "hamas"),
    ("Three Israeli civilians were killed by Hamas rockets fired from Gaza.", "israeli", "hamas"),
    ("About 1,200 people were killed in the Hamas-led attack on southern Israel.", "israeli", "hamas"),
    # passive, no agent, Israeli victims
    ("Two Israeli soldiers were killed on Tuesday.", "israeli", "neither"),
    ("Two Israeli soldiers were killed in southern Gaza on Tuesday, the army said.", "israeli", "neither"),
    # no casualties
    ("The city council approved the transit budget on Tuesday.", "neither", "neither"),
    ("Ottawa announced new funding for UNRWA on Friday.", "neither", "neither"),
    # French
    (
        "Au moins 30 Palestiniens sont morts à Gaza dimanche, selon les autorités locales.",
        "palestinian",
        "neither",
    ),
    ("Un Palestinien de 20 ans a perdu la vie à Jénine.", "palestinian", "neither"),
    ("Une frappe aérienne israélienne a tué six Palestiniens à Khan Younis.", "palestinian", "israel"),
    ("Cinq Palestiniens ont été tués par des tirs israéliens à Jénine.", "palestinian", "israel"),
    ("Trois Israéliens ont été tués par le Hamas lors de l’attaque.", "israeli", "hamas"),
    ("Des combattants du Hamas ont tué des civils israéliens dans un kibboutz.", "israeli", "hamas"),
    ("Deux soldats israéliens ont été tués dans le nord de Gaza.", "israeli", "neither"),
    ("Le conseil municipal a adopté le budget mardi.", "neither", "neither"),
    # the state or its forces named as subject (regressions of fixed bugs)
    ("Israel killed three Palestinians in Jenin on Monday.", "palestinian", "israel"),
    ("Israël a tué trois Palestiniens à Jénine lundi.", "palestinian", "israel"),
    ("Des soldats israéliens ont tué un adolescent palestinien à Naplouse.", "palestinian", "israel"),
]


@pytest.mark.parametrize(("sentence", "victim", "responsible"), TABLE)
def test_sentence_labels(sentence: str, victim: str, responsible: str) -> None:
    label = label_sentence("s1", sentence)
    assert (label.victim, label.responsible) == (victim, responsible)
    assert label.id == "s1"
    assert label.text == sentence


def test_label_as_dict_has_the_contract_keys() -> None:
    label = label_sentence("7", "An Israeli airstrike killed 14 Palestinians in Gaza City.")
    assert label.as_dict() == {"id": "7", "victim": "palestinian", "responsible": "israel"}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Three people were wounded.", True),
        ("Un homme a été blessé.", True),
        ("The ministry published new figures.", False),
        ("The skilled workers left.", False),  # "killed" inside another word does not count
    ],
)
def test_is_casualty_sentence(sentence: str, expected: bool) -> None:
    assert is_casualty_sentence(sentence) is expected


# ------------------------------------------------------------------ splitting

TEXT = (
    "Nine people died in Rafah overnight. Officials gave no cause!  "
    "« Nous avons tout perdu », a dit une mère. Was anyone held to account? Nobody said."
)


def test_split_sentences_offsets_slice_each_sentence() -> None:
    spans = split_sentences(TEXT)
    sentences = [TEXT[a:b] for a, b in spans]
    assert sentences == [
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


def test_split_sentences_of_blank_text_is_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n ") == []


def test_split_sentences_keeps_text_without_final_punctuation() -> None:
    text = "First sentence. then lower case continues. Last one without a stop"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "First sentence. then lower case continues.",
        "Last one without a stop",
    ]


def test_casualty_sentences_offsets_and_labels() -> None:
    text = (
        "The council met on Monday. At least 12 Palestinians were killed in Gaza, officials said. "
        "An Israeli airstrike killed four people in Rafah."
    )
    found = casualty_sentences(text)
    assert [(lab.victim, lab.responsible) for _, _, lab in found] == [
        ("palestinian", "neither"),
        ("palestinian", "israel"),
    ]
    for a, b, lab in found:
        assert text[a:b] == lab.text
    assert [lab.id for _, _, lab in found] == ["1", "2"]  # ids are sentence positions
