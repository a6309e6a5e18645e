"""Wire copies: agency from byline or dateline; trimmed, retitled copies found; other stories not."""

from __future__ import annotations

from pipeline.cluster import CopyIndex, wire_agency

PARAGRAPHS = [
    "UNITED NATIONS (CP) — The General Assembly voted on Tuesday for a resolution on aid access.",
    "The resolution passed with 151 votes in favour, nine against and 12 abstentions.",
    "It asks the secretary-general to report within 30 days on crossings into the territory.",
    "Canada voted in favour after supporting an amendment on hostages earlier in the day.",
    "Diplomats said the text had been softened during two weeks of negotiations.",
    "Aid agencies said trucks were still waiting at the border for inspection.",
    "The vote is not binding, but supporters said it sets out a clear expectation.",
    "Several delegations explained their votes in statements after the count.",
]


def test_trimmed_retitled_copy_is_found() -> None:
    index = CopyIndex()
    index.add(1, "\n".join(PARAGRAPHS))
    index.add(2, "A council in Bayport voted to freeze transit fares for the next year.")
    trimmed = "\n".join(p for i, p in enumerate(PARAGRAPHS) if i not in (2, 6))
    assert index.find(trimmed) == 1
    assert index.find(trimmed, exclude=1) is None


def test_same_topic_different_story_is_not_a_copy() -> None:
    index = CopyIndex()
    index.add(1, "\n".join(PARAGRAPHS))
    other = (
        "OTTAWA — Canada's ambassador to the United Nations defended the government's vote on Gaza "
        "aid on Wednesday, telling MPs that the resolution reflected long-standing policy on "
        "humanitarian access and the protection of civilians, and that Ottawa had pressed for "
        "language on the release of hostages during weeks of talks with allies in New York."
    )
    assert index.find(other) is None


def test_agency_from_byline_or_dateline() -> None:
    assert wire_agency(PARAGRAPHS[0]) == "The Canadian Press"
    assert wire_agency("Text.", ["Associated Press"]) == "Associated Press"
    assert wire_agency("GAZA CITY (Reuters) - Strikes hit the city.") == "Reuters"
    assert wire_agency("OTTAWA — Staff reporter's story about the budget.") is None
