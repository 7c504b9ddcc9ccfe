"""NeuroConv interfaces, one per BRAND NWB mechanism (``type_nwb``), plus participant metadata and raw data.

``BrandRecordingInterface`` is imported on first use (PEP 562 module ``__getattr__``): it loads SpikeInterface,
which only a conversion of raw streams needs.
"""

from importlib import import_module

from .base import BrandStreamInterface
from .participant import BrandParticipantInterface
from .position import BrandPositionInterface
from .spike_times import BrandSpikeTimesInterface
from .stream_timestamps import BrandStreamTimestampsInterface
from .timeseries import BrandTimeSeriesInterface
from .trial_info import BrandTrialInfoInterface
from .trials import BrandTrialsInterface

__all__ = [
    "BrandParticipantInterface",
    "BrandPositionInterface",
    "BrandRecordingInterface",
    "BrandSpikeTimesInterface",
    "BrandStreamInterface",
    "BrandStreamTimestampsInterface",
    "BrandTimeSeriesInterface",
    "BrandTrialInfoInterface",
    "BrandTrialsInterface",
]

#: Interfaces of the raw-data stack (SpikeInterface), by module: imported when first looked up.
_RAW_DATA_INTERFACES = {"BrandRecordingInterface": ".recording"}


def __getattr__(name: str):
    if name not in _RAW_DATA_INTERFACES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_RAW_DATA_INTERFACES[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value
