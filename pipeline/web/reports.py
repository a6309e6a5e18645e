"""Reports page for analysts: ``GET /reports`` lists the coverage reports in
``settings.data_dir / "reports"``, ``GET /reports/{name}`` serves one (safe names only, as an
attachment), ``POST /reports`` generates one for a period (``pipeline.coverage``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import InputError
from ..settings import Settings
from ..store import Store
from .auth import Analyst
from .i18n import FR as _FR

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(?:html|pdf)$")
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}

FR: dict[str, str] = {
    "Reports": "Rapports",
    "Coverage reports": "Rapports de couverture",
    "Generate a report": "Produire un rapport",
    "Report language": "Langue du rapport",
    "Format": "Format",
    "Generate": "Produire",
    "No report yet.": "Aucun rapport pour l’instant.",
    "Size": "Taille",
    "Created": "Créé",
}
_FR.update(FR)


def _day(name: str, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"{name}: '{value}' is not a date like 2026-11-01") from None


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Add the Reports page, its downloads and the form that generates a report."""

    def folder() -> Path:
        return settings.data_dir / "reports"

    def listing() -> list[dict[str, object]]:
        d = folder()
        if not d.is_dir():
            return []
        files = [p for p in d.iterdir() if p.is_file() and SAFE_NAME.match(p.name)]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [
            {
                "name": p.name,
                "size": p.stat().st_size,
                "created": datetime.fromtimestamp(p.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M"),
            }
            for p in files
        ]

    def page(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "reports.html",
            {"reports": listing(), "error": error, "outlets": store.outlet_names()},
            status_code=status,
        )

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, _user: Analyst) -> HTMLResponse:
        return page(request)

    @app.get("/reports/{name}", include_in_schema=False)
    def report_file(name: str, _user: Analyst) -> Response:
        if not SAFE_NAME.match(name):
            raise HTTPException(404, "no such report")
        path = folder() / name
        if not path.is_file() or path.resolve().parent != folder().resolve():
            raise HTTPException(404, "no such report")
        return FileResponse(
            path,
            media_type=MEDIA[name.rsplit(".", 1)[1]],
            filename=name,
            content_disposition_type="attachment",
        )

    @app.post("/reports", include_in_schema=False)
    def generate_report(
        request: Request,
        user: Analyst,
        date_from: Annotated[str, Form(alias="from", max_length=10)],
        date_to: Annotated[str, Form(alias="to", max_length=10)],
        outlet: Annotated[str, Form(max_length=64)] = "",
        language: Annotated[str, Form(max_length=2)] = "en",
        fmt: Annotated[str, Form(alias="format", max_length=4)] = "html",
    ) -> Response:
        from ..coverage import generate

        try:
            start = _day("from", date_from)
            end = _day("to", date_to) + timedelta(days=1)
            if outlet and outlet not in dict(store.outlet_names()):
                raise InputError(f"outlet: unknown outlet '{outlet}'")
            if fmt not in ("html", "pdf"):
                raise InputError(f"format: '{fmt}' is not html or pdf")
            tag = f"-{outlet}" if outlet else ""
            name = f"coverage-{start.date()}-{date_to}{tag}-{language}.{fmt}"
            if not SAFE_NAME.match(name):
                raise InputError("outlet: not usable in a file name")
            generate(store, start, end, folder() / name, [outlet] if outlet else [], language, fmt)
        except InputError as exc:
            return page(request, str(exc), 400)
        store.audit(user.email, "report_generated", "report", name)
        return RedirectResponse("/reports", status_code=303)
