"""Score an article: relevance, issue categories and evidence, from the model and the rules.

A category's probability combines the model's with the rules' evidence as a noisy-OR:
``1 - (1 - p_model) * prod(1 - weight)`` over the rules that fired for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import casualty
from .classify import Classifier, load_classifier
from .facts import article_facts
from .language import detect_language
from .records import CATEGORIES, COMPLAINT_CATEGORIES, Evidence, Score, ScoreInput
from .rules import RuleSet, load_rules
from .sentences import SOURCE as CASUALTY_SOURCE
from .sentences import article_findings, casualty_sentences, split_sentences
from .sourcing import SOURCE as SOURCING_SOURCE
from .sourcing import quotes, sourcing_evidence

if TYPE_CHECKING:
    from .settings import Settings

SOURCING_WEIGHT = 0.4  # one finding per article (pipeline/sourcing.py), counted once
# weights of the casualty model's findings (pipeline/sentences.py article_findings); a category's
# findings count once each, like rule matches
CASUALTY_WEIGHTS = {"agentless_casualties": 0.35, "double_standard": 0.4, "headline_framing": 0.4}
DEFAULT_WEIGHT = 0.35


@dataclass(frozen=True, slots=True)
class Thresholds:
    relevance: float = 0.5
    alert: float = 0.5
    praise: float = 0.7
    model_only: float = 0.7  # a category no rule supports needs this much model confidence
    per_category: Mapping[str, float] = field(default_factory=dict)

    def for_category(self, category: str) -> float:
        default = self.praise if category == "good_coverage" else self.alert
        return self.per_category.get(category, default)


def _noisy_or(p_model: float, weights: list[float]) -> float:
    miss = 1.0 - p_model
    for w in weights:
        miss *= 1.0 - w
    return 1.0 - miss


def _kind(relevant: bool, flagged: bool, praised: bool) -> str | None:
    """Praise when good coverage outweighs every problem found; else complaint when flagged."""
    if not relevant:
        return None
    if praised:
        return "praise"
    return "complaint" if flagged else None


class Scorer:
    """Holds the loaded model and compiled rules; ``score_many`` batches the model calls."""

    def __init__(self, classifier: Classifier, rules: RuleSet, thresholds: Thresholds) -> None:
        self.classifier = classifier
        self.rules = rules
        self.thresholds = thresholds

    def score(self, item: ScoreInput) -> Score:
        return self.score_many([item])[0]

    def score_many(self, items: list[ScoreInput]) -> list[Score]:
        docs = [f"{i.title}\n{i.text}" for i in items]
        predictions = self.classifier.predict(docs) if docs else []
        return [self._combine(i, rel, cats) for i, (rel, cats) in zip(items, predictions, strict=True)]

    def _combine(self, item: ScoreInput, relevance: float, model: dict[str, float]) -> Score:
        language = item.language or detect_language(f"{item.title}\n{item.text}") or "en"
        relevant = relevance >= self.thresholds.relevance
        evidence = self.rules.match(item.title, item.text, language)
        found = casualty_sentences(item.text, item.title)
        evidence += article_findings(item.title, item.text, found)
        quoted = quotes(item.text, language) if relevant else None  # counted for reports
        evidence += sourcing_evidence(item.title, item.text, language, quoted)
        weights: dict[str, list[float]] = {}
        for ev in evidence:
            weights.setdefault(ev.category, []).append(self._weight(ev))
        categories = {c: _noisy_or(model.get(c, 0.0), weights.get(c, [])) for c in CATEGORIES}
        flagged = [
            c
            for c in COMPLAINT_CATEGORIES
            if categories[c] >= self.thresholds.for_category(c)
            and (c in weights or categories[c] >= self.thresholds.model_only)
        ]
        worst = max((categories[c] for c in COMPLAINT_CATEGORIES), default=0.0)
        good = categories["good_coverage"]
        kind = _kind(
            relevant, bool(flagged), good >= self.thresholds.for_category("good_coverage") and good > worst
        )
        severity = good if kind == "praise" else worst
        chosen = flagged if kind == "complaint" else ["good_coverage"] if kind else []
        evidence = [e for e in evidence if e.category in chosen] if kind else evidence
        evidence += self._model_evidence(item.text, chosen, evidence)
        return Score(
            id=item.id,
            relevant=relevant,
            relevance=relevance,
            categories=categories,
            alert=kind is not None,
            kind=kind,
            severity=severity if relevant else 0.0,
            evidence=evidence,
            model_version=self.classifier.version,
            facts=article_facts(item.title, item.text, language, found, quoted) if relevant else None,
        )

    def _weight(self, ev: Evidence) -> float:
        if ev.source == SOURCING_SOURCE:
            return SOURCING_WEIGHT
        if ev.source == CASUALTY_SOURCE:
            return CASUALTY_WEIGHTS.get(ev.category, DEFAULT_WEIGHT)
        rule = self.rules.by_id.get(ev.source.removeprefix("rule:"))
        return rule.spec.weight if rule else DEFAULT_WEIGHT

    def _model_evidence(self, text: str, chosen: list[str], have: list[Evidence]) -> list[Evidence]:
        """For flagged categories no rule explains, quote the sentence the model rates highest."""
        missing = [c for c in chosen if not any(e.category == c for e in have)]
        spans = split_sentences(text) if missing else []
        if not spans:
            return []
        preds = self.classifier.predict([text[a:b] for a, b in spans])
        out = []
        for c in missing:
            best = max(range(len(spans)), key=lambda k: preds[k][1].get(c, 0.0))
            a, b = spans[best]
            out.append(
                Evidence(
                    c,
                    text[a:b],
                    a,
                    b,
                    "model",
                    "The classifier rates this sentence highest for this category.",
                )
            )
        return out


def build_scorer(settings: Settings, rules: RuleSet | None = None) -> Scorer:
    """The shipped classifier and the rules, with the thresholds from *settings*."""
    thresholds = Thresholds(
        relevance=settings.relevance_threshold,
        alert=settings.alert_threshold,
        praise=settings.praise_threshold,
        model_only=settings.model_only_threshold,
        per_category=dict(settings.category_thresholds),
    )
    rules = rules or load_rules(settings.alerts_dir / "rules.yaml")
    casualty.use_models_dir(settings.models_dir)
    casualty.get_model()  # a damaged casualty model is an error now, not mid-run
    return Scorer(load_classifier(settings.models_dir), rules, thresholds)
