"""neuroconv-brand: convert BRAND sessions (Redis streams or dump.rdb) to NWB with NeuroConv."""

from importlib.metadata import PackageNotFoundError, version

from .apps.yaml_runner import run_conversion_from_yaml
from .converter import BrandConverter
from .errors import (
    BrandError,
    ConfigurationError,
    GraphError,
    MetadataFileError,
    NoSupergraphError,
    RdbFileError,
    RedisServerNotFoundError,
    SourceAuthenticationError,
    SourceConnectionError,
    SourceError,
    StreamDecodeError,
    UnsupportedEncodingError,
)
from .extractors.recording_extractor import BrandRecordingExtractor, RecordingGap, read_brand
from .extractors.sorting_extractor import BrandSortingExtractor
from .graph.stream_specs import KeySpec, StreamSpec, SyncTiming
from .graph.supergraph import Graph
from .interfaces import (
    BrandParticipantInterface,
    BrandPositionInterface,
    BrandRecordingInterface,
    BrandSpikeTimesInterface,
    BrandStreamTimestampsInterface,
    BrandTimeSeriesInterface,
    BrandTrialInfoInterface,
    BrandTrialsInterface,
)
from .nwb.compression_presets import apply_compression_preset
from .reading.stream_reader import EntryBatch, StreamReader
from .sources.session import BrandSession

try:
    __version__ = version("neuroconv-brand")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BrandConverter",
    "BrandError",
    "BrandParticipantInterface",
    "BrandPositionInterface",
    "BrandRecordingExtractor",
    "BrandRecordingInterface",
    "BrandSession",
    "BrandSortingExtractor",
    "BrandSpikeTimesInterface",
    "BrandStreamTimestampsInterface",
    "BrandTimeSeriesInterface",
    "BrandTrialInfoInterface",
    "BrandTrialsInterface",
    "ConfigurationError",
    "EntryBatch",
    "Graph",
    "GraphError",
    "KeySpec",
    "MetadataFileError",
    "NoSupergraphError",
    "RdbFileError",
    "RecordingGap",
    "RedisServerNotFoundError",
    "SourceAuthenticationError",
    "SourceConnectionError",
    "SourceError",
    "StreamDecodeError",
    "StreamReader",
    "StreamSpec",
    "SyncTiming",
    "UnsupportedEncodingError",
    "__version__",
    "apply_compression_preset",
    "read_brand",
    "run_conversion_from_yaml",
]

# Make this package's interfaces resolvable by NeuroConv's own YAML runner in this process.
from .apps.neuroconv_registration import register_with_neuroconv

register_with_neuroconv()
