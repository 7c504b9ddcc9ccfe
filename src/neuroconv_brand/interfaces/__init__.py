"""NeuroConv interfaces, one per BRAND NWB mechanism (``type_nwb``)."""

from .base import BrandStreamInterface
from .timeseries import BrandTimeSeriesInterface

__all__ = ["BrandStreamInterface", "BrandTimeSeriesInterface"]
