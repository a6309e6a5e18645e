"""Full-text search over stored articles, for analysts: ``GET /search`` (page) and
``GET /api/search`` (JSON), with the export's filters. Snippets are escaped before the matches
are wrapped in ``<mark>``, so article text never becomes markup."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ..errors import InputError
from ..settings import Settings
from ..store import Store
from ..store.search import SearchHit
from ..store.workspace import STATUSES as ALERT_STATUSES
from .auth import Analyst
from .i18n import FR as _FR

PAGE_SIZE = 50

FR: dict[str, str] = {
    "Search articles": "Rechercher dans les articles",
    'Words, "a phrase", a OR b, prefix*; accents are ignored.': (
        "Des mots, « une expression » entre guillemets droits, a OR b, préfixe* ; les accents sont ignorés."
    ),
    "Search": "Rechercher",
    "From": "Du",
    "To": "Au",
    "Alert status": "Statut de l’alerte",
    "Minimum score": "Score minimal",
    "No article matches this search.": "Aucun article ne correspond à cette recherche.",
    "alert": "alerte",
}
_FR.update(FR)

Q = Annotated[str, Query(max_length=500)]
Outlets = Annotated[list[str] | None, Query(max_length=200)]
Categories = Annotated[list[str] | None, Query(max_length=100)]


def _day(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}: '{value}' is not a date like 2026-11-01") from None


def _score(value: str) -> float | None:
    if not value:
        return None
    try:
        score = float(value)
    except ValueError:
        raise InputError(f"min_score: '{value}' is not a number") from None
    if not 0 <= score <= 1:
        raise InputError("min_score: between 0 and 1")
    return score


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Add the search page and its JSON twin."""

    def run(
        q: str,
        outlet: list[str] | None,
        language: str,
        date_from: str,
        date_to: str,
        category: list[str] | None,
        min_score: str,
        alert_status: str,
        offset: int,
        limit: int,
    ) -> list[SearchHit]:
        if alert_status and alert_status not in ALERT_STATUSES:
            raise InputError(f"alert_status: unknown status '{alert_status}'")
        return store.search_articles(
            q,
            outlets=[o for o in outlet or [] if o] or None,
            language=language or None,
            date_from=_day("from", date_from),
            date_to=_day("to", date_to),
            categories=[c for c in category or [] if c] or None,
            min_score=_score(min_score),
            alert_status=alert_status or None,
            limit=limit,
            offset=offset,
        )

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
        _user: Analyst,
        q: Q = "",
        outlet: Outlets = None,
        language: Annotated[str, Query(max_length=10)] = "",
        date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
        date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
        category: Categories = None,
        min_score: Annotated[str, Query(max_length=10)] = "",
        alert_status: Annotated[str, Query(max_length=20)] = "",
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> HTMLResponse:
        f: dict[str, Any] = {
            "q": q,
            "outlet": (outlet or [""])[0],
            "language": language,
            "from": date_from,
            "to": date_to,
            "category": (category or [""])[0],
            "min_score": min_score,
            "alert_status": alert_status,
        }
        hits: list[SearchHit] = []
        error = ""
        more = False
        if q.strip():
            try:
                hits = run(
                    q,
                    outlet,
                    language,
                    date_from,
                    date_to,
                    category,
                    min_score,
                    alert_status,
                    offset,
                    PAGE_SIZE + 1,
                )
            except InputError as exc:
                error = str(exc)
            more, hits = len(hits) > PAGE_SIZE, hits[:PAGE_SIZE]
        query = {k: v for k, v in f.items() if v}

        def page(at: int) -> str:
            return "/search?" + urlencode({**query, "offset": at} if at else query)

        return templates.TemplateResponse(
            request,
            "search.html",
            {
                "hits": hits,
                "f": f,
                "error": error,
                "searched": bool(q.strip()),
                "statuses": ALERT_STATUSES,
                "outlets": store.outlet_names(),
                "prev_url": page(max(0, offset - PAGE_SIZE)) if offset else None,
                "next_url": page(offset + PAGE_SIZE) if more else None,
            },
            status_code=400 if error else 200,
        )

    @app.get("/api/search")
    def search_api(
        _user: Analyst,
        q: Q = "",
        outlet: Outlets = None,
        language: Annotated[str, Query(max_length=10)] = "",
        date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
        date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
        category: Categories = None,
        min_score: Annotated[str, Query(max_length=10)] = "",
        alert_status: Annotated[str, Query(max_length=20)] = "",
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Articles matching *q* and the filters, best first (``snippet_html`` is escaped)."""
        try:
            hits = run(
                q, outlet, language, date_from, date_to, category, min_score, alert_status, offset, limit
            )
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        return [h.as_dict() for h in hits]
