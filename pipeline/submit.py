"""URLs submitted by a person (CLI now, the web form later) join the feed items' path."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import Outlet
from .entries import canonical_url
from .errors import InputError
from .orchestrate import Pipeline
from .records import Entry


@dataclass(frozen=True, slots=True)
class Submitted:
    entry_id: int
    created: bool
    outlet_id: str
    url: str

    @property
    def message(self) -> str:
        if self.created:
            return f"queued entry {self.entry_id} for {self.outlet_id}: {self.url}"
        return f"already known as entry {self.entry_id} for {self.outlet_id}: {self.url}"


def submit_url(p: Pipeline, url: str, outlet_id: str | None, title: str, by: str) -> Submitted:
    """Validate and queue *url*; errors name the bad part."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"URL '{url}': must be an http:// or https:// address of an article page")
    outlet = p.feeds.outlet(outlet_id) if outlet_id is not None else _match(p, url)
    canonical = canonical_url(url)
    entry = Entry(guid=canonical, url=canonical, title=" ".join(title.split()))
    entry_id, created = p.store.submit_url(outlet.id, entry, by)
    return Submitted(entry_id, created, outlet.id, canonical)


def _match(p: Pipeline, url: str) -> Outlet:
    found = p.feeds.outlets_for_url(url)
    host = urlsplit(url).hostname
    if not found:
        raise InputError(
            f"URL '{url}': no outlet in {p.settings.feeds_file} has the host {host}; "
            "pass --outlet ID (or add the host to that outlet's domains)"
        )
    if len(found) > 1:
        names = ", ".join(o.id for o in found)
        raise InputError(
            f"URL '{url}': the host {host} belongs to several outlets ({names}); pass --outlet ID"
        )
    return found[0]
