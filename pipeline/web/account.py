"""Sign-in and out, invitation links, the account page and the responder's Atom feed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import InputError
from ..notices import notice
from ..notify import atom_feed
from ..settings import Settings
from ..store import Store
from .auth import (
    Responder,
    attempt_login,
    client_address,
    end_session,
    hash_password,
    login_blocked,
    pre_csrf_token,
    set_pre_csrf,
    start_session,
    who,
)
from .i18n import translator


def safe_next(value: str) -> str:
    """Only local paths: never bounce a signed-in user to another site."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/alerts"
    return value


def app_url(request: Request, settings: Settings) -> str:
    return settings.app_url.rstrip("/") or str(request.base_url).rstrip("/")


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    def login_form(request: Request, next_url: str, error: str = "", status: int = 200) -> Response:
        token = pre_csrf_token(request)
        response = templates.TemplateResponse(
            request,
            "login.html",
            {"next": safe_next(next_url), "error": error, "form_csrf": token},
            status_code=status,
        )
        set_pre_csrf(response, token, settings)
        return response

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/alerts") -> Response:
        if who(request).user is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return login_form(request, next)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1024)],
        next: Annotated[str, Form()] = "/alerts",
    ) -> Response:
        _ = translator("en")
        address = client_address(request)
        if login_blocked(store, settings, email, address):
            return login_form(
                request, next, _("Too many failed sign-ins. Wait a few minutes and try again."), 429
            )
        user = attempt_login(store, settings, email, password, address)
        if user is None:
            return login_form(request, next, _("Wrong email or password."), 401)
        response = RedirectResponse(safe_next(next), status_code=303)
        start_session(response, store, settings, user)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        end_session(request, response, store)
        return response

    def invite_form(request: Request, token: str, error: str = "", status: int = 200) -> Response:
        invitation = store.invitation(token)
        form_token = pre_csrf_token(request)
        response = templates.TemplateResponse(
            request,
            "invite.html",
            {"invitation": invitation, "token": token, "error": error, "form_csrf": form_token},
            status_code=status if invitation else 410,
        )
        set_pre_csrf(response, form_token, settings)
        return response

    @app.get("/invite/{token}", response_class=HTMLResponse, include_in_schema=False)
    def invite_page(request: Request, token: str) -> Response:
        return invite_form(request, token)

    @app.post("/invite/{token}", include_in_schema=False)
    def accept_invite(
        request: Request,
        token: str,
        password: Annotated[str, Form(max_length=1024)],
        name: Annotated[str, Form(max_length=200)] = "",
        language: Annotated[str, Form()] = "en",
    ) -> Response:
        try:
            user_id = store.accept_invitation(token, hash_password(password), name, language)
        except InputError as exc:
            return invite_form(request, token, str(exc), 422)
        user = store.user(user_id)
        assert user is not None
        response = RedirectResponse("/alerts", status_code=303)
        start_session(response, store, settings, user)
        return response

    @app.get("/account", response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request, user: Responder) -> Response:
        return templates.TemplateResponse(request, "account.html", {"feed_url": None, "saved": False})

    @app.post("/account", response_class=HTMLResponse, include_in_schema=False)
    def save_account(
        request: Request,
        user: Responder,
        name: Annotated[str, Form(max_length=200)] = "",
        language: Annotated[str, Form(pattern="^(en|fr)$")] = "en",
        notify_digest: Annotated[bool, Form()] = False,
        notify_immediate: Annotated[bool, Form()] = False,
    ) -> Response:
        updated = store.update_user(
            user.id,
            user.email,
            name=name.strip(),
            language=language,
            notify_digest=notify_digest,
            notify_immediate=notify_immediate,
        )
        request.state.who.user = updated
        return templates.TemplateResponse(request, "account.html", {"feed_url": None, "saved": True})

    @app.post("/account/feed", response_class=HTMLResponse, include_in_schema=False)
    def new_feed(request: Request, user: Responder) -> Response:
        token = store.new_feed_token(user.id)
        feed_url = f"{app_url(request, settings)}/feeds/{token}.atom"
        return templates.TemplateResponse(request, "account.html", {"feed_url": feed_url, "saved": False})

    @app.get("/api/me")
    def me(user: Responder) -> dict[str, Any]:
        """The signed-in user."""
        return user.as_dict()

    @app.get("/feeds/{token}.atom", include_in_schema=False)
    def feed(request: Request, token: str) -> Response:
        user = store.feed_user(token)
        if user is None:
            raise HTTPException(404, "unknown feed")
        base = app_url(request, settings)
        alerts = store.list_alerts(status=("open", "claimed"), limit=100)
        alerts = [a for a in alerts if a.slots_left > 0]
        body = atom_feed(
            [notice(a, base) for a in alerts],
            feed_id=f"{base}/feeds/user-{user.id}",
            title="MediaWatch: open alerts" if user.language != "fr" else "MediaWatch : alertes ouvertes",
            self_url=f"{base}/feeds/{token}.atom",
            updated=max((a.created_at for a in alerts), default=datetime.now(UTC)),
            language=user.language,
            tz=settings.timezone,
        )
        return Response(body, media_type="application/atom+xml", headers={"Referrer-Policy": "no-referrer"})
