"""feeds.yaml: outlets, their letter rules, complaint routes and sources.

Validated at start-up; an error names the file, the line, the outlet and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ConfigError
from .records import Selectors
from .yamlfile import Loc, read_yaml, refuse_duplicates, validate

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Letters(_Strict):
    """How the outlet takes letters to the editor."""

    email: str | None = None
    url: str | None = None
    word_limit: int | None = Field(default=None, gt=0, le=2000)
    min_words: int | None = Field(default=None, gt=0)
    exclusive: bool = False
    requires: list[str] = Field(default_factory=list)
    rules: str | None = None
    # how many of our responders may write to this outlet about one article (default: settings)
    cap: int | None = Field(default=None, ge=1, le=50)
    verified: bool = False
    sources: list[str] = Field(default_factory=list)


class ComplaintRoute(_Strict):
    """One step of escalation: the outlet's editor, an ombudsman, a press council."""

    body: str
    contact: str | None = None
    deadline_days: int | None = Field(default=None, gt=0)
    reply_days: int | None = Field(default=None, gt=0)
    rules: str | None = None
    verified: bool = False
    sources: list[str] = Field(default_factory=list)


def _css_selector(value: str) -> str:
    """A CSS selector that lxml can use (cssselect compiles it to XPath), else a ValueError."""
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    if not value.strip():
        raise ValueError("empty CSS selector")
    try:
        CSSSelector(value, translator="html")
    except SelectorError as exc:
        raise ValueError(f"invalid CSS selector {value!r}: {exc}") from None
    return value


CssSelector = Annotated[str, AfterValidator(_css_selector)]


class Extraction(_Strict):
    """Per-outlet overrides for article extraction (CSS selectors, checked at load)."""

    body_selector: CssSelector | None = None
    drop_selectors: list[CssSelector] = Field(default_factory=list)

    def selectors(self) -> Selectors:
        return Selectors(body=self.body_selector, drop=tuple(self.drop_selectors))


class Source(_Strict):
    url: str
    type: Literal["feed", "sitemap"] = "feed"
    section: str | None = None
    interval_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    enabled: bool = True
    disabled_reason: str | None = None
    verified: bool = False
    notes: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _reason_when_disabled(self) -> Source:
        if not self.enabled and not self.disabled_reason:
            raise ValueError("a disabled source needs a disabled_reason")
        return self


class Outlet(_Strict):
    id: str
    name: str
    language: Literal["en", "fr"]
    owner: str | None = None
    reach: int = Field(default=3, ge=1, le=5)
    # web hosts whose pages belong to this outlet (submitted URLs are matched on these and on
    # the hosts of its sources)
    domains: list[str] = Field(default_factory=list)
    enabled: bool = True
    disabled_reason: str | None = None
    letters: Letters = Field(default_factory=Letters)
    complaint_routes: list[ComplaintRoute] = Field(default_factory=list)
    extraction: Extraction = Field(default_factory=Extraction)
    sources: list[Source] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("must be a lowercase slug (a-z, 0-9, '-')")
        return value

    @model_validator(mode="after")
    def _reason_when_disabled(self) -> Outlet:
        if not self.enabled and not self.disabled_reason:
            raise ValueError("a disabled outlet needs a disabled_reason")
        return self


class FeedsConfig(_Strict):
    outlets: list[Outlet]

    @model_validator(mode="after")
    def _unique_urls(self) -> FeedsConfig:
        urls: set[str] = set()
        for outlet in self.outlets:
            for source in outlet.sources:
                if source.url in urls:
                    raise ValueError(f"source URL {source.url} appears twice")
                urls.add(source.url)
        return self

    def outlet(self, outlet_id: str) -> Outlet:
        for outlet in self.outlets:
            if outlet.id == outlet_id:
                return outlet
        known = ", ".join(o.id for o in self.outlets)
        raise ConfigError(f"unknown outlet '{outlet_id}' (known: {known})")

    def outlets_for_url(self, url: str) -> list[Outlet]:
        """Outlets whose domains (or source hosts) the URL's host belongs to. When several share
        a host, those whose source folder contains the URL's path come first and alone."""
        host = _bare_host(url)
        found = []
        for outlet in self.outlets:
            hosts = {d.lower().removeprefix("www.") for d in outlet.domains}
            hosts |= {_bare_host(s.url) for s in outlet.sources}
            if any(host == h or host.endswith("." + h) for h in hosts if h):
                found.append(outlet)
        if len(found) > 1:
            path = urlsplit(url).path
            narrowed = [o for o in found if any(path.startswith(_folder(s.url)) for s in o.sources)]
            return narrowed or found
        return found


def _folder(url: str) -> str:
    path = urlsplit(url).path
    return path[: path.rfind("/") + 1] if "/" in path[1:] else "/~none~/"


def _bare_host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    return f"{host}:{parts.port}" if parts.port else host


def _outlet_label(data: Any, loc: Loc) -> str | None:
    if len(loc) >= 2 and loc[0] == "outlets" and isinstance(loc[1], int):
        try:
            return f"outlet '{data['outlets'][loc[1]].get('id', '#' + str(loc[1]))}'"
        except (KeyError, IndexError, TypeError, AttributeError):
            return f"outlet #{loc[1]}"
    return None


def load_feeds(path: Path, base_url: str | None = None) -> FeedsConfig:
    """Read and validate feeds.yaml. ``{base}`` in URLs is replaced by *base_url* (demo)."""
    data, lines = read_yaml(path)
    if base_url is not None:
        data = _substitute(data, "{base}", base_url.rstrip("/"))
    config = validate(FeedsConfig, data, lines, path, _outlet_label)
    refuse_duplicates(path, lines, "outlets", "outlet", [o.id for o in config.outlets])
    return config


def _substitute(data: Any, token: str, value: str) -> Any:
    if isinstance(data, str):
        return data.replace(token, value)
    if isinstance(data, list):
        return [_substitute(v, token, value) for v in data]
    if isinstance(data, dict):
        return {k: _substitute(v, token, value) for k, v in data.items()}
    return data
