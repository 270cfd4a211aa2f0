"""Neural networks: the graph denoiser and its parts."""

from dbtwin.nn.denoiser import HeteroDenoiser, SinusoidalTime, TableSpec

__all__ = ["HeteroDenoiser", "SinusoidalTime", "TableSpec"]
