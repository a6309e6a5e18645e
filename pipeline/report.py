"""Kept for compatibility: the exports now live in ``pipeline.exports``."""

from __future__ import annotations

from .exports import COLUMNS, EXCERPT_CHARS, FORMULA_START, article_row, export_csv, neutralise, write_csv

__all__ = [
    "COLUMNS",
    "EXCERPT_CHARS",
    "FORMULA_START",
    "article_row",
    "export_csv",
    "neutralise",
    "write_csv",
]
