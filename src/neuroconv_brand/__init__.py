"""neuroconv-brand: convert BRAND sessions (Redis streams or dump.rdb) to NWB with NeuroConv."""

from importlib.metadata import PackageNotFoundError, version

from .converter import BrandConverter
from .errors import (
    BrandError,
    GraphError,
    NoSupergraphError,
    RdbFileError,
    RedisServerNotFoundError,
    SourceAuthenticationError,
    SourceConnectionError,
    SourceError,
    StreamDecodeError,
    UnsupportedEncodingError,
)
from .graph import Graph
from .interfaces.timeseries import BrandTimeSeriesInterface
from .session import BrandSession
from .specs import KeySpec, StreamSpec, SyncTiming
from .streams import EntryBatch, StreamReader
from .yaml_runner import run_conversion_from_yaml

try:
    __version__ = version("neuroconv-brand")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BrandConverter",
    "BrandError",
    "BrandSession",
    "BrandTimeSeriesInterface",
    "EntryBatch",
    "Graph",
    "GraphError",
    "KeySpec",
    "NoSupergraphError",
    "RdbFileError",
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
    "run_conversion_from_yaml",
]

# Make this package's interfaces resolvable by NeuroConv's own YAML runner in this process.
from .neuroconv_registration import register_with_neuroconv  # noqa: E402

register_with_neuroconv()
