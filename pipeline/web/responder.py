"""Responders: claim an alert, write the letter in their own words, mark it sent, report outcomes.

Every action exists twice: as an HTML form that works without JavaScript (a 303 back to the page,
or a friendly page when the action is refused) with htmx niceties (the panel on the alert page is
swapped in place, the letter is checked as it is typed), and as a JSON API call for scripts.

Own words: the letter is compared with the suggested draft and with the other responders' letters
for the alert (``pipeline.ownwords``), the evidence quotes discounted. Another responder's letter
the viewer may not read (an unshared draft) contributes its score only, never its passages.

The app never mails an outlet: it prepares a mailto link and copy buttons; the responder sends.
"""

# ruff: noqa: E501  (the French catalogue below keeps one entry per line, as i18n.py does)

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import FastAPI, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from ..errors import ConfigError, InputError
from ..escalation import Clock, Step, escalation_clock, format_date
from ..letters import TalkingPoint, TalkingPoints, count_words, load_talking_points
from ..ownwords import MIN_WORDS, closeness
from ..settings import Settings
from ..store import Store
from ..store.users import UserView
from ..store.views import AlertDetail, LetterView
from ..store.workspace import CLOSING, LIVE, OUTCOMES, NotFoundError, TransitionError
from .account import safe_next
from .auth import Responder
from .i18n import FR as _FR
from .i18n import translator

AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The alert's id")]
MAX_BODY = 20_000  # characters: ten times the longest letter an outlet takes
MAX_SUBJECT = 500

OutcomeKind = Literal[
    "letter_published", "correction", "editors_note", "headline_changed", "reply_received", "no_response"
]
assert set(get_args(OutcomeKind)) == set(OUTCOMES), "keep OutcomeKind in step with the store's OUTCOMES"

OUTCOME_LABELS = {
    "letter_published": "Letter published",
    "correction": "Correction",
    "editors_note": "Editor's note",
    "headline_changed": "Headline changed",
    "reply_received": "Reply received",
    "no_response": "No response",
}
REQUIRES = {"name": "your full name", "address": "your address", "phone": "your phone number"}
REQUIRES |= {"city": "your city", "email": "your email address"}

FR: dict[str, str] = {
    # panel
    "Letters to the outlet": "Lettres au média",
    "%(taken)s of %(cap)s letters taken": "%(taken)s lettres prises sur %(cap)s",
    "%(sent)s sent": "%(sent)s envoyée(s)",
    "writing": "en rédaction",
    "sent": "envoyée",
    "Nobody has claimed this alert yet.": "Personne n’a encore pris cette alerte.",
    "Claim this alert": "Prendre cette alerte",
    "Claiming takes one of the letter slots: write your letter soon, or release it for someone else.": "Prendre l’alerte réserve une des places de lettre : écrivez bientôt, ou libérez-la pour quelqu’un d’autre.",
    "Write your letter": "Écrire ma lettre",
    "Release": "Libérer",
    "You sent your letter. Tell us what happened:": "Vous avez envoyé votre lettre. Dites-nous ce qui s’est passé :",
    "See my letter and record an outcome": "Voir ma lettre et indiquer un résultat",
    "Cap reached: every letter slot for this alert is taken.": "Plafond atteint : toutes les places de lettre pour cette alerte sont prises.",
    "The cap keeps editors from receiving a pile of similar letters about one article.": "Le plafond évite aux rédactions de recevoir une pile de lettres semblables sur un même article.",
    "This alert is not open to responders yet.": "Cette alerte n’est pas encore ouverte aux répondants.",
    "This alert is closed.": "Cette alerte est fermée.",
    "If the outlet does not answer": "Si le média ne répond pas",
    "Next route": "Recours suivant",
    "deadline": "date limite",
    "no known deadline": "aucun délai connu",
    "Reminder": "Rappel",
    # messages
    "You claimed this alert. Write your letter in your own words.": "Vous avez pris cette alerte. Écrivez votre lettre avec vos propres mots.",
    "This alert is already yours.": "Cette alerte est déjà à vous.",
    "All %(cap)s letter slots for this alert are taken. Thank you all the same: the cap keeps editors from receiving a pile of similar letters.": "Les %(cap)s places de lettre pour cette alerte sont prises. Merci quand même : le plafond évite aux rédactions de recevoir une pile de lettres semblables.",
    "This alert is not open to claims.": "Cette alerte n’est pas ouverte.",
    "You released this alert; the slot is free for someone else.": "Vous avez libéré cette alerte ; la place est libre pour quelqu’un d’autre.",
    "Marked as sent. Thank you!": "Marquée comme envoyée. Merci !",
    "Outcome recorded. Thank you!": "Résultat enregistré. Merci !",
    "That did not work": "Cela n’a pas fonctionné",
    "Back": "Retour",
    "Claim full": "Plus de place",
    # letter page
    "Your letter": "Votre lettre",
    "Published": "Publié le",
    "Read the article": "Lire l’article",
    "What the article says": "Ce que dit l’article",
    "Talking points": "Arguments",
    "Use these facts in your own words; each one has its source.": "Servez-vous de ces faits, avec vos propres mots ; chacun a sa source.",
    "Source": "Source",
    "The suggested draft is a starting point: put the arguments in your own words. Editors discard identical letters.": "Le brouillon proposé est un point de départ : formulez les arguments avec vos propres mots. Les rédactions écartent les lettres identiques.",
    "Write in the outlet’s language": "Écrivez dans la langue du média",
    "English": "anglais",
    "French": "français",
    "Subject": "Objet",
    "Letter": "Lettre",
    "Share my draft with other responders": "Partager mon brouillon avec les autres répondants",
    "Save my letter": "Enregistrer ma lettre",
    "Check my letter": "Vérifier ma lettre",
    "Your letter is saved.": "Votre lettre est enregistrée.",
    "words": "mots",
    "at least %(n)s": "au moins %(n)s",
    "%(n)s words over the limit: the outlet may cut or refuse your letter.": "%(n)s mots de trop : le média risque de couper ou de refuser votre lettre.",
    "%(n)s words short of the outlet’s minimum.": "Il manque %(n)s mots pour atteindre le minimum du média.",
    "Still too close: put these passages in your own words.": "Encore trop proche : reformulez ces passages avec vos propres mots.",
    "Your wording is your own.": "Votre formulation vous appartient.",
    "Closeness": "Proximité",
    "the suggested draft": "le brouillon proposé",
    "another responder’s letter (not shared)": "la lettre d’un autre répondant (non partagée)",
    "letter by %(name)s": "lettre de %(name)s",
    "same wording": "de formulation identique",
    "too close": "trop proche",
    "How to send it": "Comment l’envoyer",
    "The outlet’s rules": "Les règles du média",
    "Word limit": "Nombre de mots maximal",
    "Minimum": "Minimum",
    "Exclusive: send this letter to %(outlet)s only, not to other outlets.": "Exclusivité : envoyez cette lettre à %(outlet)s seulement, pas à d’autres médias.",
    "Include:": "À inclure :",
    "your full name": "votre nom complet",
    "your address": "votre adresse",
    "your phone number": "votre numéro de téléphone",
    "your city": "votre ville",
    "your email address": "votre adresse courriel",
    "To": "À",
    "Open in my mail app": "Ouvrir dans ma messagerie",
    "Copy the subject": "Copier l’objet",
    "Copy the letter": "Copier la lettre",
    "The outlet’s letters page": "La page des lettres du média",
    "Save your letter first: the mail link and copy buttons use the saved letter.": "Enregistrez d’abord votre lettre : le lien courriel et les boutons de copie utilisent la lettre enregistrée.",
    "You changed the letter since saving it: save again before sending.": "Vous avez modifié la lettre depuis l’enregistrement : enregistrez-la avant de l’envoyer.",
    "MediaWatch never sends mail to the outlet: you send the letter yourself, from your own address.": "MediaWatch n’envoie jamais de courriel au média : vous envoyez la lettre vous-même, depuis votre adresse.",
    "I sent it": "Je l’ai envoyée",
    "Claim this alert to write a letter.": "Prenez cette alerte pour écrire une lettre.",
    "You sent this letter on %(date)s.": "Vous avez envoyé cette lettre le %(date)s.",
    "What happened?": "Que s’est-il passé ?",
    "Note (optional)": "Note (facultative)",
    "Outcomes recorded": "Résultats indiqués",
    "Letters other responders shared": "Lettres partagées par d’autres répondants",
    "Read them for ideas, then write your own.": "Lisez-les pour trouver des idées, puis écrivez la vôtre.",
    "Evidence": "Éléments relevés",
    # my claims
    "My claims": "Mes alertes",
    "Writing": "En rédaction",
    "Sent": "Envoyées",
    "You have no claims. Pick an alert in the queue.": "Vous n’avez pris aucune alerte. Choisissez-en une dans la file.",
    "Nothing sent yet.": "Rien d’envoyé pour le moment.",
    "claimed on": "prise le",
    "Letter published": "Lettre publiée",
    "Correction": "Correction",
    "Editor's note": "Note de la rédaction",
    "Headline changed": "Titre modifié",
    "Reply received": "Réponse reçue",
    "No response": "Pas de réponse",
}
_FR.update(FR)


class LetterIn(BaseModel):
    """Your letter for the alert, saved as you write (saving again replaces it)."""

    subject: str = Field(default="", max_length=MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    shared: bool = Field(default=False, description="Let other responders read this draft")


class CheckIn(BaseModel):
    """A letter to check (not saved): word count and closeness to the draft and other letters."""

    body: str = Field(max_length=MAX_BODY)


class OutcomeIn(BaseModel):
    """What happened after the letters were sent."""

    kind: OutcomeKind
    note: str = Field(default="", max_length=4000)


def _clean(text: str) -> str:
    """No NUL characters (PostgreSQL refuses them) and Unix line ends (form posts use CRLF)."""
    return text.replace("\x00", "").replace("\r\n", "\n")


def _lang(user: UserView) -> str:
    return user.language if user.language in ("en", "fr") else "en"


def suggested_draft(d: AlertDetail) -> LetterView | None:
    return next((x for x in d.letters if x.user_id is None), None)


def letter_rules(d: AlertDetail) -> dict[str, Any]:
    """The outlet's letters settings from feeds.yaml (email, url, word_limit, exclusive, ...)."""
    rules = d.outlet_config.get("letters") or {}
    return dict(rules) if isinstance(rules, dict) else {}


def word_limit(d: AlertDetail) -> int | None:
    draft = suggested_draft(d)
    limit = letter_rules(d).get("word_limit") or (draft.word_limit if draft else None)
    return int(limit) if limit else None


def evidence_quotes(d: AlertDetail) -> list[str]:
    return [str(e["quote"]) for e in d.evidence if e.get("quote")]


def check_letter(store: Store, d: AlertDetail, user: UserView, body: str, threshold: float) -> dict[str, Any]:
    """Word count against the outlet's limit, and closeness to the draft and the other letters.

    Passages are given only for texts the user may read (the draft, shared or sent letters)."""
    words = count_words(body)
    limit = word_limit(d)
    minimum = letter_rules(d).get("min_words")
    draft = suggested_draft(d)
    others = store.other_letters(d.alert.id, user.id)
    authors = {f"letter:{x.id}": x.author for x in d.letters if x.user_id is not None}
    found = closeness(
        body,
        draft.body if draft else "",
        {k: text for k, (text, _readable) in others.items()},
        ignore=evidence_quotes(d),
    )
    close = []
    for c in found:
        readable = c.other == "draft" or others.get(c.other, ("", False))[1]
        close.append(
            {
                "other": c.other,
                "author": None if c.other == "draft" or not readable else authors.get(c.other),
                "readable": readable,
                "score": c.score,
                "too_close": c.score >= threshold,
                "passages": list(c.shared) if readable else [],
            }
        )
    return {
        "words": words,
        "limit": limit,
        "min_words": minimum,
        "over": bool(limit and words > limit),
        "under": bool(minimum and 0 < words < minimum),
        "threshold": threshold,
        "judged": words >= MIN_WORDS,  # shorter letters are not scored
        "too_close": any(c["too_close"] for c in close),
        "closeness": close,
    }


def clock_for(d: AlertDetail, outcomes: list[dict[str, Any]], language: str) -> Clock:
    """The escalation clock for the alert, its message in *language* (en or fr)."""
    answered = any(o["kind"] in CLOSING and o.get("confirmed", True) for o in outcomes)
    return escalation_clock(
        {"name": d.alert.outlet_name, **d.outlet_config},
        d.alert.published_at,
        d.alert.first_sent_at,
        answered,
        datetime.now(UTC),
        language if language in ("en", "fr") else "en",
    )


def _step(step: Step | None, language: str) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "body": step.body,
        "contact": step.contact,
        "rules": step.rules,
        "deadline": step.deadline.isoformat() if step.deadline else None,
        "deadline_text": format_date(step.deadline, language) if step.deadline else None,
        "reply_by": step.reply_by.isoformat() if step.reply_by else None,
        "verified": step.verified,
    }


def clock_dict(clock: Clock, language: str) -> dict[str, Any]:
    return {
        "state": clock.state,
        "message": clock.message,
        "remind": clock.remind,
        "days_left": clock.days_left,
        "current": _step(clock.current, language),
        "next": _step(clock.next, language),
    }


def _claim_message(_: Callable[[str], str], reason: str, cap: int) -> str:
    if reason == "claimed":
        return _("You claimed this alert. Write your letter in your own words.")
    if reason == "already yours":
        return _("This alert is already yours.")
    if reason == "cap reached":
        return _(
            "All %(cap)s letter slots for this alert are taken. Thank you all the same: "
            "the cap keeps editors from receiving a pile of similar letters."
        ) % {"cap": cap}
    return _("This alert is not open to claims.")


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """The responder's pages, forms and JSON API (see the module docstring)."""
    from .app import mailto, visible_alert  # app.py imports this module: import at call time

    points_cache: list[TalkingPoints | None] = []

    def talking_points(language: str, categories: list[str]) -> list[TalkingPoint]:
        if not points_cache:
            try:
                points_cache.append(load_talking_points(settings.alerts_dir / "talking_points.yaml"))
            except (OSError, ConfigError):
                points_cache.append(None)
        points = points_cache[0]
        return points.for_categories(language, categories, limit=5) if points else []

    def panel_clock(d: AlertDetail, outcomes: list[dict[str, Any]], language: str) -> Clock:
        return clock_for(d, outcomes, language)

    templates.env.globals["responder_clock"] = panel_clock
    templates.env.globals["responder_live"] = LIVE
    templates.env.globals["responder_date"] = format_date
    templates.env.globals["responder_outcomes"] = OUTCOME_LABELS
    templates.env.globals["responder_requires"] = REQUIRES
    templates.env.globals["responder_languages"] = {"en": "English", "fr": "French"}

    def htmx(request: Request) -> bool:
        return request.headers.get("HX-Request") == "true"

    def panel(
        request: Request, alert_id: int, user: UserView, message: str = "", ok: bool = True
    ) -> Response:
        d = visible_alert(store, alert_id, user)
        return templates.TemplateResponse(
            request,
            "_responder_panel.html",
            {
                "d": d,
                "a": d.alert,
                "claims": store.claims(alert_id),
                "my_claim": store.claim_of(alert_id, user.id),
                "outcomes": store.alert_outcomes(alert_id),
                "message": message,
                "message_ok": ok,
                "oob": True,  # the status line above the panel changes too
            },
        )

    def refused(request: Request, message: str, back: str, status: int = 409) -> Response:
        return templates.TemplateResponse(
            request,
            "responder_message.html",
            {"message": message, "back": back},
            status_code=status,
        )

    def done(
        request: Request, alert_id: int, user: UserView, back: str, action: Callable[[], str]
    ) -> Response:
        """Run a form's action: 303 back on success; refused actions explained, never a 500."""
        try:
            message = action()
        except NotFoundError:
            raise
        except InputError as exc:
            if htmx(request):
                return panel(request, alert_id, user, str(exc), ok=False)
            status = 409 if isinstance(exc, TransitionError) else 422
            return refused(request, str(exc), back, status)
        if htmx(request):
            return panel(request, alert_id, user, message)
        return RedirectResponse(back, status_code=303)

    def letter_context(
        request: Request, d: AlertDetail, user: UserView, body: str | None = None
    ) -> dict[str, Any]:
        alert_id = d.alert.id
        mine = store.my_letter(alert_id, user.id)
        draft = suggested_draft(d)
        rules = letter_rules(d)
        subject = mine["subject"] if mine else (draft.subject if draft else "")
        text = body if body is not None else mine["body"] if mine else (draft.body if draft else "")
        recipient = (mine or {}).get("recipient") or rules.get("email")
        saved = mine if mine and mine["body"] else None
        language = (draft.language if draft else None) or d.alert.language or "en"
        outcomes = store.alert_outcomes(alert_id)
        return {
            "d": d,
            "a": d.alert,
            "draft": draft,
            "mine": mine,
            "saved": saved,
            "claim": store.claim_of(alert_id, user.id),
            "subject": subject,
            "body": text,
            "letter_language": language,
            "points": talking_points(language, d.alert.categories),
            "check": check_letter(store, d, user, text, settings.similarity_threshold),
            "rules": rules,
            "recipient": recipient,
            "mailto": mailto(recipient, saved["subject"], saved["body"]) if saved else None,
            "others": [x for x in d.letters if x.user_id not in (None, user.id)],
            "outcomes": outcomes,
            "clock": clock_for(d, outcomes, _lang(user)) if d.alert.letters_sent else None,
            "just_saved": request.query_params.get("saved") == "1",
        }

    def may_record_outcome(alert_id: int, user: UserView) -> None:
        claim = store.claim_of(alert_id, user.id)
        if not user.can("analyst") and (claim is None or claim.status != "sent"):
            raise HTTPException(
                403, f"alert {alert_id}: only a responder who sent a letter (or an analyst) records outcomes"
            )

    # ------------------------------------------------------------------ HTML pages and forms
    @app.post("/alerts/{alert_id}/claim", include_in_schema=False)
    def claim_form(
        request: Request, alert_id: AlertId, user: Responder, next: Annotated[str, Form()] = ""
    ) -> Response:
        d = visible_alert(store, alert_id, user)
        _ = translator(user.language)
        result = store.claim(alert_id, user)
        message = _claim_message(_, result.reason, d.alert.letter_cap)
        if htmx(request):
            return panel(request, alert_id, user, message, ok=result.ok)
        if not result.ok:
            return refused(request, message, f"/alerts/{alert_id}", 409)
        return RedirectResponse(safe_next(next or f"/alerts/{alert_id}/letter"), status_code=303)

    @app.post("/alerts/{alert_id}/release", include_in_schema=False)
    def release_form(
        request: Request, alert_id: AlertId, user: Responder, next: Annotated[str, Form()] = ""
    ) -> Response:
        visible_alert(store, alert_id, user)
        _ = translator(user.language)

        def act() -> str:
            store.release(alert_id, user)
            return _("You released this alert; the slot is free for someone else.")

        return done(request, alert_id, user, safe_next(next or f"/alerts/{alert_id}"), act)

    @app.get("/alerts/{alert_id}/letter", response_class=HTMLResponse, include_in_schema=False)
    def letter_page(request: Request, alert_id: AlertId, user: Responder) -> Response:
        d = visible_alert(store, alert_id, user)
        return templates.TemplateResponse(request, "letter.html", letter_context(request, d, user))

    @app.post("/alerts/{alert_id}/letter", include_in_schema=False)
    def save_form(
        request: Request,
        alert_id: AlertId,
        user: Responder,
        body: Annotated[str, Form(max_length=MAX_BODY)],
        subject: Annotated[str, Form(max_length=MAX_SUBJECT)] = "",
        shared: Annotated[bool, Form()] = False,
    ) -> Response:
        visible_alert(store, alert_id, user)

        def act() -> str:
            store.save_letter(alert_id, user, _clean(subject), _clean(body), shared)
            return ""

        return done(request, alert_id, user, f"/alerts/{alert_id}/letter?saved=1#send", act)

    @app.post("/alerts/{alert_id}/letter/check", response_class=HTMLResponse, include_in_schema=False)
    def check_form(
        request: Request,
        alert_id: AlertId,
        user: Responder,
        body: Annotated[str, Form(max_length=MAX_BODY)] = "",
    ) -> Response:
        d = visible_alert(store, alert_id, user)
        found = check_letter(store, d, user, _clean(body), settings.similarity_threshold)
        return templates.TemplateResponse(request, "_letter_check.html", {"check": found})

    @app.post("/alerts/{alert_id}/sent", include_in_schema=False)
    def sent_form(
        request: Request, alert_id: AlertId, user: Responder, next: Annotated[str, Form()] = ""
    ) -> Response:
        visible_alert(store, alert_id, user)
        _ = translator(user.language)

        def act() -> str:
            store.mark_sent(alert_id, user)
            return _("Marked as sent. Thank you!")

        return done(request, alert_id, user, safe_next(next or f"/alerts/{alert_id}/letter"), act)

    @app.post("/alerts/{alert_id}/outcome", include_in_schema=False)
    def outcome_form(
        request: Request,
        alert_id: AlertId,
        user: Responder,
        kind: Annotated[str, Form(max_length=40)],
        note: Annotated[str, Form(max_length=4000)] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        visible_alert(store, alert_id, user)
        may_record_outcome(alert_id, user)
        _ = translator(user.language)

        def act() -> str:
            store.record_outcome(alert_id, kind, user, _clean(note))
            return _("Outcome recorded. Thank you!")

        return done(request, alert_id, user, safe_next(next or "/my"), act)

    @app.get("/my", response_class=HTMLResponse, include_in_schema=False)
    def my_page(request: Request, user: Responder) -> Response:
        return templates.TemplateResponse(request, "my_claims.html", my_claims(user))

    def my_claims(user: UserView) -> dict[str, Any]:
        configs: dict[str, dict[str, Any]] = {}
        active, sent = [], []
        for a, c in store.my_claims(user.id):
            if c.status == "active":
                active.append({"a": a, "claim": c})
                continue
            config = configs.setdefault(a.outlet_id, store.outlet_config(a.outlet_id))
            outcomes = store.alert_outcomes(a.id)
            answered = any(o["kind"] in CLOSING and o["confirmed"] for o in outcomes)
            clock = escalation_clock(
                {"name": a.outlet_name, **config},
                a.published_at,
                a.first_sent_at,
                answered,
                datetime.now(UTC),
                _lang(user),
            )
            sent.append({"a": a, "claim": c, "outcomes": outcomes, "clock": clock})
        return {"active": active, "sent": sent}

    # ------------------------------------------------------------------ JSON API
    @app.post("/api/alerts/{alert_id}/claim")
    def api_claim(alert_id: AlertId, user: Responder) -> dict[str, Any]:
        """Claim one of the alert's letter slots (idempotent). 409 when the cap is reached or the
        alert is not open; the answer says how many slots are left."""
        d = visible_alert(store, alert_id, user)
        result = store.claim(alert_id, user)
        if not result.ok:
            detail = (
                f"cap reached: all {d.alert.letter_cap} letter slots for alert {alert_id} are taken"
                if result.reason == "cap reached"
                else f"alert {alert_id} is not open to claims"
            )
            raise HTTPException(409, detail)
        return {
            "alert_id": alert_id,
            "claim_id": result.claim_id,
            "reason": result.reason,
            "slots_left": result.slots_left,
        }

    @app.post("/api/alerts/{alert_id}/release")
    def api_release(alert_id: AlertId, user: Responder) -> dict[str, Any]:
        """Give your claim back so someone else can write (409 when you hold no active claim)."""
        visible_alert(store, alert_id, user)
        store.release(alert_id, user)
        d = visible_alert(store, alert_id, user)
        return {"alert_id": alert_id, "released": True, "slots_left": d.alert.slots_left}

    def letter_out(d: AlertDetail, user: UserView) -> dict[str, Any]:
        mine = store.my_letter(d.alert.id, user.id)
        draft = suggested_draft(d)
        rules = letter_rules(d)
        recipient = (mine or {}).get("recipient") or rules.get("email")
        return {
            "alert_id": d.alert.id,
            "letter": mine,
            "suggested": draft.as_dict() if draft else None,
            "others": [x.as_dict() for x in d.letters if x.user_id not in (None, user.id)],
            "rules": {
                "email": rules.get("email"),
                "url": rules.get("url"),
                "word_limit": word_limit(d),
                "min_words": rules.get("min_words"),
                "exclusive": bool(rules.get("exclusive")),
                "requires": list(rules.get("requires") or []),
                "rules": rules.get("rules"),
            },
            "mailto": mailto(recipient, mine["subject"], mine["body"]) if mine and mine["body"] else None,
        }

    @app.get("/api/alerts/{alert_id}/letter")
    def api_letter(alert_id: AlertId, user: Responder) -> dict[str, Any]:
        """Your letter (null until saved), the suggested draft, other responders' letters you may
        read (shared or sent), the outlet's submission rules and a mailto link for the saved letter."""
        return letter_out(visible_alert(store, alert_id, user), user)

    @app.put("/api/alerts/{alert_id}/letter")
    def api_save_letter(alert_id: AlertId, body: LetterIn, user: Responder) -> dict[str, Any]:
        """Save your letter (claim the alert first; 409 once it was sent). Returns it with the check."""
        visible_alert(store, alert_id, user)
        store.save_letter(alert_id, user, _clean(body.subject), _clean(body.body), body.shared)
        d = visible_alert(store, alert_id, user)
        out = letter_out(d, user)
        mine = out["letter"] or {}
        out["check"] = check_letter(store, d, user, mine.get("body", ""), settings.similarity_threshold)
        return out

    @app.post("/api/alerts/{alert_id}/letter/check")
    def api_check(alert_id: AlertId, body: CheckIn, user: Responder) -> dict[str, Any]:
        """Word count against the outlet's limit and closeness (0..1) to the suggested draft and
        other responders' letters; passages only from texts you may read."""
        d = visible_alert(store, alert_id, user)
        return check_letter(store, d, user, _clean(body.body), settings.similarity_threshold)

    @app.post("/api/alerts/{alert_id}/sent")
    def api_sent(alert_id: AlertId, user: Responder) -> dict[str, Any]:
        """Report that you sent your saved letter from your own mail (MediaWatch never sends it)."""
        visible_alert(store, alert_id, user)
        store.mark_sent(alert_id, user)
        d = visible_alert(store, alert_id, user)
        return {"alert_id": alert_id, "status": d.alert.status, "letters_sent": d.alert.letters_sent}

    @app.post("/api/alerts/{alert_id}/outcome", status_code=201)
    def api_outcome(alert_id: AlertId, body: OutcomeIn, user: Responder) -> dict[str, Any]:
        """Record what happened (letter published, correction, ...). For a responder who sent a
        letter on the alert, or an analyst; 409 before any letter was sent."""
        visible_alert(store, alert_id, user)
        may_record_outcome(alert_id, user)
        outcome_id = store.record_outcome(alert_id, body.kind, user, _clean(body.note))
        d = visible_alert(store, alert_id, user)
        return {"id": outcome_id, "alert_id": alert_id, "kind": body.kind, "status": d.alert.status}

    @app.get("/api/my/claims")
    def api_my_claims(user: Responder) -> list[dict[str, Any]]:
        """Your claims (active and sent; released ones are left out), with each alert and, for
        sent letters, the outcomes and the escalation clock."""
        found = my_claims(user)
        out = []
        for row in found["active"] + found["sent"]:
            c = row["claim"]
            out.append(
                {
                    "alert": row["a"].as_dict(),
                    "claim": {
                        "id": c.id,
                        "status": c.status,
                        "claimed_at": c.claimed_at.isoformat(),
                        "sent_at": c.sent_at.isoformat() if c.sent_at else None,
                    },
                    "outcomes": row.get("outcomes", []),
                    "escalation": clock_dict(row["clock"], _lang(user)) if "clock" in row else None,
                }
            )
        return out

    @app.get("/api/alerts/{alert_id}/escalation")
    def api_escalation(alert_id: AlertId, user: Responder) -> dict[str, Any]:
        """Where the alert's letters stand: state, the next route with its deadline, whether a
        reminder is due, and one plain sentence in your language."""
        d = visible_alert(store, alert_id, user)
        clock = clock_for(d, store.alert_outcomes(alert_id), _lang(user))
        return {"alert_id": alert_id, **clock_dict(clock, _lang(user))}
