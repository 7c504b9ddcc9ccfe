"""neuroconv-brand: convert BRAND sessions (Redis streams or dump.rdb) to NWB with NeuroConv."""

from .errors import BrandError

__all__ = ["BrandError"]
