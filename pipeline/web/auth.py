"""Sign-in, sessions, roles and CSRF for the web app and its JSON API.

- Passwords are hashed with argon2 (argon2-cffi's defaults; rehashed when they change).
- A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure unless turned off
  for plain-HTTP testing); the database keeps only its hash, so a stolen database signs nobody in.
- CSRF: every unsafe request must carry the session's token, as the form field ``csrf_token``
  or the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on <body>). Forms used
  before sign-in (login, invitation) use a double-submit cookie. A cross-site ``Origin`` is
  refused outright.
- Roles: responder < analyst < admin, enforced by ``require(role)`` on every route.
- Sign-in is rate limited per account and per client address.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, Response

from ..settings import Settings
from ..store import Store
from ..store.users import UserView

SESSION_COOKIE = "mw_session"
PRE_CSRF_COOKIE = "mw_csrf"  # double-submit token for forms shown before sign-in
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIN_PASSWORD = 10
LOGIN_WINDOW = timedelta(minutes=15)
IP_ATTEMPTS_FACTOR = 4  # a client address may fail this many times the per-account limit
INVITE_TTL = timedelta(days=7)

_hasher = PasswordHasher()
# A hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not a real password, never matches")


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    from ..errors import InputError

    if len(password) < MIN_PASSWORD:
        raise InputError(f"password: use at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InputError("password: at most 1024 characters")


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


class LoginRequiredError(Exception):
    """No signed-in user: pages redirect to the sign-in form, the API answers 401."""


@dataclass(slots=True)
class Who:
    user: UserView | None
    csrf: str | None


def who(request: Request) -> Who:
    """The signed-in user (cached on the request)."""
    cached = getattr(request.state, "who", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    store: Store = request.app.state.store
    token = request.cookies.get(SESSION_COOKIE)
    found = store.session_user(token) if token else None
    result = Who(*found) if found else Who(None, None)
    request.state.who = result
    return result


def optional_user(request: Request) -> UserView | None:
    return who(request).user


def require(role: str) -> Any:
    """A dependency: the signed-in user with at least *role*; 401/redirect or 403 otherwise."""

    # async: the session look-up is one primary-key read (WAL readers never wait), so it runs on
    # the event loop instead of costing a thread hop per request
    async def dependency(request: Request) -> UserView:
        user = who(request).user
        if user is None:
            raise LoginRequiredError()
        if not user.can(role):
            raise HTTPException(403, f"this needs the {role} role; you are signed in as {user.role}")
        return user

    return Depends(dependency)


# Route parameters: `user: Responder` (any signed-in user), `Analyst`, `Admin`.
Responder = Annotated[UserView, require("responder")]
Analyst = Annotated[UserView, require("analyst")]
Admin = Annotated[UserView, require("admin")]


def current_user(request: Request) -> UserView:
    user = who(request).user
    if user is None:
        raise LoginRequiredError()
    return user


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: unsafe methods need a matching CSRF token and no foreign Origin."""
    if request.method not in UNSAFE:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(403, "cross-site request refused (Origin does not match)")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    session = who(request)
    expected = session.csrf if session.user is not None else request.cookies.get(PRE_CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def pre_csrf_token(request: Request) -> str:
    """The double-submit token for a form shown before sign-in (the cookie's, or a new one)."""
    return request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_pre_csrf(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure, path="/"
    )


def start_session(response: Response, store: Store, settings: Settings, user: UserView) -> None:
    token, _csrf = store.create_session(user.id, timedelta(hours=settings.session_hours))
    store.note_login(user.id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")


def end_session(request: Request, response: Response, store: Store) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_blocked(store: Store, settings: Settings, email: str, address: str) -> bool:
    """Too many recent failures for this account or this client address."""
    limit = settings.login_attempts
    return (
        store.login_failures(f"email:{email.strip().lower()}", LOGIN_WINDOW) >= limit
        or store.login_failures(f"ip:{address}", LOGIN_WINDOW) >= limit * IP_ATTEMPTS_FACTOR
    )


def attempt_login(
    store: Store, settings: Settings, email: str, password: str, address: str
) -> UserView | None:
    """The user if the password is right (and the account active); failures are counted."""
    found = store.user_login(email)
    stored = found[1] if found else None
    ok = verify_password(stored, password) and found is not None and found[0].active
    if not ok:
        store.note_login_failure(f"email:{email.strip().lower()}", f"ip:{address}")
        return None
    assert found is not None and stored is not None
    if needs_rehash(stored):
        store.set_password_hash(found[0].id, _hasher.hash(password))
    store.clear_login_failures(f"email:{found[0].email}")
    return found[0]
