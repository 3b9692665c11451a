"""Writing files so that a reader sees the whole file or none of it."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["write_atomic"]

_UMASK_LOCK = threading.Lock()


def write_atomic(path: str | os.PathLike[str], text: str) -> str:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place.

    The file gets the mode ``open()`` would give it: an existing file's mode, else 0o666 less
    the umask (``mkstemp`` alone would leave it 0600, unreadable to the rest of a team).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(path)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read from /proc where possible (setting it to read it back is
    visible to other threads for an instant)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask
