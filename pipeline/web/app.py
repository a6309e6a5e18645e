"""App factory: settings in, FastAPI app out. Views only call the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders

from .. import __version__
from ..errors import InputError
from ..letters import LABELS
from ..poll import source_health
from ..records import CATEGORIES
from ..settings import Settings
from ..store import Store
from ..store.users import LastAdminError, UserView
from ..store.workspace import STATUSES, VISIBLE_TO_RESPONDERS, NotFoundError, TransitionError
from . import account, health, reports, responder, search, triage
from . import exports as export_views
from . import quarantine as quarantine_views
from .auth import Analyst, LoginRequiredError, Responder, csrf_protect, who
from .highlight import group_evidence, highlight, word_diff
from .i18n import translator

HERE = Path(__file__).parent
NODE_DIRS = (Path("node_modules"), HERE.parents[1] / "node_modules")
HTMX_DIRS = tuple(d / "htmx.org/dist" for d in NODE_DIRS)
SWAGGER_DIRS = tuple(d / "swagger-ui-dist" for d in NODE_DIRS)


class VerdictIn(BaseModel):
    verdict: Literal["valid", "not_valid", "wrong_category"]
    by: str = Field(default="", max_length=200)  # recorded as the signed-in analyst
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


# The app's own pages: scripts and styles from this server only, never framed, forms post here.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


QUEUE_PAGE = 25  # cards per page: a phone screenful or three, and a quick page under load
PRIORITIES = (("0.5", "High"), ("0.3", "Medium and high"))


SECURITY_HEADERS = (
    ("Content-Security-Policy", APP_CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def visible_statuses(user: UserView, status: str) -> str | tuple[str, ...]:
    """Responders see alerts once an analyst has opened them; analysts see every state."""
    if user.can("analyst"):
        return status
    if status:
        return status if status in VISIBLE_TO_RESPONDERS else ("none",)
    return VISIBLE_TO_RESPONDERS


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    store = store or Store.open(settings.db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Few threads for the (synchronous) routes: SQLite work from many threads at once spends
        # more CPU fighting over the GIL than it saves (measured: 20 threads cost 3.5x the CPU
        # per query of one, 4 threads 2x).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="MediaWatch",
        version=__version__,
        dependencies=[Depends(csrf_protect)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store, app.state.settings = store, settings
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    htmx = next((d for d in HTMX_DIRS if (d / "htmx.min.js").is_file()), None)
    if htmx is not None:
        app.mount("/vendor/htmx", StaticFiles(directory=str(htmx)), name="htmx")
    swagger = next((d for d in SWAGGER_DIRS if (d / "swagger-ui-bundle.js").is_file()), None)
    if swagger is not None:
        app.mount("/vendor/swagger", StaticFiles(directory=str(swagger)), name="swagger")
    templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[_context])
    templates.env.auto_reload = False  # templates ship with the package: no file check per render
    templates.env.globals.update(categories=CATEGORIES, version=__version__, htmx=htmx is not None)
    templates.env.filters["highlight"] = highlight
    templates.env.filters["word_diff"] = word_diff
    app.state.templates = templates
    _errors(app, templates)
    app.add_middleware(SecurityHeaders)
    account.register(app, store, settings, templates)
    _pages(app, store, templates)
    _source_views(app, store, settings, templates)
    _stored_pages(app, store)
    app.include_router(health.router(store, settings))  # /healthz, /metrics: no sign-in
    _api(app, store)
    triage.register(app, store, settings, templates)
    responder.register(app, store, settings, templates)
    search.register(app, store, settings, templates)
    export_views.register(app, store, settings, templates)
    reports.register(app, store, settings, templates)
    quarantine_views.register(app, store, settings, templates)
    _openapi(app)
    return app


def _context(request: Request) -> dict[str, Any]:
    found = who(request)
    lang = found.user.language if found.user else "en"
    return {
        "user": found.user,
        "csrf": found.csrf or "",
        "lang": lang,
        "_": translator(lang),
        "labels": LABELS.get(lang, LABELS["en"]),
        "colon": "\u00a0:" if lang == "fr" else ":",  # French puts a (no-break) space before a colon
    }


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _errors(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, _exc: LoginRequiredError) -> Response:
        if _wants_json(request) or request.method != "GET":
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request) or request.headers.get("HX-Request") == "true":
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Response:
        conflict = isinstance(exc, TransitionError | LastAdminError)
        status = 404 if isinstance(exc, NotFoundError) else 409 if conflict else 422
        return await http_error(request, HTTPException(status, str(exc)))

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, _exc: OverflowError) -> Response:
        # an id beyond what the database can store names nothing that exists
        return await http_error(request, HTTPException(404, "no such object: the id is out of range"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": jsonable(exc.errors())}, status_code=422)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path"))
        return await http_error(request, HTTPException(422, f"{where}: {first.get('msg', 'invalid')}"))


def jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str})


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): the app's security headers on every
    response that does not set its own (stored pages set a stricter sandbox policy)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(("/static", "/vendor"))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _openapi(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(_user: Responder) -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False)
    def docs(_user: Responder) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="MediaWatch API",
            swagger_js_url="/vendor/swagger/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger/favicon-32x32.png",
        )
        # Swagger UI starts itself with an inline script: allowed on this page only.
        page.headers["Content-Security-Policy"] = APP_CSP.replace(
            "script-src 'self'", "script-src 'self' 'unsafe-inline'"
        ).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        return page


def _pages(app: FastAPI, store: Store, templates: Jinja2Templates) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/alerts")

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def queue(
        request: Request,
        user: Responder,
        status: str = "",
        outlet: str = "",
        category: str = "",
        language: str = "",
        kind: str = "",
        priority: str = "",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> HTMLResponse:
        f = filters(status, outlet, category, language)
        least = float(priority) if priority in dict(PRIORITIES) else None
        rows = store.list_alerts(
            **{**f, "status": visible_statuses(user, status), "kind": kind or None},
            min_priority=least,
            limit=QUEUE_PAGE + 1,
            offset=(page - 1) * QUEUE_PAGE,
        )
        more = None
        if len(rows) > QUEUE_PAGE:
            rows = rows[:QUEUE_PAGE]
            query = {k: v for k, v in {**f, "kind": kind, "priority": priority}.items() if v}
            more = f"/alerts?{urlencode({**query, 'page': page + 1})}"
        partial = request.headers.get("HX-Request") == "true"
        statuses = STATUSES if user.can("analyst") else VISIBLE_TO_RESPONDERS
        return templates.TemplateResponse(
            request,
            "_rows.html" if partial else "queue.html",
            {
                "alerts": rows,
                "more": more,
                "f": {**f, "kind": kind, "priority": priority},
                "outlets": store.outlet_names(),
                "priorities": PRIORITIES,
                "statuses": statuses,
            },
        )

    @app.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    def alert_page(request: Request, alert_id: int, user: Responder) -> HTMLResponse:
        detail = visible_alert(store, alert_id, user)
        letter = next((x for x in detail.letters if x.user_id is None), None)
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
                "claims": store.claims(alert_id),
                "my_claim": store.claim_of(alert_id, user.id),
                "history": store.alert_history(alert_id) if user.can("analyst") else [],
            },
        )


def visible_alert(store: Store, alert_id: int, user: UserView) -> Any:
    """The alert's detail as *user* may see it; 404 when it does not exist or is not theirs to see."""
    detail = store.alert_detail(alert_id, user)
    if detail is None or (not user.can("analyst") and detail.alert.status not in VISIBLE_TO_RESPONDERS):
        raise HTTPException(404, f"no alert {alert_id}")
    return detail


# A stored page is the outlet's HTML: hostile by default. It opens in a sandbox (no scripts, no
# forms, its own origin) and may load nothing from the network (no trackers, no live images).
STORED_PAGE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _stored_pages(app: FastAPI, store: Store) -> None:
    @app.get("/articles/{article_id}/pages/{raw_id}", include_in_schema=False)
    def stored_page(article_id: int, raw_id: int, _user: Responder, download: bool = False) -> Response:
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
    def api_stored_pages(article_id: int, _user: Responder) -> list[dict[str, Any]]:
        """Stored copies of the article's page (as fetched, before extraction), oldest first."""
        return [
            {**r.as_dict(), "href": f"/articles/{article_id}/pages/{r.id}"}
            for r in store.raw_pages(article_id)
        ]


def _source_views(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources_page(request: Request, _user: Analyst) -> HTMLResponse:
        rows = source_health(store, settings, datetime.now(UTC))
        rows.sort(key=lambda r: (r["warning"] is None, not r["enabled"], str(r["outlet"])))
        return templates.TemplateResponse(
            request, "sources.html", {"rows": rows, "warned": sum(1 for r in rows if r["warning"])}
        )

    @app.get("/api/sources")
    def api_sources(_user: Analyst) -> list[dict[str, Any]]:
        """Every polled source with its health counters and warning (null when healthy)."""
        return source_health(store, settings, datetime.now(UTC))


def _api(app: FastAPI, store: Store) -> None:
    @app.get("/api/alerts")
    def api_alerts(
        user: Responder,
        status: str = "",
        outlet: str = "",
        category: str = "",
        language: str = "",
        kind: str = "",
        limit: int = Query(200, ge=1, le=1000),
        offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        """Alerts by priority, highest first. Responders see only alerts opened to them."""
        f = filters(status, outlet, category, language)
        f["status"] = visible_statuses(user, status)
        return [a.as_dict() for a in store.list_alerts(**f, kind=kind or None, limit=limit, offset=offset)]

    @app.post("/api/alerts/{alert_id}/verdict", status_code=201)
    def api_verdict(alert_id: int, body: VerdictIn, user: Analyst) -> dict[str, Any]:
        """Judge an alert (valid, not_valid, wrong_category); it becomes a training label."""
        try:
            verdict_id = store.record_verdict(
                alert_id, body.verdict, user.email, body.categories, body.relevant, body.note
            )
        except InputError as exc:
            status = 404 if "no such alert" in str(exc) else 422
            raise HTTPException(status, str(exc)) from exc
        return {"id": verdict_id, "alert_id": alert_id, "verdict": body.verdict}

    @app.get("/api/alerts/{alert_id}/verdicts")
    def api_verdicts(alert_id: int, _user: Analyst) -> list[dict[str, Any]]:
        return store.verdicts(alert_id)

    @app.get("/api/alerts/{alert_id}")
    def api_alert(alert_id: int, user: Responder) -> dict[str, Any]:
        """One alert with its article, evidence, scores, letters (as you may see them) and claims."""
        detail = visible_alert(store, alert_id, user)
        out: dict[str, Any] = detail.as_dict()
        out["claims"] = [
            {"responder": name, "status": c.status, "claimed_at": c.claimed_at.isoformat()}
            for c, name in store.claims(alert_id)
        ]
        return out
