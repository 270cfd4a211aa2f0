"""The synthesizer: fit a whole database, sample synthetic twins of it."""

from dbtwin.synthesizer.model import NotFittedError, Synthesizer

__all__ = ["NotFittedError", "Synthesizer"]
