"""Read Redis ``dump.rdb`` files directly (RDB versions 1-12), without a redis-server.

:class:`RdbStreamSource` serves a file's streams through the package's
:class:`~neuroconv_brand.sources.base.StreamSource` interface, with entries exactly as redis-py's XRANGE
returns them. :func:`build_index` is the one-pass key index it is built on; :func:`crc64` is Redis' CRC-64.
"""

from .checksum import crc64
from .errors import (
    RdbChecksumError,
    RdbCorruptError,
    RdbHeaderError,
    RdbModuleError,
    RdbNotFoundError,
    RdbParseError,
    RdbTruncatedError,
    RdbUnknownTypeError,
    RdbVersionError,
)
from .index import KeyInfo, RdbIndex, StreamIndex, build_index
from .source import RdbStreamSource
from .streams import StreamMetadata

__all__ = [
    "KeyInfo",
    "RdbChecksumError",
    "RdbCorruptError",
    "RdbHeaderError",
    "RdbIndex",
    "RdbModuleError",
    "RdbNotFoundError",
    "RdbParseError",
    "RdbStreamSource",
    "RdbTruncatedError",
    "RdbUnknownTypeError",
    "RdbVersionError",
    "StreamIndex",
    "StreamMetadata",
    "build_index",
    "crc64",
]
