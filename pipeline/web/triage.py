"""Analyst triage: approve, edit, merge, dismiss, close; users, roles and invitations.

Pages: ``/triage`` (the analyst's queue of new alerts, quick approve/dismiss per row) and
``/users`` (admin: roles, deactivation, invitations). The alert page includes
``_triage_panel.html`` for analysts.

HTML forms post to ``/alerts/{id}/approve|edit|merge|dismiss|close|verdict``,
``/outcomes/{id}/confirm``, ``/users/{id}`` and ``/users/invite`` and answer 303 back to the
page they came from (``next``, local paths only). A row action sent by htmx from ``/triage``
gets the row back instead, with the result or the reason it was refused. Every action has a
JSON twin under ``/api/``; the actor recorded in the audit log is the signed-in user's email.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..settings import Settings
from ..store import Store
from ..store.base import utcnow
from ..store.users import ROLES, InvitationView, UserView
from ..store.views import AlertDetail
from .account import app_url, safe_next
from .auth import INVITE_TTL, Admin, Analyst
from .i18n import FR as _FR

PAGE_SIZE = 50
KINDS = ("complaint", "praise")
Role = Literal["responder", "analyst", "admin"]

FR: dict[str, str] = {
    "Triage queue": "File de tri",
    "New alerts waiting for an analyst, highest priority first.": (
        "Nouvelles alertes en attente d’un analyste, les plus prioritaires d’abord."
    ),
    "Kind": "Type",
    "Approve": "Approuver",
    "Approve and open to responders": "Approuver et ouvrir aux répondants",
    "Dismiss": "Écarter",
    "Reason": "Motif",
    "Why is it dismissed?": "Pourquoi l’écarter ?",
    "Edit": "Modifier",
    "Save changes": "Enregistrer les modifications",
    "Merge": "Fusionner",
    "Merge into alert number": "Fusionner dans l’alerte numéro",
    "Close": "Fermer",
    "Close the alert": "Fermer l’alerte",
    "Note": "Note",
    "Explanation for responders": "Explication pour les répondants",
    "Letters allowed (cap)": "Lettres permises (plafond)",
    "Subject": "Objet",
    "Suggested draft": "Brouillon proposé",
    "History": "Historique",
    "Verdict": "Verdict",
    "Valid": "Valide",
    "Not valid": "Non valide",
    "Wrong category": "Mauvaise catégorie",
    "The article is off-topic": "L’article est hors sujet",
    "Categories that apply": "Catégories qui s’appliquent",
    "Outcomes to confirm": "Résultats à confirmer",
    "Confirm": "Confirmer",
    "Approved: open to responders.": "Approuvée : ouverte aux répondants.",
    "Dismissed.": "Écartée.",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "No new alerts match these filters.": "Aucune nouvelle alerte ne correspond à ces filtres.",
    "Role": "Rôle",
    "Active": "Actif",
    "Last sign-in": "Dernière connexion",
    "never": "jamais",
    "Deactivate": "Désactiver",
    "Reactivate": "Réactiver",
    "you": "vous",
    "inactive": "inactif",
    "Invite someone": "Inviter quelqu’un",
    "Invite": "Inviter",
    "Invitation link": "Lien d’invitation",
    "Copy link": "Copier le lien",
    "Send this link to the person yourself. It is shown only once and works once.": (
        "Envoyez vous-même ce lien à la personne. Il n’est affiché qu’une fois et ne sert qu’une fois."
    ),
    "Open invitations": "Invitations en attente",
    "expires": "expire",
    "No open invitations.": "Aucune invitation en attente.",
    "responder": "répondant",
    "analyst": "analyste",
    "admin": "administrateur",
    "Triaged by": "Triée par",
    "Merged into alert": "Fusionnée dans l’alerte",
    "Dismissed because": "Écartée parce que",
    "Another copy of this wire story has its own alert": (
        "Une autre copie de cette dépêche a sa propre alerte"
    ),
    "Merge into it": "Fusionner dans celle-ci",
    "No action applies to an alert in this state.": "Aucune action ne s’applique à une alerte dans cet état.",
    "Nothing changed.": "Rien n’a changé.",
}
_FR.update(FR)


# ---------------------------------------------------------------- API bodies
class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    explanation: str | None = Field(
        default=None, max_length=4000, description="The analyst's words for responders (kept if empty)."
    )
    letter_cap: int | None = Field(default=None, ge=1, le=50, description="Letters allowed to the outlet.")


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    explanation: str | None = Field(
        default=None, max_length=4000, description="New explanation; an empty string removes it."
    )
    subject: str | None = Field(default=None, min_length=1, max_length=500, description="Draft subject.")
    body: str | None = Field(default=None, min_length=1, max_length=20000, description="Draft body.")
    letter_cap: int | None = Field(default=None, ge=1, le=50, description="Letters allowed to the outlet.")


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: int = Field(ge=1, description="The alert responders work on; this one is folded into it.")


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="Why the alert is dismissed.")


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    role: Role = "responder"


# ---------------------------------------------------------------- helpers
def _text(value: str | None) -> str | None:
    """Browsers send textarea lines ending in CRLF: store plain newlines."""
    return None if value is None else value.replace("\r\n", "\n").replace("\r", "\n")


def _detail(store: Store, alert_id: int) -> AlertDetail:
    detail = store.alert_detail(alert_id)
    if detail is None:
        raise HTTPException(404, f"alert: no such alert {alert_id}")
    return detail


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(next_url: str, default: str) -> RedirectResponse:
    return RedirectResponse(safe_next(next_url) if next_url else default, status_code=303)


def _edit_changes(
    detail: AlertDetail,
    explanation: str | None,
    subject: str | None,
    body: str | None,
    letter_cap: int | None,
) -> dict[str, Any]:
    """Only what differs from the alert as it is (a form sends every field, changed or not)."""
    a = detail.alert
    draft = next((x for x in detail.letters if x.user_id is None), None)
    changes: dict[str, Any] = {}
    if explanation is not None and explanation.strip() != (a.explanation or ""):
        changes["explanation"] = explanation
    if letter_cap is not None and letter_cap != a.letter_cap:
        changes["letter_cap"] = letter_cap
    if subject is not None and (draft is None or subject.strip() != draft.subject):
        changes["subject"] = subject
    if body is not None and (draft is None or body.strip() != draft.body):
        changes["body"] = body
    return changes


def admin_guard(
    store: Store, actor: UserView, target: UserView, role: str | None, active: bool | None
) -> None:
    """Refuse a change that would lock admins out: deactivating yourself, or demoting or
    deactivating the last active admin."""
    if active is False and target.id == actor.id:
        raise HTTPException(409, "active: you cannot deactivate your own account; ask another admin")
    demoted = role is not None and role != "admin"
    if target.role == "admin" and target.active and (demoted or active is False):
        admins = [u for u in store.users() if u.role == "admin" and u.active]
        if len(admins) <= 1:
            field = "role" if demoted else "active"
            raise HTTPException(
                409,
                f"{field}: {target.email} is the last active admin; make someone else admin first",
            )


def change_user(
    store: Store, actor: UserView, user_id: int, role: str | None, active: bool | None
) -> UserView:
    target = store.user(user_id)
    if target is None:
        raise HTTPException(404, f"user: no such user {user_id}")
    admin_guard(store, actor, target, role, active)
    changes: dict[str, Any] = {}
    if role is not None and role != target.role:
        changes["role"] = role
    if active is not None and active != target.active:
        changes["active"] = active
    if not changes:
        return target
    return store.update_user(user_id, actor.email, **changes)


def open_invitations(store: Store) -> list[InvitationView]:
    now = utcnow()
    return [i for i in store.invitations() if i.accepted_at is None and i.expires_at > now]


def invite_link(request: Request, settings: Settings, token: str) -> str:
    return f"{app_url(request, settings)}/invite/{token}"


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Add the triage and user-management pages, their form posts and their JSON twins."""
    # The alert page offers the alert on another copy of the same wire story as a merge target.
    templates.env.globals["triage_wire_alert"] = store.cluster_alert
    _triage_pages(app, store, templates)
    _triage_forms(app, store, templates)
    _triage_api(app, store)
    _users(app, store, settings, templates)


# ---------------------------------------------------------------- /triage
def _triage_pages(app: FastAPI, store: Store, templates: Jinja2Templates) -> None:
    @app.get("/triage", response_class=HTMLResponse, include_in_schema=False)
    def triage_queue(
        request: Request,
        _user: Analyst,
        outlet: Annotated[str, Query(max_length=200)] = "",
        category: Annotated[str, Query(max_length=100)] = "",
        language: Annotated[str, Query(max_length=10)] = "",
        kind: Annotated[str, Query(max_length=20)] = "",
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> HTMLResponse:
        f = {"outlet": outlet, "category": category, "language": language, "kind": kind}
        rows = store.list_alerts(
            status="new",
            outlet=outlet or None,
            category=category or None,
            language=language or None,
            kind=kind or None,
            limit=PAGE_SIZE + 1,
            offset=offset,
        )
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
        query = {k: v for k, v in f.items() if v}

        def page(at: int) -> str:
            return "/triage?" + urlencode({**query, "offset": at}) if at else "/triage?" + urlencode(query)

        here = page(offset)
        return templates.TemplateResponse(
            request,
            "triage_rows.html" if _is_htmx(request) else "triage.html",
            {
                "alerts": rows,
                "f": f,
                "kinds": KINDS,
                "outlets": store.outlet_names(),
                "offset": offset,
                "here": here,
                "prev_url": page(max(0, offset - PAGE_SIZE)) if offset else None,
                "next_url": page(offset + PAGE_SIZE) if more else None,
            },
        )


# ---------------------------------------------------------------- HTML form posts
def _triage_forms(app: FastAPI, store: Store, templates: Jinja2Templates) -> None:
    def row_result(request: Request, alert_id: int, message: str, error: str = "") -> HTMLResponse:
        """The /triage row after an htmx action: the outcome, or the row again with the reason.
        Answered 200 so that htmx swaps it in (it does not swap 4xx answers)."""
        detail = store.alert_detail(alert_id)
        return templates.TemplateResponse(
            request,
            "triage_row.html",
            {"a": detail.alert if detail else None, "message": message, "error": error, "here": "/triage"},
        )

    def quick(request: Request, alert_id: int, action: Any, done: str, next_url: str) -> Response:
        if not _is_htmx(request):
            action()
            return _back(next_url, f"/alerts/{alert_id}#triage")
        try:
            action()
        except (InputError, HTTPException) as exc:
            reason = str(exc.detail) if isinstance(exc, HTTPException) else str(exc)
            return row_result(request, alert_id, "", reason)
        return row_result(request, alert_id, done)

    @app.post("/alerts/{alert_id}/approve", include_in_schema=False)
    def approve_form(
        request: Request,
        alert_id: int,
        user: Analyst,
        explanation: Annotated[str, Form(max_length=4000)] = "",
        letter_cap: Annotated[int | None, Form(ge=1, le=50)] = None,
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        def act() -> None:
            store.approve(alert_id, user.email, explanation=_text(explanation), letter_cap=letter_cap)

        return quick(request, alert_id, act, "Approved: open to responders.", next)

    @app.post("/alerts/{alert_id}/dismiss", include_in_schema=False)
    def dismiss_form(
        request: Request,
        alert_id: int,
        user: Analyst,
        reason: Annotated[str, Form(max_length=2000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        def act() -> None:
            store.dismiss(alert_id, user.email, _text(reason) or "")

        return quick(request, alert_id, act, "Dismissed.", next)

    @app.post("/alerts/{alert_id}/edit", include_in_schema=False)
    def edit_form(
        alert_id: int,
        user: Analyst,
        explanation: Annotated[str, Form(max_length=4000)] = "",
        subject: Annotated[str | None, Form(max_length=500)] = None,
        body: Annotated[str | None, Form(max_length=20000)] = None,
        letter_cap: Annotated[int | None, Form(ge=1, le=50)] = None,
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        changes = _edit_changes(
            _detail(store, alert_id), _text(explanation), _text(subject), _text(body), letter_cap
        )
        if changes:
            store.edit_alert(alert_id, user.email, **changes)
        return _back(next, f"/alerts/{alert_id}#triage")

    @app.post("/alerts/{alert_id}/merge", include_in_schema=False)
    def merge_form(
        alert_id: int,
        user: Analyst,
        into: Annotated[int, Form(ge=1)],
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        store.merge(alert_id, into, user.email)
        return _back(next, f"/alerts/{alert_id}#triage")

    @app.post("/alerts/{alert_id}/close", include_in_schema=False)
    def close_form(
        alert_id: int,
        user: Analyst,
        note: Annotated[str, Form(max_length=2000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        store.close_alert(alert_id, user.email, _text(note) or "")
        return _back(next, f"/alerts/{alert_id}#triage")

    @app.post("/alerts/{alert_id}/verdict", include_in_schema=False)
    def verdict_form(
        alert_id: int,
        user: Analyst,
        verdict: Annotated[Literal["valid", "not_valid", "wrong_category"], Form()],
        categories: Annotated[list[str] | None, Form(max_length=50)] = None,
        off_topic: Annotated[bool, Form()] = False,
        note: Annotated[str, Form(max_length=2000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        _detail(store, alert_id)
        store.record_verdict(alert_id, verdict, user.email, categories or [], not off_topic, note)
        return _back(next, f"/alerts/{alert_id}#triage")

    @app.post("/outcomes/{outcome_id}/confirm", include_in_schema=False)
    def confirm_form(
        outcome_id: int,
        user: Analyst,
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        store.confirm_outcome(outcome_id, user.email)
        return _back(next, "/alerts")


# ---------------------------------------------------------------- JSON API
def _triage_api(app: FastAPI, store: Store) -> None:
    def alert_json(alert_id: int) -> dict[str, Any]:
        out: dict[str, Any] = _detail(store, alert_id).alert.as_dict()
        return out

    @app.post("/api/alerts/{alert_id}/approve", tags=["triage"])
    def api_approve(alert_id: int, body: ApproveIn, user: Analyst) -> dict[str, Any]:
        """Approve a new alert: it opens to responders (409 unless the alert is new)."""
        store.approve(alert_id, user.email, explanation=_text(body.explanation), letter_cap=body.letter_cap)
        return alert_json(alert_id)

    @app.post("/api/alerts/{alert_id}/edit", tags=["triage"])
    def api_edit(alert_id: int, body: EditIn, user: Analyst) -> dict[str, Any]:
        """Change the explanation, the suggested draft (subject, body) or the letter cap of a live
        alert. Only the fields given change; the cap cannot go below the letters already taken."""
        given = body.model_dump(exclude_none=True)
        if not given:
            raise HTTPException(422, "explanation, subject, body or letter_cap: give at least one to change")
        _detail(store, alert_id)
        store.edit_alert(
            alert_id,
            user.email,
            explanation=_text(body.explanation),
            subject=_text(body.subject),
            body=_text(body.body),
            letter_cap=body.letter_cap,
        )
        return alert_json(alert_id)

    @app.post("/api/alerts/{alert_id}/merge", tags=["triage"])
    def api_merge(alert_id: int, body: MergeIn, user: Analyst) -> dict[str, Any]:
        """Fold a duplicate or another wire copy's alert into the alert responders work on."""
        store.merge(alert_id, body.into, user.email)
        return alert_json(alert_id)

    @app.post("/api/alerts/{alert_id}/dismiss", tags=["triage"])
    def api_dismiss(alert_id: int, body: DismissIn, user: Analyst) -> dict[str, Any]:
        """Dismiss a new or unclaimed open alert, with the reason (required)."""
        store.dismiss(alert_id, user.email, _text(body.reason) or "")
        return alert_json(alert_id)

    @app.post("/api/alerts/{alert_id}/close", tags=["triage"])
    def api_close(alert_id: int, body: CloseIn, user: Analyst) -> dict[str, Any]:
        """Close a live alert (open, claimed or sent), with an optional note."""
        store.close_alert(alert_id, user.email, _text(body.note) or "")
        return alert_json(alert_id)

    @app.post("/api/outcomes/{outcome_id}/confirm", tags=["triage"])
    def api_confirm(outcome_id: int, user: Analyst) -> dict[str, Any]:
        """Confirm a candidate outcome (for example an article amended after a letter)."""
        store.confirm_outcome(outcome_id, user.email)
        return {"id": outcome_id, "confirmed": True}

    @app.get("/api/alerts/{alert_id}/history", tags=["triage"])
    def api_history(alert_id: int, _user: Analyst) -> list[dict[str, Any]]:
        """The alert's audit log, oldest first: when, who (actor) and what (action, detail)."""
        _detail(store, alert_id)
        return [{**h, "at": _iso(h["at"])} for h in store.alert_history(alert_id)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- users and invitations
def _users(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    def users_page(
        request: Request, link: str = "", error: str = "", invited: str = "", status: int = 200
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "users.html",
            {
                "users": store.users(),
                "roles": ROLES,
                "invitations": open_invitations(store),
                "link": link,
                "invited": invited,
                "error": error,
            },
            status_code=status,
        )

    @app.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_list(request: Request, _user: Admin) -> HTMLResponse:
        return users_page(request)

    @app.post("/users/invite", response_class=HTMLResponse, include_in_schema=False)
    def invite_form(
        request: Request,
        user: Admin,
        email: Annotated[str, Form(max_length=320)],
        role: Annotated[Role, Form()] = "responder",
    ) -> Response:
        # The link is shown on this answer only (never in a URL or the database): no redirect.
        try:
            token = store.create_invitation(email, role, user.id, INVITE_TTL, by=user.email)
        except InputError as exc:
            return users_page(request, error=str(exc), status=422)
        return users_page(request, link=invite_link(request, settings, token), invited=email.strip())

    @app.post("/users/{user_id}", include_in_schema=False)
    def user_form(
        request: Request,
        user_id: int,
        user: Admin,
        role: Annotated[Role | None, Form()] = None,
        active: Annotated[bool | None, Form()] = None,
    ) -> Response:
        try:
            change_user(store, user, user_id, role, active)
        except HTTPException as exc:
            return users_page(request, error=str(exc.detail), status=exc.status_code)
        except InputError as exc:
            return users_page(request, error=str(exc), status=422)
        if user_id == user.id and role is not None and role != "admin":
            return RedirectResponse("/alerts", status_code=303)  # no longer allowed on /users
        return RedirectResponse("/users", status_code=303)

    @app.get("/api/users", tags=["users"])
    def api_users(_user: Admin) -> list[dict[str, Any]]:
        """Every user with role, active flag and last sign-in."""
        return [u.as_dict() for u in store.users()]

    @app.patch("/api/users/{user_id}", tags=["users"])
    def api_user(user_id: int, body: UserPatch, user: Admin) -> dict[str, Any]:
        """Change a user's role or deactivate/reactivate them. You cannot deactivate yourself, and
        the last active admin cannot be demoted or deactivated (409)."""
        if body.role is None and body.active is None:
            raise HTTPException(422, "role or active: give at least one to change")
        return change_user(store, user, user_id, body.role, body.active).as_dict()

    @app.get("/api/invitations", tags=["users"])
    def api_invitations(_user: Admin) -> list[dict[str, Any]]:
        """Open invitations (not yet used, not expired). Links are never shown again."""
        return [
            {"id": i.id, "email": i.email, "role": i.role, "expires_at": i.expires_at.isoformat()}
            for i in open_invitations(store)
        ]

    @app.post("/api/invitations", status_code=201, tags=["users"])
    def api_invite(request: Request, body: InvitationIn, user: Admin) -> dict[str, Any]:
        """Invite someone by email with a role. The answer holds the link, once: send it to them
        yourself. It works once and expires after a week."""
        token = store.create_invitation(body.email, body.role, user.id, INVITE_TTL, by=user.email)
        invitation = store.invitation(token)
        assert invitation is not None
        return {
            "id": invitation.id,
            "email": invitation.email,
            "role": invitation.role,
            "expires_at": invitation.expires_at.isoformat(),
            "link": invite_link(request, settings, token),
        }
