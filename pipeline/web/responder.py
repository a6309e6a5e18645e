"""Responders: claim an alert, write the letter in their own words, mark it sent, report outcomes."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from ..settings import Settings
from ..store import Store


def register(app: FastAPI, store: Store, settings: Settings, templates: Jinja2Templates) -> None:
    """Routes are added here (see the module docstring)."""
