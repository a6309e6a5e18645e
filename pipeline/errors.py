"""Errors a user can act on. The CLI prints them on one line and exits with code 2."""

from __future__ import annotations


class MediaWatchError(Exception):
    """Base for errors caused by input or configuration, not by a bug."""


class ConfigError(MediaWatchError):
    """A configuration file (feeds.yaml, rules.yaml, ...) is invalid."""


class InputError(MediaWatchError):
    """A command's input file or line is invalid."""
