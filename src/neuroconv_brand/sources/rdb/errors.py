"""Errors of the direct ``.rdb`` reader, all subclasses of :class:`neuroconv_brand.errors.RdbFileError`.

Every error raised while parsing names the file, the byte offset, the key being read (if any) and what is
wrong; the same facts are kept as attributes (``path``, ``offset``, ``key``) for programs.
"""

from __future__ import annotations

from ...errors import RdbFileError

_ADVICE = (
    "The file may be truncated or corrupt: copy it again from the rig, or check it with `redis-check-rdb`."
)


class RdbNotFoundError(RdbFileError):
    """The ``.rdb`` path does not exist or is not a readable file."""


class RdbHeaderError(RdbFileError):
    """The file does not start with ``REDIS`` and a 4-digit version: it is not an RDB file."""


class RdbVersionError(RdbFileError):
    """The RDB format version is outside the range this reader understands."""


class RdbParseError(RdbFileError):
    """Base class of errors found while walking the file's contents.

    Parameters
    ----------
    path : str
        The file.
    offset : int
        Byte offset (from the start of the file) where the problem was found.
    what : str
        What is wrong, in words.
    key : bytes, optional
        The key whose value was being read.
    advice : str, optional
        What to do; a generic hint about corrupt files by default.
    """

    def __init__(
        self, path: str, offset: int, what: str, key: bytes | None = None, advice: str | None = None
    ):
        self.path = path
        self.offset = offset
        self.key = key
        self.what = what
        where = f"at byte offset {offset}"
        if key is not None:
            where += f" while reading key {key!r}"
        super().__init__(f"{path}: {what} ({where}). {advice or _ADVICE}")


class RdbTruncatedError(RdbParseError):
    """The file ends before the structure being read does."""


class RdbCorruptError(RdbParseError):
    """A value is malformed: an impossible length, an inconsistent stream, a bad listpack, ..."""


class RdbUnknownTypeError(RdbCorruptError):
    """An opcode, value type or string encoding that no Redis version this reader knows writes."""


class RdbModuleError(RdbParseError):
    """A module value that cannot be skipped without the module that wrote it."""


class RdbChecksumError(RdbParseError):
    """The CRC-64 stored after the EOF opcode does not match the file's contents."""
