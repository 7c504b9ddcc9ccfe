"""Out-of-space write errors, recognised and described: a full file system, a quota, a file-size limit.

Shared by the spool folder and the output file, which both report them as the user's disk, not as a bug.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

#: Write errors that mean the output's (or spool's) file system has no room: full, a quota, a file-size limit.
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
#: What each of them means for the user.
NO_SPACE_REASONS = {
    errno.ENOSPC: "the file system is full",
    errno.EDQUOT: "your disk quota there is used up",
    errno.EFBIG: "the file reached the largest file allowed (the shell's file-size limit, `ulimit -f`, or the file system's)",
}


def no_space_errno(error: BaseException) -> int | None:
    """The out-of-space errno behind ``error`` (an OSError, or h5py's RuntimeError quoting ``errno = 28``), else None."""
    for cause in (error, error.__cause__, error.__context__):
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return cause.errno
    quoted = re.search(r"errno = (\d+)", str(error))
    if quoted and int(quoted.group(1)) in NO_SPACE_ERRNOS:
        return int(quoted.group(1))
    return None


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds ``path``."""
    path = Path(os.path.realpath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def allocated_bytes(path: Path) -> int:
    """Bytes ``path`` (a file, or a folder's files) takes on disk."""
    files = [item for item in path.rglob("*") if item.is_file()] if path.is_dir() else [path]
    return sum(item.stat().st_blocks * 512 for item in files if item.exists())
