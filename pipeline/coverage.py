"""Coverage reports (``mediawatch report``, the web app's Reports page): what the coverage looked
like in a period, what the team did about it and what changed, as one self-contained HTML file
(charts are inline SVG drawn by matplotlib) or a PDF of it (headless Chromium).

The totals come from the export's own queries and filters (``pipeline.store.exports``), so the
report's article and alert counts equal the rows of ``mediawatch export`` for the same filters.
Casualty language and quotes are counted when an article is scored and stored with the score
(``pipeline.facts``); the report sums them in SQL, and counts at report time only the relevant
articles scored before those counts were kept.
"""

from __future__ import annotations

import heapq
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from . import facts
from .errors import InputError
from .facts import SIDES
from .records import CATEGORIES

if TYPE_CHECKING:
    from .store import Store
    from .store.exports import ExportFilters

CHROMIUM = Path("/usr/bin/chromium")
TEMPLATES = Path(__file__).parent / "templates_report"
LANGUAGES = ("en", "fr")
FORMATS = ("html", "pdf")
CATEGORY_MIN = 0.5  # a relevant article "has" a category when its probability is at least this
EXAMPLES = 5
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
OPENED = frozenset({"open", "claimed", "sent", "closed"})

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Coverage report",
        "period": "Period",
        "generated": "Generated",
        "outlets_all": "all outlets",
        "empty": "No articles in this period.",
        "summary": "Summary",
        "articles": "Articles",
        "relevant": "Relevant articles",
        "alerts": "Alerts",
        "outlet": "Outlet",
        "volume": "Coverage volume by outlet",
        "volume_note": "Articles per week (weeks start on Monday, UTC).",
        "week": "Week",
        "categories": "Issue categories by outlet",
        "categories_note": "Share of relevant articles with each issue category.",
        "casualty": "Casualty language by outlet",
        "casualty_note": (
            "Share of sentences reporting Palestinian deaths or injuries that name no perpetrator, "
            "against the same share for Israeli deaths or injuries."
        ),
        "pal_sentences": "Palestinian-casualty sentences",
        "pal_agentless": "naming no perpetrator",
        "isr_sentences": "Israeli-casualty sentences",
        "isr_agentless": "naming no perpetrator",
        "pal_share": "Palestinian: no perpetrator",
        "isr_share": "Israeli: no perpetrator",
        "sourcing": "Who gets quoted",
        "sourcing_note": "Attributed quotes in relevant articles, by the speaker's side.",
        "israeli": "Israeli",
        "palestinian": "Palestinian",
        "independent": "Independent",
        "other": "Other",
        "funnel": "From alert to outcome",
        "raised": "Alerts raised",
        "opened": "Opened to responders",
        "claimed": "Claimed by a responder",
        "letters": "Letters sent",
        "outcomes": "Outcomes achieved",
        "no_outcomes": "No outcome recorded.",
        "examples": "Notable examples",
        "no_examples": "No alert in this period.",
        "severity": "severity",
        "method": "Method",
        "share": "share",
        "count": "count",
        "none": "—",
        "letter_published": "Letter published",
        "correction": "Correction",
        "editors_note": "Editor's note",
        "headline_changed": "Headline changed",
        "reply_received": "Reply received",
        "no_response": "No response",
        "method_text": (
            "Articles are those published in the period (UTC; the end date is included) by the "
            "outlets shown, counted with the same query and filters as `mediawatch export "
            "--dataset articles`; alerts likewise with `--dataset alerts`, so the totals here equal "
            "the export's rows. An article is relevant when its latest score says so; it has an "
            "issue category when the latest score gives that category a probability of at least "
            "{cat_min}. Casualty language is computed when the report is made: every sentence of "
            "a relevant article with a death or injury word is labelled by the trained casualty "
            "model (victim and named perpetrator; pipeline.sentences), since per-sentence labels "
            "are not stored. Quotes are attributions to speakers the gazetteer knows "
            "(pipeline.sourcing). The funnel follows the period's alerts: opened means approved "
            "for responders, claimed means at least one responder took it, letters are letters "
            "reported sent, outcomes are those recorded for these alerts."
        ),
    },
    "fr": {
        "title": "Rapport de couverture",
        "period": "Période",
        "generated": "Produit le",
        "outlets_all": "tous les médias",
        "empty": "Aucun article pendant cette période.",
        "summary": "Résumé",
        "articles": "Articles",
        "relevant": "Articles pertinents",
        "alerts": "Alertes",
        "outlet": "Média",
        "volume": "Volume de couverture par média",
        "volume_note": "Articles par semaine (semaines commençant le lundi, UTC).",
        "week": "Semaine",
        "categories": "Catégories de problèmes par média",
        "categories_note": "Part des articles pertinents présentant chaque catégorie de problème.",
        "casualty": "Langage des victimes par média",
        "casualty_note": (
            "Part des phrases rapportant des morts ou des blessés palestiniens qui ne nomment aucun "
            "auteur, comparée à la même part pour les morts ou blessés israéliens."
        ),
        "pal_sentences": "Phrases sur des victimes palestiniennes",
        "pal_agentless": "sans auteur nommé",
        "isr_sentences": "Phrases sur des victimes israéliennes",
        "isr_agentless": "sans auteur nommé",
        "pal_share": "Palestiniens : sans auteur",
        "isr_share": "Israéliens : sans auteur",
        "sourcing": "Qui est cité",
        "sourcing_note": "Citations attribuées dans les articles pertinents, selon le camp de la source.",
        "israeli": "Israélien",
        "palestinian": "Palestinien",
        "independent": "Indépendant",
        "other": "Autre",
        "funnel": "De l’alerte au résultat",
        "raised": "Alertes levées",
        "opened": "Ouvertes aux répondants",
        "claimed": "Prises en charge",
        "letters": "Lettres envoyées",
        "outcomes": "Résultats obtenus",
        "no_outcomes": "Aucun résultat enregistré.",
        "examples": "Exemples notables",
        "no_examples": "Aucune alerte pendant cette période.",
        "severity": "gravité",
        "method": "Méthode",
        "share": "part",
        "count": "nombre",
        "none": "—",
        "letter_published": "Lettre publiée",
        "correction": "Rectificatif",
        "editors_note": "Note de la rédaction",
        "headline_changed": "Titre modifié",
        "reply_received": "Réponse reçue",
        "no_response": "Pas de réponse",
        "method_text": (
            "Les articles sont ceux publiés pendant la période (UTC ; la date de fin est incluse) "
            "par les médias indiqués, comptés avec la même requête et les mêmes filtres que "
            "« mediawatch export --dataset articles » ; les alertes de même avec « --dataset "
            "alerts » : les totaux ci-dessus égalent les lignes de l’export. Un article est "
            "pertinent si son dernier score le dit ; il présente une catégorie si ce score lui "
            "donne une probabilité d’au moins {cat_min}. Le langage des victimes est calculé à la "
            "production du rapport : chaque phrase d’un article pertinent contenant un mot de mort "
            "ou de blessure est étiquetée par le modèle entraîné (victime et auteur nommé ; "
            "pipeline.sentences), les étiquettes par phrase n’étant pas conservées. Les citations "
            "sont les attributions à des sources connues du répertoire (pipeline.sourcing). "
            "L’entonnoir suit les alertes de la période : ouverte signifie approuvée pour les "
            "répondants, prise en charge signifie qu’au moins un répondant l’a réclamée ; les "
            "lettres sont celles déclarées envoyées, les résultats ceux enregistrés pour ces alertes."
        ),
    },
}


@dataclass
class OutletStats:
    outlet: str
    name: str
    articles: int = 0
    relevant: int = 0
    alerts: int = 0
    weeks: Counter[date] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    pal_sentences: int = 0
    pal_agentless: int = 0
    isr_sentences: int = 0
    isr_agentless: int = 0
    quotes: Counter[str] = field(default_factory=Counter)

    def category_share(self, category: str) -> float | None:
        return self.categories[category] / self.relevant if self.relevant else None

    @property
    def pal_share(self) -> float | None:
        return self.pal_agentless / self.pal_sentences if self.pal_sentences else None

    @property
    def isr_share(self) -> float | None:
        return self.isr_agentless / self.isr_sentences if self.isr_sentences else None


@dataclass
class Example:
    alert_id: int
    outlet: str
    title: str
    url: str
    published: datetime | None
    severity: float
    categories: list[str]
    quotes: list[str]


@dataclass
class ReportData:
    start: datetime
    end: datetime  # exclusive
    outlets_filter: tuple[str, ...]
    outlets: list[OutletStats]
    alerts: int = 0
    opened: int = 0
    claimed: int = 0
    letters: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)
    weeks: list[date] = field(default_factory=list)

    @property
    def articles(self) -> int:
        return sum(o.articles for o in self.outlets)

    @property
    def relevant(self) -> int:
        return sum(o.relevant for o in self.outlets)


def report_filters(start: datetime, end: datetime, outlets: Iterable[str] = ()) -> ExportFilters:
    """The export's filters for a report period (*end* exclusive)."""
    from .store.exports import ExportFilters

    return ExportFilters(start=start, end=end, outlets=tuple(outlets), text="full")


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _monday_of(when: datetime) -> date:
    return _monday(when.astimezone(UTC).date())


def _as_date(day: date | str) -> date:
    """A day from the database: a date (PostgreSQL) or ISO text (SQLite's date())."""
    return day if isinstance(day, date) else date.fromisoformat(day)


def _add_facts(stats: OutletStats, counts: dict[str, int]) -> None:
    stats.pal_sentences += counts["pal_sentences"]
    stats.pal_agentless += counts["pal_agentless"]
    stats.isr_sentences += counts["isr_sentences"]
    stats.isr_agentless += counts["isr_agentless"]
    for side in SIDES:
        stats.quotes[side] += counts[f"quotes_{side}"]


def _example(row: dict[str, Any], outlet_name: str) -> Example:
    return Example(
        row["alert_id"],
        outlet_name,
        row["title"] or "",
        row["url"],
        row["published"],
        float(row["severity"]),
        [str(c) for c in row["categories"] or []],
        [str(e.get("quote", "")) for e in row["evidence"] or [] if e.get("quote")][:3],
    )


def _count_articles(store: Store, f: ExportFilters, stats: Callable[[str], OutletStats]) -> None:
    """Articles, relevant articles, weeks, categories and stored facts per outlet, grouped in SQL."""
    unfacted = 0
    for row in store.coverage_counts(f, CATEGORIES, CATEGORY_MIN, facts.KEYS):
        o = stats(row["outlet"])
        o.articles += row["articles"]
        o.relevant += row["relevant"]
        if row["day"] is not None:
            o.weeks[_monday(_as_date(row["day"]))] += row["articles"]
        for c in CATEGORIES:
            o.categories[c] += row[f"cat:{c}"]
        _add_facts(o, {k: int(row[f"fact:{k}"]) for k in facts.KEYS})
        unfacted += row["unfacted"]
    if unfacted:  # scored before facts were stored: count them now, as the scorer would have
        for row in store.unfacted_texts(f):
            text = row["text"] or ""
            _add_facts(stats(row["outlet"]), facts.article_facts(row["title"] or "", text, row["language"]))


def build(store: Store, start: datetime, end: datetime, outlets: Iterable[str] = ()) -> ReportData:
    """Gather a period's numbers (*end* exclusive): article counts grouped in SQL over the
    export's own query, then the relevant articles' casualty language and quotes, then the
    alerts, letters and outcomes streamed once each."""
    f = report_filters(start, end, outlets)
    names = dict(store.outlet_names())
    by: dict[str, OutletStats] = {}

    def stats(outlet: str) -> OutletStats:
        if outlet not in by:
            by[outlet] = OutletStats(outlet, names.get(outlet, outlet))
        return by[outlet]

    _count_articles(store, f, stats)

    data = ReportData(start, end, tuple(outlets), [])
    top: list[tuple[float, int, Example]] = []
    alert_ids: list[int] = []
    for row in store.coverage_rows(replace(f, text="none"), "alerts"):
        stats(row["outlet"]).alerts += 1
        data.alerts += 1
        alert_ids.append(row["alert_id"])
        data.opened += row["status"] in OPENED
        ex = _example(row, names.get(row["outlet"], row["outlet"]))
        item = (ex.severity, -ex.alert_id, ex)
        if len(top) < EXAMPLES:
            heapq.heappush(top, item)
        else:
            heapq.heappushpop(top, item)
    data.examples = [e for _s, _i, e in sorted(top, key=lambda t: (t[0], t[1]), reverse=True)]
    data.claimed = store.claimed_alert_count(alert_ids)
    data.letters = sum(1 for _ in store.coverage_rows(f, "letters"))
    data.outcomes = Counter(r["kind"] for r in store.coverage_rows(f, "outcomes"))
    data.outlets = sorted(by.values(), key=lambda o: o.name.lower())
    week, last = _monday_of(start), _monday_of(end - timedelta(microseconds=1))
    while week <= last:
        data.weeks.append(week)
        week += timedelta(days=7)
    return data


# -- charts -----------------------------------------------------------------------------------


def _svg(fig: Any) -> Markup:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = _METADATA.sub("", buf.getvalue())
    return Markup(text[text.index("<svg") :])  # matplotlib's own SVG (it escapes labels)


def _figure(width: float = 8.0, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "path"  # text as paths: no font needed where the file is opened
    fig, ax = plt.subplots(figsize=(width, height))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _bars(
    labels: list[str],
    series: list[tuple[str, list[float]]],
    ylabel: str,
    percent: bool,
    stacked: bool = False,
) -> Markup:
    fig, ax = _figure()
    n = max(len(series), 1)
    width = 0.8 if stacked else 0.8 / n
    bottom = [0.0] * len(labels)
    for i, (name, values) in enumerate(series):
        xs = (
            list(range(len(labels))) if stacked else [x - 0.4 + width * (i + 0.5) for x in range(len(labels))]
        )
        ax.bar(xs, values, width, label=name, bottom=bottom if stacked else None)
        if stacked:
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    if len(series) > 1:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def category_labels(language: str) -> dict[str, str]:
    """Each category's name in the report's language, as the web app shows it, capitalised."""
    from .letters import LABELS

    return {c: v[:1].upper() + v[1:] for c, v in LABELS[language].items()}


def charts(data: ReportData, t: dict[str, str], labels: dict[str, str]) -> dict[str, Markup]:
    names = [o.name for o in data.outlets]
    fig, ax = _figure()
    for o in data.outlets:
        ax.plot(data.weeks, [o.weeks[w] for w in data.weeks], marker="o", label=o.name)
    ax.set_ylabel(t["articles"])
    ax.set_xlabel(t["week"])
    ax.set_xticks(data.weeks, [w.isoformat() for w in data.weeks], rotation=20, ha="right")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    out = {"volume": _svg(fig)}
    cats = [c for c in CATEGORIES if any(o.categories[c] for o in data.outlets)]
    out["categories"] = _bars(
        names,
        [(labels.get(c, c), [o.category_share(c) or 0.0 for o in data.outlets]) for c in cats]
        or [("", [0.0] * len(names))],
        t["share"],
        True,
    )
    out["casualty"] = _bars(
        names,
        [
            (t["pal_share"], [o.pal_share or 0.0 for o in data.outlets]),
            (t["isr_share"], [o.isr_share or 0.0 for o in data.outlets]),
        ],
        t["share"],
        True,
    )
    out["sourcing"] = _bars(
        names, [(t[s], [float(o.quotes[s]) for o in data.outlets]) for s in SIDES], t["count"], False, True
    )
    funnel = [t["raised"], t["opened"], t["claimed"], t["letters"], t["outcomes"]]
    values = [data.alerts, data.opened, data.claimed, data.letters, sum(data.outcomes.values())]
    out["funnel"] = _bars(funnel, [("", [float(v) for v in values])], t["count"], False)
    return out


# -- rendering --------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.0%}"
    return env


def render_html(data: ReportData, language: str = "en", generated: datetime | None = None) -> str:
    """The report as one self-contained HTML document."""
    if language not in LANGUAGES:
        raise InputError(f"--language: '{language}' is not en or fr")
    t = TEXT[language]
    labels = category_labels(language)
    return (
        _environment()
        .get_template("report.html")
        .render(
            d=data,
            t=t,
            lang=language,
            categories=[c for c in CATEGORIES if any(o.categories[c] for o in data.outlets)],
            sides=SIDES,
            labels=labels,
            charts=charts(data, t, labels) if data.articles else {},
            end_day=(data.end - timedelta(days=1)).date()
            if data.end.time() == datetime.min.time()
            else data.end,
            generated=(generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            method=t["method_text"].format(cat_min=CATEGORY_MIN),
        )
    )


def html_to_pdf(html: str) -> bytes:
    """The HTML printed to PDF by headless Chromium (/usr/bin/chromium)."""
    if not CHROMIUM.is_file():
        raise InputError(f"{CHROMIUM}: Chromium not found; it is needed for --format pdf")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, margin={"top": "1cm", "bottom": "1cm"})
        finally:
            browser.close()


def generate(
    store: Store,
    start: datetime,
    end: datetime,
    output: Path,
    outlets: Iterable[str] = (),
    language: str = "en",
    fmt: str = "html",
) -> ReportData:
    """Build, render and write a report to *output* (atomically)."""
    from .outfile import write_bytes_atomically

    if fmt not in FORMATS:
        raise InputError(f"--format: '{fmt}' is not html or pdf")
    if language not in LANGUAGES:
        raise InputError(f"--language: '{language}' is not en or fr")
    if end <= start:
        raise InputError("--to: the period ends before it starts")
    data = build(store, start, end, outlets)
    html = render_html(data, language)
    body = html_to_pdf(html) if fmt == "pdf" else html.encode("utf-8")
    write_bytes_atomically(output, body)
    return data
