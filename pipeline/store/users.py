"""Accounts: users and roles, server-side sessions, invitations, login failures, feed tokens.

Secrets never rest in the database: sessions, invitations and feed tokens are stored as the
SHA-256 of a random token that only the holder has; passwords arrive already hashed (argon2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import InputError
from .base import StoreBase, utcnow
from .schema import Invitation, LoginFailure, SessionRow, User

ROLES = ("responder", "analyst", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}


class LastAdminError(InputError):
    """The change would leave no active admin (HTTP 409)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True, frozen=True)
class UserView:
    id: int
    email: str
    name: str
    role: str
    language: str
    active: bool = True
    notify_digest: bool = True
    notify_immediate: bool = True
    last_login_at: datetime | None = None

    def can(self, role: str) -> bool:
        """True when the user's role is *role* or above (responder < analyst < admin)."""
        return RANK.get(self.role, -1) >= RANK[role]

    @property
    def label(self) -> str:
        return self.name or self.email

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "language": self.language,
            "active": self.active,
            "notify_digest": self.notify_digest,
            "notify_immediate": self.notify_immediate,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@dataclass(slots=True, frozen=True)
class InvitationView:
    id: int
    email: str
    role: str
    expires_at: datetime
    accepted_at: datetime | None


def _user(u: User) -> UserView:
    return UserView(
        u.id,
        u.email,
        u.name,
        u.role,
        u.language,
        u.active,
        u.notify_digest,
        u.notify_immediate,
        u.last_login_at,
    )


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InputError(f"email: {email!r} is not an email address")
    return email


def check_role(role: str) -> str:
    if role not in RANK:
        raise InputError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


class UsersStore(StoreBase):
    # ---------------------------------------------------------------- users
    def create_user(
        self,
        email: str,
        role: str,
        password_hash: str | None,
        name: str = "",
        language: str = "en",
        by: str = "system",
    ) -> int:
        email, role = normalise_email(email), check_role(role)
        try:
            with self.sessions.begin() as s:
                user = User(
                    email=email,
                    name=name.strip()[:200],
                    role=role,
                    password_hash=password_hash,
                    language=language if language in ("en", "fr") else "en",
                    created_at=utcnow(),
                )
                s.add(user)
                s.flush()
                s.add(self._audit_row(by, "user_created", "user", user.id, {"email": email, "role": role}))
                return user.id
        except IntegrityError:
            raise InputError(f"email: a user with {email} already exists") from None

    def user(self, user_id: int) -> UserView | None:
        with self.session() as s:
            u = s.get(User, user_id)
            return _user(u) if u else None

    def user_login(self, email: str) -> tuple[UserView, str | None] | None:
        """The user with this email and their password hash, for checking a login."""
        with self.session() as s:
            u = s.scalar(select(User).where(User.email == email.strip().lower()))
            return (_user(u), u.password_hash) if u else None

    def users(self) -> list[UserView]:
        with self.session() as s:
            return [_user(u) for u in s.scalars(select(User).order_by(User.role.desc(), User.email))]

    def count_users(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(User.id))) or 0)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.sessions.begin() as s:
            s.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    def note_login(self, user_id: int) -> None:
        with self.sessions.begin() as s:
            s.execute(update(User).where(User.id == user_id).values(last_login_at=utcnow()))

    def update_user(self, user_id: int, by: str, **changes: Any) -> UserView:
        """Change role, active, name, language or notification preferences; audited."""
        allowed = {"role", "active", "name", "language", "notify_digest", "notify_immediate"}
        unknown = set(changes) - allowed
        if unknown:
            raise InputError(f"{sorted(unknown)[0]}: not a user field that can be changed")
        if "role" in changes:
            check_role(changes["role"])
        with self.sessions.begin() as s:
            # Lock the admins first (PostgreSQL), so two admins demoting each other cannot both win.
            admins = s.scalars(
                select(User.id).where(User.role == "admin", User.active).with_for_update()
            ).all()
            u = s.get(User, user_id)
            if u is None:
                raise InputError(f"user: no such user {user_id}")
            loses_admin = changes.get("role", "admin") != "admin" or changes.get("active") is False
            if u.role == "admin" and u.active and loses_admin and list(admins) == [u.id]:
                field = "active" if changes.get("active") is False else "role"
                raise LastAdminError(
                    f"{field}: {u.email} is the last active admin; make someone else admin first"
                )
            before = {k: getattr(u, k) for k in changes}
            for k, v in changes.items():
                setattr(u, k, v)
            if changes.get("active") is False:  # a deactivated account is signed out everywhere
                s.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            s.add(self._audit_row(by, "user_changed", "user", user_id, {"before": before, "after": changes}))
            return _user(u)

    # ---------------------------------------------------------------- sessions
    def create_session(self, user_id: int, ttl: timedelta) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token). Only the token's hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self.sessions.begin() as s:
            s.add(
                SessionRow(
                    id=token_hash(token), user_id=user_id, csrf=csrf, created_at=now, expires_at=now + ttl
                )
            )
            s.execute(delete(SessionRow).where(SessionRow.expires_at < now))
        return token, csrf

    def session_user(self, token: str) -> tuple[UserView, str] | None:
        """The signed-in user and the session's CSRF token, or None (unknown, expired, inactive)."""
        with self.session() as s:
            row = s.execute(
                select(User, SessionRow.csrf)
                .join(SessionRow, SessionRow.user_id == User.id)
                .where(SessionRow.id == token_hash(token), SessionRow.expires_at > utcnow())
            ).first()
            if row is None or not row[0].active:
                return None
            return _user(row[0]), row[1]

    def end_session(self, token: str) -> None:
        with self.sessions.begin() as s:
            s.execute(delete(SessionRow).where(SessionRow.id == token_hash(token)))

    # ---------------------------------------------------------------- invitations
    def create_invitation(
        self, email: str, role: str, invited_by: int | None, ttl: timedelta, by: str | None = None
    ) -> str:
        """An invitation link's token (shown once); the invited person sets their own password."""
        email, role = normalise_email(email), check_role(role)
        with self.session() as s:
            if s.scalar(select(User.id).where(User.email == email)) is not None:
                raise InputError(f"email: a user with {email} already exists")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.sessions.begin() as s:
            inv = Invitation(
                token_hash=token_hash(token),
                email=email,
                role=role,
                invited_by=invited_by,
                created_at=now,
                expires_at=now + ttl,
            )
            s.add(inv)
            s.flush()
            s.add(
                self._audit_row(
                    by or str(invited_by or "system"),
                    "user_invited",
                    "invitation",
                    inv.id,
                    {"email": email, "role": role},
                )
            )
        return token

    def invitation(self, token: str) -> InvitationView | None:
        """The open invitation for this token, or None (unknown, used or expired)."""
        with self.session() as s:
            inv = s.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
            if inv is None or inv.accepted_at is not None or inv.expires_at <= utcnow():
                return None
            return InvitationView(inv.id, inv.email, inv.role, inv.expires_at, inv.accepted_at)

    def invitations(self) -> list[InvitationView]:
        with self.session() as s:
            rows = s.scalars(select(Invitation).order_by(Invitation.id.desc()).limit(100))
            return [InvitationView(i.id, i.email, i.role, i.expires_at, i.accepted_at) for i in rows]

    def accept_invitation(self, token: str, password_hash: str, name: str = "", language: str = "en") -> int:
        """Use the invitation once: creates the account. Raises InputError when it cannot be used."""
        now = utcnow()
        with self.sessions.begin() as s:
            taken = s.execute(
                update(Invitation)
                .where(
                    Invitation.token_hash == token_hash(token),
                    Invitation.accepted_at.is_(None),
                    Invitation.expires_at > now,
                )
                .values(accepted_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise InputError("invitation: this link is unknown, already used or expired")
            inv = s.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
            assert inv is not None
            email, role = inv.email, inv.role
        return self.create_user(
            email, role, password_hash, name=name, language=language, by=f"invitation:{email}"
        )

    # ---------------------------------------------------------------- login rate limit
    def note_login_failure(self, *keys: str) -> None:
        now = utcnow()
        with self.sessions.begin() as s:
            for key in keys:
                s.add(LoginFailure(key=key[:400], at=now))
            s.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))

    def login_failures(self, key: str, window: timedelta) -> int:
        with self.session() as s:
            n = s.scalar(
                select(func.count(LoginFailure.id)).where(
                    LoginFailure.key == key[:400], LoginFailure.at > utcnow() - window
                )
            )
            return int(n or 0)

    def clear_login_failures(self, key: str) -> None:
        with self.sessions.begin() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key == key[:400]))

    # ---------------------------------------------------------------- feed tokens
    def new_feed_token(self, user_id: int) -> str:
        """A fresh token for the user's Atom feed; the previous one stops working."""
        token = secrets.token_urlsafe(24)
        with self.sessions.begin() as s:
            s.execute(update(User).where(User.id == user_id).values(feed_token_hash=token_hash(token)))
        return token

    def feed_user(self, token: str) -> UserView | None:
        with self.session() as s:
            u = s.scalar(select(User).where(User.feed_token_hash == token_hash(token), User.active))
            return _user(u) if u else None
