"""Which interface converts which ``type_nwb`` mechanism, and raw broadband streams."""

from __future__ import annotations

from neuroconv import BaseDataInterface

from .position import BrandPositionInterface
from .spike_times import BrandSpikeTimesInterface
from .timeseries import BrandTimeSeriesInterface
from .trial_info import BrandTrialInfoInterface
from .trials import BrandTrialsInterface

INTERFACE_BY_TYPE_NWB: dict[str, type[BaseDataInterface]] = {
    "TimeSeries": BrandTimeSeriesInterface,
    "SpikeTimes": BrandSpikeTimesInterface,
    "Position": BrandPositionInterface,
    "Trial": BrandTrialsInterface,
    "TrialInfo": BrandTrialInfoInterface,
}


def interface_class_for(type_nwb: str | None) -> type[BaseDataInterface] | None:
    """The interface class for a normalised ``type_nwb``, or None when this version has none."""
    return INTERFACE_BY_TYPE_NWB.get(type_nwb) if type_nwb else None


def recording_interface_class() -> type[BaseDataInterface]:
    """``BrandRecordingInterface``, imported on first use: it loads SpikeInterface, which only raw streams need."""
    from .recording import BrandRecordingInterface

    return BrandRecordingInterface
