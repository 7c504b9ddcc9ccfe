"""Give a byte range of a file back to the file system (Linux ``fallocate(PUNCH_HOLE)``), keeping its size.

A spool file's rows that have been read for the last time need not stay in the page cache: left there, the
kernel writes them back to disk alongside the NWB file being written, and a raw conversion then writes every
sample twice (measured in ``docs/continuous-data.md``). Punching them out drops their pages, dirty or not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import sys

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
#: Errors that mean "this file system or kernel cannot punch holes": the caller keeps the data instead.
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV, errno.EPERM})


def _load_fallocate():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


_fallocate = _load_fallocate()


def punch_hole(fd: int, offset: int, length: int) -> bool:
    """Drop bytes ``[offset, offset + length)`` of the open file ``fd``; they read back as zeros.

    Returns
    -------
    bool
        True when the range was released; False when the platform or file system cannot do it (the bytes are
        then unchanged).

    Raises
    ------
    OSError
        Any other failure of ``fallocate``.
    """
    if length <= 0:
        return True
    if _fallocate is None:
        return False
    if _fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, f"fallocate(PUNCH_HOLE) failed: {errno.errorcode.get(code, code)}")
