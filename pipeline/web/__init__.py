"""The web app: the alert queue and alert pages (FastAPI + Jinja2 + htmx)."""

from .app import create_app

__all__ = ["create_app"]
