"""A local news site that grows: a feed of numbered stories, and a feeds.yaml pointing at it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

WORDS = (
    "harbour",
    "council",
    "budget",
    "transit",
    "housing",
    "river",
    "school",
    "winter",
    "market",
    "bridge",
)


GAZA = (
    "Israeli airstrikes killed {n} Palestinians in Gaza overnight, including children, the health"
    " ministry said. Israeli troops were killed in a separate clash, the army said."
)


def write_site(root: Path, first: int, count: int, window: int | None = None) -> None:
    """Pages for stories first..first+count-1 (every third about Gaza, the rest local news), and a
    feed listing the newest *window* stories (all of these by default)."""
    for n in range(first, first + count):
        words = " ".join(WORDS[(n * 7 + k) % len(WORDS)] for k in range(60))
        lead = f"<p>{GAZA.format(n=n % 40 + 3)}</p>" if n % 3 == 0 else ""
        body = "".join(f"<p>Story {n}, paragraph {k}: {words} number {n * 100 + k}.</p>" for k in range(6))
        page = f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>{lead}{body}"
        page += "</article></body></html>"
        (root / f"story-{n}.html").write_text(page)
    published = datetime.now(UTC).replace(microsecond=0)
    items = [
        f"<item><title>Story {n}</title><link>{{base}}/story-{n}.html</link><guid>story-{n}</guid>"
        f"<pubDate>{format_datetime(published - timedelta(minutes=first + count - n), usegmt=True)}</pubDate>"
        f"<description>Story {n}</description></item>"
        for n in range(max(0, first + count - (window or first + count)), first + count)
    ]
    channel = f"<title>Local</title><link>{{base}}/</link>{''.join(items)}"
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}</channel></rss>'
    (root / "feed.xml").write_text(feed)


def write_feeds(path: Path, base: str) -> Path:
    path.write_text(
        f"""outlets:
  - id: local-news
    name: Local News
    language: en
    owner: Local
    reach: 3
    letters: {{email: letters@local.example}}
    sources:
      - url: '{base}/feed.xml'
        section: news
        interval_minutes: 10
"""
    )
    return path
