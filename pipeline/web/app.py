"""App factory: settings in, FastAPI app out. Views only call the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from .. import __version__
from ..errors import InputError
from ..letters import LABELS
from ..poll import source_health
from ..records import CATEGORIES
from ..settings import Settings
from ..store import Store
from .highlight import group_evidence, highlight, word_diff

HERE = Path(__file__).parent
HTMX_DIRS = (Path("node_modules/htmx.org/dist"), HERE.parents[1] / "node_modules/htmx.org/dist")


class VerdictIn(BaseModel):
    verdict: Literal["valid", "not_valid", "wrong_category"]
    by: str = Field(min_length=1, max_length=200)
    categories: list[str] = Field(default_factory=list)
    relevant: bool = True
    note: str = Field(default="", max_length=2000)


def mailto(recipient: str | None, subject: str, body: str) -> str:
    return f"mailto:{quote(recipient or '')}?subject={quote(subject)}&body={quote(body)}"


def filters(status: str, outlet: str, category: str, language: str) -> dict[str, Any]:
    return {
        "status": status or None,
        "outlet": outlet or None,
        "category": category or None,
        "language": language or None,
    }


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    store = store or Store.open(settings.db_url)
    app = FastAPI(title="MediaWatch", version=__version__)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    htmx = next((d for d in HTMX_DIRS if (d / "htmx.min.js").is_file()), None)
    if htmx is not None:
        app.mount("/vendor/htmx", StaticFiles(directory=str(htmx)), name="htmx")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        labels=LABELS["en"], categories=CATEGORIES, version=__version__, htmx=htmx is not None
    )
    templates.env.filters["highlight"] = highlight
    templates.env.filters["word_diff"] = word_diff
    _pages(app, store, templates)
    _source_views(app, store, settings, templates)
    _stored_pages(app, store)
    _api(app, store)
    return app


def _pages(app: FastAPI, store: Store, templates: Jinja2Templates) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/alerts")

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def queue(
        request: Request, status: str = "", outlet: str = "", category: str = "", language: str = ""
    ) -> HTMLResponse:
        f = filters(status, outlet, category, language)
        partial = request.headers.get("HX-Request") == "true"
        return templates.TemplateResponse(
            request,
            "_rows.html" if partial else "queue.html",
            {"alerts": store.list_alerts(**f), "f": f, "outlets": store.outlet_names()},
        )

    @app.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    def alert_page(request: Request, alert_id: int) -> HTMLResponse:
        detail = store.alert_detail(alert_id)
        if detail is None:
            raise HTTPException(404, f"no alert {alert_id}")
        letter = detail.letters[0] if detail.letters else None
        return templates.TemplateResponse(
            request,
            "alert.html",
            {
                "d": detail,
                "a": detail.alert,
                "letter": letter,
                "groups": group_evidence(detail.evidence),
                "versions": store.versions(detail.alert.article_id),
                "outcomes": store.alert_outcomes(alert_id),
                "raw_pages": store.raw_pages(detail.alert.article_id),
                "mailto": mailto(letter.recipient, letter.subject, letter.body) if letter else None,
            },
        )


# A stored page is the outlet's HTML: hostile by default. It opens in a sandbox (no scripts, no
# forms, its own origin) and may load nothing from the network (no trackers, no live images).
STORED_PAGE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _stored_pages(app: FastAPI, store: Store) -> None:
    @app.get("/articles/{article_id}/pages/{raw_id}", include_in_schema=False)
    def stored_page(article_id: int, raw_id: int, download: bool = False) -> Response:
        found = store.raw_page(raw_id)
        if found is None or found[0].article_id != article_id:
            raise HTTPException(404, f"no stored page {raw_id} for article {article_id}")
        info, body = found
        charset = info.content_type.partition("charset=")[2].split(";")[0].strip()
        disposition = "attachment" if download else "inline"
        return Response(
            body,
            media_type=f"text/html; charset={charset}" if charset else "text/html",
            headers={
                "Content-Security-Policy": STORED_PAGE_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Content-Disposition": f'{disposition}; filename="article-{article_id}-page-{raw_id}.html"',
            },
        )

    @app.get("/api/articles/{article_id}/pages")
    def api_stored_pages(article_id: int) -> list[dict[str, Any]]:
        """Stored copies of the article's page (as fetched, before extraction), oldest first."""
        return [
            {**r.as_dict(), "href": f"/articles/{article_id}/pages/{r.id}"}
            for r in store.raw_pages(article_id)
        ]


def _source_views(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources_page(request: Request) -> HTMLResponse:
        rows = source_health(store, settings, datetime.now(UTC))
        rows.sort(key=lambda r: (r["warning"] is None, not r["enabled"], str(r["outlet"])))
        return templates.TemplateResponse(
            request, "sources.html", {"rows": rows, "warned": sum(1 for r in rows if r["warning"])}
        )

    @app.get("/api/sources")
    def api_sources() -> list[dict[str, Any]]:
        """Every polled source with its health counters and warning (null when healthy)."""
        return source_health(store, settings, datetime.now(UTC))


def _api(app: FastAPI, store: Store) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "schema": store.schema_revision(), "counts": store.counts()}

    @app.get("/api/alerts")
    def api_alerts(
        status: str = "",
        outlet: str = "",
        category: str = "",
        language: str = "",
        limit: int = Query(200, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        f = filters(status, outlet, category, language)
        return [a.as_dict() for a in store.list_alerts(**f, limit=limit)]

    @app.post("/api/alerts/{alert_id}/verdict", status_code=201)
    def api_verdict(alert_id: int, body: VerdictIn) -> dict[str, Any]:
        """Judge an alert (valid, not_valid, wrong_category); it becomes a training label."""
        try:
            verdict_id = store.record_verdict(
                alert_id, body.verdict, body.by, body.categories, body.relevant, body.note
            )
        except InputError as exc:
            status = 404 if "no such alert" in str(exc) else 422
            raise HTTPException(status, str(exc)) from exc
        return {"id": verdict_id, "alert_id": alert_id, "verdict": body.verdict}

    @app.get("/api/alerts/{alert_id}/verdicts")
    def api_verdicts(alert_id: int) -> list[dict[str, Any]]:
        return store.verdicts(alert_id)

    @app.get("/api/alerts/{alert_id}")
    def api_alert(alert_id: int) -> dict[str, Any]:
        detail = store.alert_detail(alert_id)
        if detail is None:
            raise HTTPException(404, f"no alert {alert_id}")
        return detail.as_dict()
