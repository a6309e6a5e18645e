"""Alerts and their letters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..records import AlertDraft
from .articles import load_wire_copy
from .base import StoreBase, utcnow
from .schema import Alert, Article, Letter, Outcome, Outlet, ScoreRow, User
from .users import UserView
from .views import AlertDetail, AlertView, ArticlePage, LetterView


def _alert_query() -> Select[Alert, Article, Outlet]:
    return (
        select(Alert, Article, Outlet)
        .join(Article, Article.id == Alert.article_id)
        .join(Outlet, Outlet.id == Article.outlet_id)
    )


def _view(alert: Alert, article: Article, outlet: Outlet) -> AlertView:
    return AlertView(
        id=alert.id,
        status=alert.status,
        kind=alert.kind,
        severity=alert.severity,
        priority=alert.priority,
        categories=list(alert.categories),
        summary=alert.summary,
        created_at=alert.created_at,
        article_id=article.id,
        title=article.title,
        url=article.url,
        outlet_id=outlet.id,
        outlet_name=outlet.name,
        language=article.language,
        published_at=article.published_at,
        partial=article.partial,
        explanation=alert.explanation,
        letter_cap=alert.letter_cap,
        claims_taken=alert.claims_taken,
        letters_sent=alert.letters_sent,
        first_sent_at=alert.first_sent_at,
        merged_into=alert.merged_into,
        dismiss_reason=alert.dismiss_reason,
        triaged_by=alert.triaged_by,
    )


class AlertsStore(StoreBase):
    def create_alert(
        self, article_id: int, score_id: int, draft: AlertDraft, letter_cap: int = 3
    ) -> int | None:
        """Raise an alert with its first letter draft; None if the article already has one.
        *letter_cap* is how many responders may write to the outlet about it."""
        now = utcnow()
        try:
            with self.sessions.begin() as s:
                if s.scalar(select(Alert.id).where(Alert.article_id == article_id)) is not None:
                    return None
                alert = Alert(
                    article_id=article_id,
                    score_id=score_id,
                    kind=draft.kind,
                    severity=draft.severity,
                    priority=draft.priority,
                    categories=list(draft.categories),
                    summary=draft.summary,
                    evidence=[e.as_stored() for e in draft.evidence],
                    letter_cap=letter_cap,
                    created_at=now,
                    updated_at=now,
                )
                s.add(alert)
                s.flush()
                d = draft.letter
                s.add(
                    Letter(
                        alert_id=alert.id,
                        is_draft=True,
                        language=d.language,
                        recipient=d.recipient,
                        subject=d.subject,
                        body=d.body,
                        word_count=d.word_count,
                        word_limit=d.word_limit,
                        created_at=now,
                    )
                )
                s.add(
                    self._audit_row(
                        "pipeline",
                        "alert_raised",
                        "alert",
                        alert.id,
                        {"article_id": article_id, "kind": draft.kind},
                    )
                )
                return alert.id
        except IntegrityError:  # another process raised it first
            return None

    def list_alerts(
        self,
        status: str | Sequence[str] | None = None,
        outlet: str | None = None,
        category: str | None = None,
        language: str | None = None,
        kind: str | None = None,
        limit: int = 200,
        offset: int = 0,
        min_priority: float | None = None,
    ) -> list[AlertView]:
        """Alerts by priority, highest first, with optional filters (all done in SQL)."""
        q = _alert_query()
        if isinstance(status, str) and status:
            q = q.where(Alert.status == status)
        elif status and not isinstance(status, str):
            q = q.where(Alert.status.in_(list(status)))
        if outlet:
            q = q.where(Article.outlet_id == outlet)
        if language:
            q = q.where(Article.language == language)
        if kind:
            q = q.where(Alert.kind == kind)
        if category:  # categories is a JSON list of ids: match the quoted id
            q = q.where(cast(Alert.categories, String).like(f'%"{category}"%'))
        if min_priority is not None:
            q = q.where(Alert.priority >= min_priority)
        q = q.order_by(Alert.priority.desc(), Alert.id.desc()).limit(limit).offset(offset)
        with self.session() as s:
            return [_view(*row) for row in s.execute(q)]

    def alert_outcomes(self, alert_id: int) -> list[dict[str, Any]]:
        """Outcomes recorded for an alert, candidates (to be confirmed by an analyst) included."""
        with self.session() as s:
            rows = s.scalars(select(Outcome).where(Outcome.alert_id == alert_id).order_by(Outcome.id))
            return [
                {
                    "id": o.id,
                    "kind": o.kind,
                    "note": o.note,
                    "confirmed": o.confirmed,
                    "version_id": o.version_id,
                    "created_at": o.created_at,
                }
                for o in rows
            ]

    def alert_detail(self, alert_id: int, viewer: UserView | None = None) -> AlertDetail | None:
        """The alert with its article, scores and letters. With a *viewer* who is a responder,
        other responders' unsent drafts are left out unless shared."""
        with self.session() as s:
            row = s.execute(_alert_query().where(Alert.id == alert_id)).first()
            if row is None:
                return None
            alert, article, outlet = row
            score = s.get_one(ScoreRow, alert.score_id)
            q = select(Letter, User.name, User.email).outerjoin(User, User.id == Letter.user_id)
            q = q.where(Letter.alert_id == alert_id).order_by(Letter.user_id.is_not(None), Letter.id)
            if viewer is not None and not viewer.can("analyst"):  # a responder's drafts are theirs
                q = q.where(
                    or_(
                        Letter.user_id.is_(None), Letter.user_id == viewer.id, Letter.shared, ~Letter.is_draft
                    )
                )
            letters = s.execute(q)
            return AlertDetail(
                alert=_view(alert, article, outlet),
                text=article.text,
                evidence=list(alert.evidence),
                scores=dict(score.categories),
                relevance=score.relevance,
                letters=[
                    LetterView(
                        x.id,
                        x.language,
                        x.recipient,
                        x.subject,
                        x.body,
                        x.word_count,
                        x.word_limit,
                        x.is_draft,
                        x.user_id,
                        (name or email) if x.user_id is not None else None,
                        x.shared,
                        x.sent_at,
                    )
                    for x, name, email in letters
                ],
                outlet_config=dict(outlet.config),
                wire=load_wire_copy(s, article.cluster_id) if article.cluster_id is not None else None,
                wire_agency=article.wire_agency,
                page=ArticlePage(
                    article.section,
                    article.updated_on,
                    article.paywalled,
                    article.partial,
                    article.partial_reason,
                    article.status,
                ),
            )

    def export_articles(self) -> Iterator[dict[str, Any]]:
        """Every article with its latest score and alert, streamed in id order."""
        latest = (
            select(ScoreRow.article_id, func.max(ScoreRow.id).label("score_id"))
            .group_by(ScoreRow.article_id)
            .subquery()
        )
        q = (
            select(Article, ScoreRow, Alert.id, Alert.status, Alert.kind)
            .outerjoin(latest, latest.c.article_id == Article.id)
            .outerjoin(ScoreRow, ScoreRow.id == latest.c.score_id)
            .outerjoin(Alert, Alert.article_id == Article.id)
            .order_by(Article.id)
            .execution_options(yield_per=500)
        )
        with self.session() as s:
            for article, score, alert_id, alert_status, alert_kind in s.execute(q):
                yield {
                    "article": article,
                    "score": score,
                    "alert_id": alert_id,
                    "alert_status": alert_status,
                    "alert_kind": alert_kind,
                }
