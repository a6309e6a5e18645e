"""People's verdicts on alerts, kept as labels the classifier learns from (`mediawatch train`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..errors import InputError
from ..records import CATEGORIES
from .base import StoreBase, utcnow
from .schema import Alert, Article, Verdict

VERDICTS = ("valid", "not_valid", "wrong_category")


class LabelsStore(StoreBase):
    def record_verdict(
        self,
        alert_id: int,
        verdict: str,
        by: str,
        categories: list[str] | None = None,
        relevant: bool = True,
        note: str = "",
    ) -> int:
        """Store a judgement of an alert: ``valid`` (its categories apply), ``not_valid`` (none of
        them does; ``relevant=False`` when the article is off-topic too) or ``wrong_category``
        (*categories* are the ones that apply). The latest verdict on an article is its label."""
        verdict = verdict.replace("-", "_")
        if verdict not in VERDICTS:
            raise InputError(f"verdict: '{verdict}' is not one of {', '.join(VERDICTS)}")
        unknown = [c for c in categories or [] if c not in CATEGORIES]
        if unknown:
            raise InputError(f"category: unknown {', '.join(unknown)} (known: {', '.join(CATEGORIES)})")
        if verdict == "wrong_category" and not categories:
            raise InputError("category: a wrong_category verdict needs the categories that do apply")
        if verdict != "wrong_category" and categories:
            raise InputError(f"category: only a wrong_category verdict takes categories, not {verdict}")
        if not by.strip():
            raise InputError("by: say who gives the verdict")
        with self.sessions.begin() as s:
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise InputError(f"alert {alert_id}: no such alert")
            labels = list(alert.categories) if verdict == "valid" else list(categories or [])
            row = Verdict(
                article_id=alert.article_id,
                alert_id=alert_id,
                verdict=verdict,
                relevant=relevant or verdict != "not_valid",
                categories=labels,
                by=by.strip()[:200],
                note=note,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            detail = {"verdict": verdict, "categories": labels, "relevant": row.relevant}
            s.add(self._audit_row(by.strip()[:200], "verdict", "alert", alert_id, detail))
            return row.id

    def verdicts(self, alert_id: int) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(Verdict).where(Verdict.alert_id == alert_id).order_by(Verdict.id))
            return [
                {
                    "id": v.id,
                    "verdict": v.verdict,
                    "relevant": v.relevant,
                    "categories": list(v.categories),
                    "by": v.by,
                    "note": v.note,
                    "created_at": v.created_at,
                }
                for v in rows
            ]

    def labelled_article_ids(self) -> set[int]:
        with self.session() as s:
            return set(s.scalars(select(Verdict.article_id).distinct()))

    def training_labels(self) -> list[dict[str, Any]]:
        """One labelled document per judged article (its latest verdict), in the corpus format
        ``{id, language, title, text, relevant, categories}``; ids are ``verdict-<article id>``."""
        latest = select(func.max(Verdict.id)).group_by(Verdict.article_id).scalar_subquery()
        q = (
            select(Verdict, Article)
            .join(Article, Article.id == Verdict.article_id)
            .where(Verdict.id.in_(latest))
            .order_by(Verdict.article_id)
        )
        with self.session() as s:
            return [
                {
                    "id": f"verdict-{a.id}",
                    "language": a.language or "en",
                    "title": a.title,
                    "text": a.text,
                    "relevant": v.relevant,
                    "categories": [c for c in v.categories if c in CATEGORIES] if v.relevant else [],
                }
                for v, a in s.execute(q)
            ]
