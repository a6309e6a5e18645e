"""ownwords: copied wording scores high, genuine rewrites of the same arguments score low."""

from __future__ import annotations

import re

import pytest

from pipeline.ownwords import Closeness, closeness, similarity, too_close

QUOTE = (
    "Seven people were left dead on Tuesday after an air strike hit a crowded school building in "
    "the central Gaza Strip, according to officials, as the fighting continued into a second month."
)

DRAFT = (
    'To the editor, your article "Seven dead in Gaza school strike" (National Post, 14 November '
    f'2023) reads: "{QUOTE}" The sentence never says who carried out the strike or who the victims '
    "were. Israeli forces bombed the school, and the seven people killed were Palestinians sheltering "
    "there with their families. Writing that people were left dead hides both the perpetrator and the "
    "victims, and your own standards ask reporters to state clearly who did what. The United Nations "
    "agency for Palestine refugees had reported the same day that the school was a designated shelter. "
    'I ask you to correct the wording: "Israeli strike kills seven Palestinians in Gaza school" '
    "would be accurate. Please add an editor's note explaining the change. Sincerely, a reader"
)

EDITED = (
    'To the editor, your article "Seven dead in Gaza school strike" (National Post, 14 November '
    f'2023) says: "{QUOTE}" This sentence never says who carried out the attack or who the victims '
    "were. Israeli forces bombed the school, and the seven people killed were Palestinian civilians "
    "sheltering there with their families. Writing that people were left dead hides both the perpetrator "
    "and the victims, and your own guidelines ask journalists to state clearly who did what. The United "
    "Nations agency for Palestine refugees had reported that day that the school was a designated "
    'shelter. I ask you to correct the wording: "Israeli strike kills seven Palestinians in Gaza school" '
    "would be accurate. Please add a note explaining the change. Regards, a reader"
)

REWRITE = (
    "Dear editor, I was troubled by the National Post story of November 14 about the Gaza school "
    f'attack. It quotes officials: "{QUOTE}" Nobody reading that could tell that Israel dropped the '
    "bomb, nor that those who died were Palestinian families who had fled to the school for safety. "
    "Phrases like 'left dead' make a killing sound like a natural event with no author. UNRWA, the UN "
    "relief agency, said the building was an official shelter on the very day of the attack, so the "
    "facts were available. Good journalism names the actor. A headline such as 'Israeli air strike "
    "kills seven Palestinians sheltering in school' would have been honest. Please fix the story and "
    "tell readers what was changed. Thank you, Sam Reader, Toronto"
)

QUOTE_FR = (
    "Sept personnes ont perdu la vie mardi lorsqu'une frappe aérienne a touché une école bondée du "
    "centre de la bande de Gaza, selon les autorités, alors que les combats entraient dans leur "
    "deuxième mois."
)

DRAFT_FR = (
    "Madame, Monsieur, votre article « Sept morts dans une école de Gaza » (Le Devoir, 14 novembre "
    f"2023) affirme : « {QUOTE_FR} » Cette phrase ne dit ni qui a mené la frappe ni qui étaient les "
    "victimes. L'armée israélienne a bombardé l'école, et les sept personnes tuées étaient des "
    "Palestiniens qui s'y abritaient avec leurs familles. Écrire que des personnes ont perdu la vie "
    "cache à la fois l'auteur et les victimes, alors que vos propres normes demandent de dire clairement "
    "qui a fait quoi. L'agence des Nations unies pour les réfugiés de Palestine avait signalé le jour "
    "même que l'école était un abri désigné. Je vous demande de corriger la formulation : « Une frappe "
    "israélienne tue sept Palestiniens dans une école de Gaza » serait exact. Veuillez ajouter une note "
    "de la rédaction. Cordialement, une lectrice"
)

REWRITE_FR = (
    "Bonjour, l'article du Devoir paru le 14 novembre sur l'attaque contre une école de Gaza m'a "
    f"choquée. On y lit : « {QUOTE_FR} » Aucun lecteur ne peut comprendre que c'est Israël qui a largué "
    "la bombe, ni que les morts sont des familles palestiniennes réfugiées dans ce bâtiment. Parler de "
    "personnes qui « perdent la vie » transforme un bombardement en accident sans responsable. L'UNRWA, "
    "l'agence onusienne d'aide aux réfugiés, avait pourtant indiqué ce jour-là que l'établissement "
    "servait d'abri officiel. Un bon journalisme nomme celui qui agit. Un titre comme « Frappe aérienne "
    "israélienne : sept Palestiniens tués dans une école-abri » aurait été honnête. Merci de rectifier "
    "le texte et d'expliquer la modification aux lecteurs. Salutations, Camille, Montréal"
)


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def test_texts_are_the_sizes_the_requirements_name() -> None:
    assert 110 <= words(REWRITE) - words(QUOTE) <= 140
    assert 110 <= words(REWRITE_FR) - words(QUOTE_FR) <= 140
    assert 25 <= words(QUOTE) <= 35


@pytest.mark.parametrize("text", [DRAFT, REWRITE, DRAFT_FR])
def test_identical_letters_score_one(text: str) -> None:
    assert similarity(text, text) == pytest.approx(1.0)
    assert similarity(text, text, ignore=[QUOTE]) == pytest.approx(1.0)


def test_case_punctuation_and_accents_do_not_hide_a_copy() -> None:
    shouted = re.sub(r"[.,:«»\"']", " ", DRAFT_FR).upper()
    bare = "".join(c for c in shouted if c not in "ÉÈÀÂÊÎÔÛÇ") + " " + shouted
    assert similarity(shouted, DRAFT_FR) == pytest.approx(1.0)
    assert similarity(DRAFT_FR.replace("é", "e").replace("É", "E"), DRAFT_FR) == pytest.approx(1.0)
    assert similarity(bare, DRAFT_FR) > 0.9


def test_draft_with_a_few_words_changed_stays_close() -> None:
    score = similarity(EDITED, DRAFT)
    assert 0.6 < score < 1.0
    # still close when the quote both share is discounted
    assert similarity(EDITED, DRAFT, ignore=[QUOTE]) > 0.6


def test_genuine_rewrite_of_the_same_arguments_is_far() -> None:
    assert similarity(REWRITE, DRAFT, ignore=[QUOTE]) < 0.3
    assert similarity(REWRITE_FR, DRAFT_FR, ignore=[QUOTE_FR]) < 0.3


def test_shared_evidence_quote_alone_does_not_make_a_rewrite_close() -> None:
    # without discounting, the quote (about a fifth of each letter) is the only copied passage
    raw = similarity(REWRITE, DRAFT)
    assert 0.1 < raw < 0.4
    assert similarity(REWRITE, DRAFT, ignore=[QUOTE]) < raw
    assert similarity(REWRITE_FR, DRAFT_FR) < 0.4
    # a short letter that is mostly the quote is judged on its own words only
    short = f'Your story says: "{QUOTE}" Who bombed the school? Please name Israel as the attacker.'
    assert similarity(short, DRAFT) > 0.6  # the quote dominates...
    assert similarity(short, DRAFT, ignore=[QUOTE]) < 0.4  # ...until it is discounted


def test_symmetric_and_catches_a_draft_embedded_in_a_longer_letter() -> None:
    padded = REWRITE + " " + DRAFT
    assert similarity(padded, DRAFT) == pytest.approx(1.0)
    assert similarity(DRAFT, padded) == pytest.approx(1.0)
    assert similarity(REWRITE, DRAFT) == similarity(DRAFT, REWRITE)


@pytest.mark.parametrize("short", ["", "   ", "Correct it.", "Please correct the headline now, thanks."])
def test_empty_or_very_short_letters_score_zero(short: str) -> None:
    assert similarity(short, DRAFT) == 0.0
    assert similarity(short, short) == 0.0
    found = closeness(short, DRAFT, {"letter:1": short})
    assert [c.score for c in found] == [0.0, 0.0]
    assert all(c.shared == () for c in found)
    assert closeness(REWRITE, "", {})[0] == Closeness("draft", 0.0, ())


def test_closeness_sorted_with_verbatim_shared_passages() -> None:
    found = closeness(EDITED, DRAFT, {"letter:7": REWRITE, "letter:9": EDITED}, ignore=[QUOTE])
    assert [c.other for c in found] == ["letter:9", "draft", "letter:7"]
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert found[0].score == pytest.approx(1.0)
    draft = found[1]
    assert 1 <= len(draft.shared) <= 3
    lengths = [words(p) for p in draft.shared]
    assert lengths == sorted(lengths, reverse=True)
    for passage in draft.shared:
        assert passage in EDITED  # a verbatim span of the letter
        assert 4 <= words(passage) <= 25
        assert QUOTE not in passage  # the discounted quote is not reported as copying
    # the longest unedited run of the draft comes first, cut at 25 words
    assert draft.shared[0].startswith("day that the school was a designated shelter. I ask you to correct")
    assert words(draft.shared[0]) == 25
    assert any(p.startswith("To the editor, your article") for p in draft.shared)


def test_too_close_keeps_order_and_threshold() -> None:
    found = closeness(EDITED, DRAFT, {"letter:7": REWRITE, "letter:9": EDITED}, ignore=[QUOTE])
    close = too_close(found, 0.6)
    assert [c.other for c in close] == ["letter:9", "draft"]
    assert too_close(found, 1.01) == []
    assert too_close([], 0.5) == []
