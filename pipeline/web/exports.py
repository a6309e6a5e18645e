"""Exports for analysts on the web: ``GET /exports`` (a form) and ``GET /exports/download`` (the
file). CSV and JSON Lines stream as they are read; Parquet and XLSX are written to a temporary
file, sent, then deleted. The filters, columns and neutralisation are the CLI's
(``mediawatch export``); a bad value is a 422 naming the field."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from ..errors import InputError
from ..exports import DATASETS, FORMATS, TEXT_MODES, export, filters_from_options, stream_text
from ..settings import Settings
from ..store import Store
from ..store.exports import ExportFilters
from ..store.workspace import STATUSES as ALERT_STATUSES
from .auth import Analyst
from .i18n import FR as _FR

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# the CLI's option names, as the form's fields
FIELDS = {
    "--from": "from",
    "--to": "to",
    "--outlet": "outlet",
    "--language": "language",
    "--category": "category",
    "--min-score": "min_score",
    "--alert-status": "alert_status",
    "--text": "text",
    "--query": "q",
}

FR: dict[str, str] = {
    "Exports": "Exports",
    "Export data": "Exporter des données",
    "Dataset": "Jeu de données",
    "Format": "Format",
    "Article text": "Texte des articles",
    "Full-text query": "Recherche plein texte",
    "Download": "Télécharger",
    "articles": "articles",
    "alerts": "alertes",
    "letters": "lettres",
    "outcomes": "résultats",
    "none": "aucun",
    "excerpt": "extrait",
    "full": "complet",
    "Columns are described in the data dictionary (docs/exports.md). Cells that would run as "
    "formulas are prefixed with an apostrophe in CSV and XLSX.": (
        "Les colonnes sont décrites dans le dictionnaire de données (docs/exports.md). Les cellules "
        "qui s’exécuteraient comme des formules sont précédées d’une apostrophe en CSV et XLSX."
    ),
}
_FR.update(FR)

Short = Annotated[str, Query(max_length=40)]
Many = Annotated[list[str] | None, Query(max_length=200)]


def filters_from(
    store: Store,
    date_from: str,
    date_to: str,
    outlet: list[str] | None,
    language: str,
    category: list[str] | None,
    min_score: str,
    alert_status: str,
    q: str,
    text: str,
) -> ExportFilters:
    """The export's filters from the form (empty fields are no filter); InputError names the field."""
    outlets = tuple(o for o in outlet or [] if o)
    try:
        f = filters_from_options(
            date_from or None,
            date_to or None,
            outlets,
            language or None,
            tuple(c for c in category or [] if c),
            min_score or None,
            alert_status or None,
            text,
            q if q.strip() else None,
        )
    except InputError as exc:
        option, _, rest = str(exc).partition(":")
        raise InputError(f"{FIELDS.get(option, option)}:{rest}") from None
    known = dict(store.outlet_names())
    for o in outlets:
        if o not in known:
            raise InputError(f"outlet: unknown outlet '{o}'")
    return f


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Add the export form and its download."""

    @app.get("/exports", response_class=HTMLResponse, include_in_schema=False)
    def exports_page(request: Request, _user: Analyst) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "exports.html",
            {
                "f": {"outlet": "", "category": "", "language": ""},
                "datasets": DATASETS,
                "formats": FORMATS,
                "text_modes": TEXT_MODES,
                "statuses": ALERT_STATUSES,
                "outlets": store.outlet_names(),
            },
        )

    @app.get("/exports/download")
    def download(
        _user: Analyst,
        dataset: Short = "articles",
        fmt: Annotated[str, Query(alias="format", max_length=10)] = "csv",
        date_from: Annotated[str, Query(alias="from", max_length=32)] = "",
        date_to: Annotated[str, Query(alias="to", max_length=32)] = "",
        outlet: Many = None,
        language: Short = "",
        category: Many = None,
        min_score: Short = "",
        alert_status: Short = "",
        q: Annotated[str, Query(max_length=500)] = "",
        text: Short = "excerpt",
    ) -> Any:
        """One export file (attachment): *dataset* in *format* with the filters of ``mediawatch
        export`` (``q`` is its ``--query``; columns in docs/exports.md)."""
        if dataset not in DATASETS:
            raise HTTPException(422, f"dataset: unknown dataset '{dataset}' (known: {', '.join(DATASETS)})")
        if fmt not in FORMATS:
            raise HTTPException(422, f"format: unknown format '{fmt}' (known: {', '.join(FORMATS)})")
        f = filters_from(
            store, date_from, date_to, outlet, language, category, min_score, alert_status, q, text
        )
        name = f"mediawatch-{dataset}-{datetime.now(UTC):%Y%m%d-%H%M%S}.{fmt}"
        if fmt in ("csv", "jsonl"):
            return _streamed(store, dataset, fmt, f, name)
        folder = Path(tempfile.mkdtemp(prefix="mediawatch-export-"))
        try:
            export(store.export_articles(f, dataset), folder / name, dataset, fmt, f.text)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            folder / name,
            media_type=MEDIA_TYPES[fmt],
            filename=name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )


def _streamed(store: Store, dataset: str, fmt: str, f: ExportFilters, name: str) -> StreamingResponse:
    chunks: Iterator[bytes] = stream_text(store.export_articles(f, dataset), dataset, fmt, f.text)
    first = next(chunks, b"")  # run the query before the headers go, so its errors are a status
    return StreamingResponse(
        chain([first], chunks),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
