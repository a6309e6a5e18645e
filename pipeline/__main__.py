"""``python -m pipeline``: the same as the ``mediawatch`` command."""

from .cli import main

main()
