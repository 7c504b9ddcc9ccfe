"""NeuroConv interfaces, one per BRAND NWB mechanism (``type_nwb``), plus participant metadata and raw data."""

from .base import BrandStreamInterface
from .participant import BrandParticipantInterface
from .position import BrandPositionInterface
from .recording import BrandRecordingInterface
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
