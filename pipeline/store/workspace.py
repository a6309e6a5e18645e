"""The alert lifecycle: triage, claims under a cap, letters, sending, outcomes, notifications.

    new --approve--> open --claim--> claimed --mark sent--> sent --outcome--> closed
    new|open --dismiss--> dismissed          new|open --merge--> merged (into another alert)

Every transition is one transaction with its audit entry (who, when, what). Claims are atomic:
a single conditional UPDATE takes a slot (``claims_taken < letter_cap``), so however many
responders claim at once the cap holds on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InputError
from ..letters import count_words
from ..records import ALERT_STATUSES
from .alerts import category_rows
from .base import StoreBase, utcnow
from .schema import (
    Alert,
    AlertCategory,
    Article,
    AuditEntry,
    Claim,
    Letter,
    Notification,
    Outcome,
    Outlet,
    User,
)
from .users import UserView
from .views import AlertView

STATUSES = ALERT_STATUSES  # every alert state
LIVE = ("open", "claimed", "sent")  # responders may claim and write
VISIBLE_TO_RESPONDERS = ("open", "claimed", "sent", "closed")
TRIAGE_FROM = ("new", "open")
OUTCOMES = (
    "letter_published",
    "correction",
    "editors_note",
    "headline_changed",
    "reply_received",
    "no_response",
)
CLOSING = frozenset(OUTCOMES) - {"no_response"}  # no response keeps the escalation clock running


class TransitionError(InputError):
    """The action does not apply to the alert in its current state (HTTP 409)."""


class NotFoundError(InputError):
    """No such alert, claim or letter (HTTP 404)."""


@dataclass(slots=True, frozen=True)
class ClaimResult:
    ok: bool
    claim_id: int | None
    reason: str  # "claimed", "already yours", "cap reached", "not open"
    slots_left: int


@dataclass(slots=True, frozen=True)
class ClaimView:
    id: int
    alert_id: int
    user_id: int
    status: str  # active | sent | released
    claimed_at: datetime
    sent_at: datetime | None


def _claim(c: Claim) -> ClaimView:
    return ClaimView(c.id, c.alert_id, c.user_id, c.status, c.claimed_at, c.sent_at)


def _get_alert(s: Session, alert_id: int, lock: bool = False) -> Alert:
    q = select(Alert).where(Alert.id == alert_id)
    if lock:
        q = q.with_for_update()
    alert = s.scalar(q)
    if alert is None:
        raise NotFoundError(f"alert: no such alert {alert_id}")
    return alert


class WorkspaceStore(StoreBase):
    # ---------------------------------------------------------------- triage (analysts)
    def approve(
        self, alert_id: int, by: str, explanation: str | None = None, letter_cap: int | None = None
    ) -> None:
        """Open a new alert to responders, optionally with the analyst's explanation and cap."""
        with self.sessions.begin() as s:
            alert = _get_alert(s, alert_id, lock=True)
            if alert.status != "new":
                raise TransitionError(f"alert {alert_id} is {alert.status}: only a new alert can be approved")
            if letter_cap is not None:
                alert.letter_cap = _cap(letter_cap)
            if explanation is not None and explanation.strip():
                alert.explanation = explanation.strip()
            alert.status, alert.triaged_by, alert.triaged_at = "open", by, utcnow()
            alert.updated_at = alert.triaged_at
            s.add(self._audit_row(by, "alert_approved", "alert", alert_id, {"letter_cap": alert.letter_cap}))

    def edit_alert(
        self,
        alert_id: int,
        by: str,
        explanation: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        letter_cap: int | None = None,
    ) -> None:
        """Change the explanation, the suggested draft or the cap of a new or open alert."""
        with self.sessions.begin() as s:
            alert = _get_alert(s, alert_id, lock=True)
            if alert.status not in (*TRIAGE_FROM, "claimed", "sent"):
                raise TransitionError(f"alert {alert_id} is {alert.status}: it can no longer be edited")
            changed: dict[str, Any] = {}
            if explanation is not None:
                alert.explanation = explanation.strip() or None
                changed["explanation"] = alert.explanation
            if letter_cap is not None:
                cap = _cap(letter_cap)
                if cap < alert.claims_taken:
                    raise InputError(
                        f"letter_cap: {cap} is below the {alert.claims_taken} letters already claimed or sent"
                    )
                alert.letter_cap = changed["letter_cap"] = cap
            if subject is not None or body is not None:
                draft = s.scalar(
                    select(Letter).where(Letter.alert_id == alert_id, Letter.user_id.is_(None)).limit(1)
                )
                if draft is None:
                    raise NotFoundError(f"alert {alert_id} has no suggested draft")
                if subject is not None:
                    draft.subject = subject.strip()
                if body is not None:
                    draft.body, draft.word_count = body.strip(), count_words(body)
                draft.updated_at = utcnow()
                changed["draft"] = True
            alert.updated_at = utcnow()
            s.add(self._audit_row(by, "alert_edited", "alert", alert_id, changed))

    def dismiss(self, alert_id: int, by: str, reason: str) -> None:
        if not reason.strip():
            raise InputError("reason: say why the alert is dismissed")
        with self.sessions.begin() as s:
            alert = _get_alert(s, alert_id, lock=True)
            if alert.status not in TRIAGE_FROM or alert.claims_taken:
                raise TransitionError(
                    f"alert {alert_id} is {alert.status} with {alert.claims_taken} claim(s): "
                    "only a new or unclaimed open alert can be dismissed"
                )
            alert.status, alert.dismiss_reason = "dismissed", reason.strip()
            alert.triaged_by = by
            alert.triaged_at = alert.updated_at = utcnow()
            s.add(self._audit_row(by, "alert_dismissed", "alert", alert_id, {"reason": alert.dismiss_reason}))

    def merge(self, alert_id: int, into: int, by: str) -> None:
        """Fold a duplicate (or another wire copy's alert) into the alert responders work on."""
        if alert_id == into:
            raise InputError("into: an alert cannot be merged into itself")
        with self.sessions.begin() as s:
            alert, target = _get_alert(s, alert_id, lock=True), _get_alert(s, into, lock=True)
            if alert.status not in TRIAGE_FROM or alert.claims_taken:
                raise TransitionError(
                    f"alert {alert_id} is {alert.status} with {alert.claims_taken} claim(s): "
                    "only a new or unclaimed open alert can be merged"
                )
            if target.status in ("dismissed", "merged"):
                raise TransitionError(f"alert {into} is {target.status}: merge into a live alert")
            alert.status, alert.merged_into, alert.triaged_by = "merged", into, by
            alert.triaged_at = alert.updated_at = utcnow()
            added = [c for c in dict.fromkeys(alert.categories) if c not in target.categories]
            target.categories = list(dict.fromkeys([*target.categories, *alert.categories]))
            target.severity = max(target.severity, alert.severity)
            if alert.priority > target.priority:
                target.priority = alert.priority
                _set_category_priority(s, [(target.id, target.priority)])
            s.add_all(category_rows(target, added))  # the queue's category filter finds them
            s.add(self._audit_row(by, "alert_merged", "alert", alert_id, {"into": into}))
            s.add(self._audit_row(by, "alert_absorbed", "alert", into, {"from": alert_id}))

    def close_alert(self, alert_id: int, by: str, note: str = "") -> None:
        with self.sessions.begin() as s:
            alert = _get_alert(s, alert_id, lock=True)
            if alert.status not in LIVE:
                raise TransitionError(f"alert {alert_id} is {alert.status}: only a live alert can be closed")
            alert.status, alert.updated_at = "closed", utcnow()
            s.add(self._audit_row(by, "alert_closed", "alert", alert_id, {"note": note}))

    # ---------------------------------------------------------------- claims (responders)
    def claim(self, alert_id: int, user: UserView) -> ClaimResult:
        """Take one of the alert's letter slots. Idempotent for the same responder."""
        with self.session() as s:
            mine = s.scalar(select(Claim).where(Claim.alert_id == alert_id, Claim.user_id == user.id))
            if mine is not None and mine.status in ("active", "sent"):
                alert = _get_alert(s, alert_id)
                return ClaimResult(True, mine.id, "already yours", alert.letter_cap - alert.claims_taken)
        now = utcnow()
        try:
            with self.sessions.begin() as s:
                # The write comes first: on SQLite it takes the lock before anything is read.
                took = s.execute(
                    update(Alert)
                    .where(
                        Alert.id == alert_id, Alert.status.in_(LIVE), Alert.claims_taken < Alert.letter_cap
                    )
                    .values(
                        claims_taken=Alert.claims_taken + 1,
                        status=case((Alert.status == "open", "claimed"), else_=Alert.status),
                        updated_at=now,
                    )
                )
                alert = _get_alert(s, alert_id)
                if took.rowcount != 1:  # type: ignore[attr-defined]
                    reason = "cap reached" if alert.status in LIVE else "not open"
                    return ClaimResult(False, None, reason, max(0, alert.letter_cap - alert.claims_taken))
                row = s.scalar(select(Claim).where(Claim.alert_id == alert_id, Claim.user_id == user.id))
                if row is None:
                    row = Claim(alert_id=alert_id, user_id=user.id, claimed_at=now, status="active")
                    s.add(row)
                else:  # claimed before and released: take it again
                    row.status, row.claimed_at, row.released_at = "active", now, None
                s.flush()
                s.add(self._audit_row(user.email, "alert_claimed", "alert", alert_id, {"claim": row.id}))
                return ClaimResult(True, row.id, "claimed", alert.letter_cap - alert.claims_taken)
        except IntegrityError:  # the same responder claimed twice at the same instant
            return self.claim(alert_id, user)

    def release(self, alert_id: int, user: UserView) -> None:
        with self.sessions.begin() as s:
            took = s.execute(
                update(Claim)
                .where(Claim.alert_id == alert_id, Claim.user_id == user.id, Claim.status == "active")
                .values(status="released", released_at=utcnow())
            )
            if took.rowcount != 1:  # type: ignore[attr-defined]
                raise TransitionError(f"alert {alert_id}: you hold no active claim to release")
            s.execute(
                update(Alert)
                .where(Alert.id == alert_id)
                .values(
                    claims_taken=Alert.claims_taken - 1,
                    status=case(
                        (and_(Alert.status == "claimed", Alert.claims_taken == 1), "open"),
                        else_=Alert.status,
                    ),
                    updated_at=utcnow(),
                )
            )
            s.add(self._audit_row(user.email, "claim_released", "alert", alert_id, {}))

    def claim_of(self, alert_id: int, user_id: int) -> ClaimView | None:
        with self.session() as s:
            c = s.scalar(select(Claim).where(Claim.alert_id == alert_id, Claim.user_id == user_id))
            return _claim(c) if c else None

    def claims(self, alert_id: int) -> list[tuple[ClaimView, str]]:
        """Every claim on the alert with the responder's name: visible to all (the cap is shared)."""
        with self.session() as s:
            rows = s.execute(
                select(Claim, User.name, User.email)
                .join(User, User.id == Claim.user_id)
                .where(Claim.alert_id == alert_id)
                .order_by(Claim.id)
            )
            return [(_claim(c), name or email) for c, name, email in rows]

    def my_claims(self, user_id: int) -> list[tuple[AlertView, ClaimView]]:
        from .alerts import _alert_query, _view

        q = (
            _alert_query()
            .add_columns(Claim)
            .join(Claim, Claim.alert_id == Alert.id)
            .where(Claim.user_id == user_id, Claim.status != "released")
            .order_by(Claim.status, Alert.priority.desc(), Alert.id.desc())
        )
        with self.session() as s:
            return [(_view(a, art, o), _claim(c)) for a, art, o, c in s.execute(q)]

    # ---------------------------------------------------------------- letters
    def save_letter(
        self, alert_id: int, user: UserView, subject: str, body: str, shared: bool = False
    ) -> int:
        """The responder's own letter for the alert (one per responder), saved as they write."""
        now = utcnow()
        with self.sessions.begin() as s:
            claim = s.scalar(select(Claim).where(Claim.alert_id == alert_id, Claim.user_id == user.id))
            if claim is None or claim.status == "released":
                raise TransitionError(f"alert {alert_id}: claim it before writing a letter")
            letter = s.scalar(select(Letter).where(Letter.alert_id == alert_id, Letter.user_id == user.id))
            if letter is not None and not letter.is_draft:
                raise TransitionError(f"alert {alert_id}: your letter was already sent")
            if letter is None:
                draft = s.scalar(select(Letter).where(Letter.alert_id == alert_id, Letter.user_id.is_(None)))
                letter = Letter(
                    alert_id=alert_id,
                    user_id=user.id,
                    is_draft=True,
                    language=draft.language if draft else user.language,
                    recipient=draft.recipient if draft else None,
                    word_limit=draft.word_limit if draft else None,
                    created_at=now,
                    subject="",
                    body="",
                    word_count=0,
                )
                s.add(letter)
            letter.subject, letter.body = subject.strip()[:500], body.strip()
            letter.word_count, letter.shared, letter.updated_at = count_words(letter.body), shared, now
            s.flush()
            return letter.id

    def my_letter(self, alert_id: int, user_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            x = s.scalar(select(Letter).where(Letter.alert_id == alert_id, Letter.user_id == user_id))
            if x is None:
                return None
            return {
                "id": x.id,
                "subject": x.subject,
                "body": x.body,
                "word_count": x.word_count,
                "word_limit": x.word_limit,
                "shared": x.shared,
                "draft": x.is_draft,
                "sent_at": x.sent_at,
                "recipient": x.recipient,
            }

    def other_letters(self, alert_id: int, user_id: int) -> dict[str, tuple[str, bool]]:
        """Other responders' letters on the alert: key -> (body, readable by this user)."""
        with self.session() as s:
            rows = s.scalars(
                select(Letter).where(
                    Letter.alert_id == alert_id, Letter.user_id.is_not(None), Letter.user_id != user_id
                )
            )
            return {f"letter:{x.id}": (x.body, x.shared or not x.is_draft) for x in rows if x.body}

    def mark_sent(self, alert_id: int, user: UserView) -> None:
        """The responder reports they sent their letter from their own mail."""
        now = utcnow()
        with self.sessions.begin() as s:
            took = s.execute(
                update(Claim)
                .where(Claim.alert_id == alert_id, Claim.user_id == user.id, Claim.status == "active")
                .values(status="sent", sent_at=now)
            )
            if took.rowcount != 1:  # type: ignore[attr-defined]
                raise TransitionError(f"alert {alert_id}: you hold no active claim to mark as sent")
            letter = s.scalar(select(Letter).where(Letter.alert_id == alert_id, Letter.user_id == user.id))
            if letter is None or not letter.body.strip():
                raise TransitionError(f"alert {alert_id}: save your letter before marking it sent")
            letter.is_draft, letter.sent_at = False, now
            s.execute(
                update(Claim)
                .where(Claim.alert_id == alert_id, Claim.user_id == user.id)
                .values(letter_id=letter.id)
            )
            alert = _get_alert(s, alert_id)
            alert.letters_sent += 1
            alert.first_sent_at = alert.first_sent_at or now
            if alert.status in ("open", "claimed"):
                alert.status = "sent"
            alert.updated_at = now
            s.add(self._audit_row(user.email, "letter_sent", "alert", alert_id, {"letter": letter.id}))

    # ---------------------------------------------------------------- outcomes
    def record_outcome(self, alert_id: int, kind: str, user: UserView, note: str = "") -> int:
        if kind not in OUTCOMES:
            raise InputError(f"kind: {kind!r} is not one of {', '.join(OUTCOMES)}")
        now = utcnow()
        with self.sessions.begin() as s:
            alert = _get_alert(s, alert_id, lock=True)
            if alert.letters_sent == 0:
                raise TransitionError(f"alert {alert_id}: record an outcome once a letter has been sent")
            outcome = Outcome(
                alert_id=alert_id,
                kind=kind,
                note=note.strip()[:4000],
                confirmed=True,
                recorded_by=user.id,
                created_at=now,
            )
            s.add(outcome)
            if kind in CLOSING and alert.status in LIVE:
                alert.status = "closed"
            alert.updated_at = now
            s.flush()
            s.add(self._audit_row(user.email, "outcome_recorded", "alert", alert_id, {"kind": kind}))
            return outcome.id

    def confirm_outcome(self, outcome_id: int, by: str) -> None:
        """An analyst confirms a candidate outcome (an article amended after a letter)."""
        with self.sessions.begin() as s:
            o = s.get(Outcome, outcome_id)
            if o is None:
                raise NotFoundError(f"outcome: no such outcome {outcome_id}")
            o.confirmed = True
            s.add(self._audit_row(by, "outcome_confirmed", "alert", o.alert_id, {"outcome": outcome_id}))

    # ---------------------------------------------------------------- history and notices
    def alert_history(self, alert_id: int) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "alert", AuditEntry.object_id == str(alert_id))
                .order_by(AuditEntry.id)
            )
            return [{"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows]

    def notify_once(self, key: str, channel: str, **detail: Any) -> bool:
        """Record that something was sent; False when it was sent before (never send twice)."""
        try:
            with self.sessions.begin() as s:
                s.add(Notification(key=key[:200], channel=channel, sent_at=utcnow(), detail=detail))
            return True
        except IntegrityError:
            return False

    def forget_notice(self, key: str) -> None:
        """Undo notify_once when the sending failed, so the next run tries again."""
        from sqlalchemy import delete

        with self.sessions.begin() as s:
            s.execute(delete(Notification).where(Notification.key == key[:200]))

    def last_notice(self, prefix: str) -> datetime | None:
        with self.session() as s:
            return s.scalar(
                select(Notification.sent_at)
                .where(Notification.key.like(f"{prefix}%"))
                .order_by(Notification.sent_at.desc())
                .limit(1)
            )

    def recipients(self, digest: bool | None = None, immediate: bool | None = None) -> list[UserView]:
        from .users import _user

        q = select(User).where(User.active)
        if digest is not None:
            q = q.where(User.notify_digest == digest)
        if immediate is not None:
            q = q.where(User.notify_immediate == immediate)
        with self.session() as s:
            return [_user(u) for u in s.scalars(q.order_by(User.id))]

    def alerts_opened_since(self, since: datetime | None, limit: int = 200) -> list[AlertView]:
        from .alerts import _alert_query, _view

        q = _alert_query().where(Alert.status.in_(LIVE), Alert.claims_taken < Alert.letter_cap)
        if since is not None:
            q = q.where(Alert.triaged_at > since)
        q = q.order_by(Alert.priority.desc(), Alert.id.desc()).limit(limit)
        with self.session() as s:
            return [_view(*row) for row in s.execute(q)]

    def outlet_config(self, outlet_id: str) -> dict[str, Any]:
        with self.session() as s:
            o = s.get(Outlet, outlet_id)
            return dict(o.config) if o else {}

    def reprioritise(self, weights: Any, now: datetime | None = None) -> int:
        """Recompute live alerts' priority as they age (severity, outlet reach, recency)."""
        now = now or utcnow()
        with self.sessions.begin() as s:
            rows = s.execute(
                select(Alert, Article.published_at, Outlet.reach)
                .join(Article, Article.id == Alert.article_id)
                .join(Outlet, Outlet.id == Article.outlet_id)
                .where(Alert.status.in_(("new", *LIVE)))
            )
            changed: list[tuple[int, float]] = []
            for alert, published, reach in rows:
                p = weights(alert.severity, reach, published, now, alert.kind)
                if abs(p - alert.priority) > 1e-6:
                    alert.priority = p
                    changed.append((alert.id, p))
            _set_category_priority(s, changed)  # in the same transaction as the alerts'
        return len(changed)


def _set_category_priority(s: Session, priorities: list[tuple[int, float]]) -> None:
    """Copy new alert priorities onto their alert_categories rows (the queue's category walk)."""
    if priorities:
        s.connection().execute(  # Core executemany: no ORM bulk update by primary key
            update(AlertCategory)
            .where(AlertCategory.alert_id == bindparam("aid"))
            .values(priority=bindparam("p")),
            [{"aid": a, "p": p} for a, p in priorities],
        )


def _cap(value: int) -> int:
    if not 1 <= int(value) <= 50:
        raise InputError(f"letter_cap: {value} must be between 1 and 50")
    return int(value)
