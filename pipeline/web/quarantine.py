"""The quarantine, for admins: poison inputs of distributed (and embedded) runs, with their
error and traceback, to replay (back in the queue) or drop. Also ``/api/quarantine``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..settings import Settings
from ..store import Store
from .auth import Admin


def _item(store: Store, qid: int) -> dict[str, Any]:
    item = store.quarantine_item(qid)
    if item is None:
        raise HTTPException(404, f"quarantine item {qid}: no such item")
    return item


def _replay(store: Store, qid: int, actor: str) -> dict[str, Any]:
    _item(store, qid)
    item = store.replay_quarantined(qid, actor)
    if item is None:  # replayed or dropped by someone else meanwhile
        raise HTTPException(404, f"quarantine item {qid}: no such item")
    return item


def _drop(store: Store, qid: int, actor: str) -> dict[str, Any]:
    _item(store, qid)
    item = store.drop_quarantined(qid, actor)
    if item is None:
        raise HTTPException(404, f"quarantine item {qid}: no such item")
    return item


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    @app.get("/admin/quarantine", response_class=HTMLResponse, include_in_schema=False)
    def quarantine_page(request: Request, _user: Admin, done: str = "") -> HTMLResponse:
        return templates.TemplateResponse(
            request, "quarantine.html", {"items": store.quarantine_list(), "done": done}
        )

    @app.get("/admin/quarantine/{qid}", response_class=HTMLResponse, include_in_schema=False)
    def quarantine_item_page(request: Request, qid: int, _user: Admin) -> HTMLResponse:
        return templates.TemplateResponse(request, "quarantine_item.html", {"item": _item(store, qid)})

    @app.post("/admin/quarantine/{qid}/replay", include_in_schema=False)
    def quarantine_replay_form(qid: int, user: Admin) -> Response:
        _replay(store, qid, user.email)
        return RedirectResponse("/admin/quarantine?done=replayed", status_code=303)

    @app.post("/admin/quarantine/{qid}/drop", include_in_schema=False)
    def quarantine_drop_form(qid: int, user: Admin) -> Response:
        _drop(store, qid, user.email)
        return RedirectResponse("/admin/quarantine?done=dropped", status_code=303)

    @app.get("/api/quarantine", tags=["quarantine"])
    def api_quarantine(_user: Admin, limit: int = 200) -> list[dict[str, Any]]:
        """Items in quarantine, newest first (admins)."""
        return store.quarantine_list(max(1, min(limit, 10_000)))

    @app.get("/api/quarantine/{qid}", tags=["quarantine"])
    def api_quarantine_item(qid: int, _user: Admin) -> dict[str, Any]:
        """One item with its error and traceback (admins)."""
        return _item(store, qid)

    @app.post("/api/quarantine/{qid}/replay", tags=["quarantine"])
    def api_quarantine_replay(qid: int, user: Admin) -> dict[str, Any]:
        """Put the item back in the queue with fresh attempts; the next cycle takes it (admins)."""
        return {"replayed": _replay(store, qid, user.email)}

    @app.post("/api/quarantine/{qid}/drop", tags=["quarantine"])
    def api_quarantine_drop(qid: int, user: Admin) -> dict[str, Any]:
        """Forget the item; the audit log keeps its error (admins)."""
        return {"dropped": _drop(store, qid, user.email)}
