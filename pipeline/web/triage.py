"""Analyst triage: approve, edit, merge, dismiss, close; users, roles and invitations."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from ..settings import Settings
from ..store import Store


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Routes are added here (see the module docstring)."""
