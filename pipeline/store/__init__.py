"""The only package that talks to the database."""

from .store import Store

__all__ = ["Store"]
