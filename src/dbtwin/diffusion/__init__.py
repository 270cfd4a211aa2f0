"""Noise processes, separate from the network: Gaussian for numerics, masked for categoricals."""

from dbtwin.diffusion.gaussian import GaussianScheduler
from dbtwin.diffusion.masked import MaskedScheduler

__all__ = ["GaussianScheduler", "MaskedScheduler"]
