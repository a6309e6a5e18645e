"""MediaWatch: a media accountability pipeline.

Stages (one module each): fetch -> entries -> extract -> cluster -> score -> alert -> revisit
-> report. ``orchestrate`` wires them to ``store``; ``cli`` and ``web`` are thin layers.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
