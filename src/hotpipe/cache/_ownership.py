"""What a cache directory must be before hotpipe reads, writes or deletes anything in it.

* **Marked**: hotpipe writes ``CACHEDIR.TAG`` (the cross-tool cache marker, which backup
  tools skip) into every directory it creates, and sets ``PRAGMA application_id`` in its
  index. A directory that holds other files and no marker is refused (never written, pruned,
  cleared or migrated), unless it is a cache written by an older hotpipe (an index with
  hotpipe's table, and only hotpipe's file names), which is adopted.
* **Trusted**: entries are pickles, so whoever can write the directory can run code in the
  next run. Like git's ``safe.directory``, a directory owned by another user, or writable
  by every user, is refused unless trusted: ``Cache(path, trusted=True)``, the environment
  variable ``HOTPIPE_TRUSTED_CACHES`` (paths separated by ``os.pathsep``; ``*`` trusts all)
  or a line in ``~/.config/hotpipe/trusted-caches``.
* **Deleted by proof**: clearing and pruning remove only regular files whose names follow
  hotpipe's blob scheme, in the two-hex-digit folders of ``blobs/``, never through a
  symbolic link.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from pathlib import Path

from hotpipe.errors import CacheDirectoryError

__all__ = ["MARKER", "check_trusted", "has_marker", "remove_blobs", "safe_unlink",
           "write_marker"]

MARKER = "CACHEDIR.TAG"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This directory is a hotpipe cache (https://bford.info/cachedir/).\n"
    "# hotpipe reads, writes, prunes and clears only directories carrying this file.\n"
)
_BLOB = re.compile(r"(?:[0-9a-f]{2})+-[0-9a-f]{16}")
_TMP = re.compile(r"\.tmp-\d+-\d+-(?:[0-9a-f]{2})+-[0-9a-f]{16}")
_SHARD = re.compile(r"[0-9a-f]{2}")
# names an older hotpipe left in a cache directory (before the marker existed)
_LEGACY = re.compile(r"index\.sqlite(?:-wal|-shm|-journal|\.corrupt-\d+)?|blobs|CACHEDIR\.TAG")


def has_marker(path: Path) -> bool:
    """Whether ``path`` carries hotpipe's marker (a file, not a link to one). A marker that
    another process is writing is waited for (up to half a second)."""
    tag = _TAG.encode()
    for _ in range(50):
        try:
            if not stat.S_ISREG(os.lstat(path / MARKER).st_mode):
                return False
            with open(path / MARKER, "rb") as f:
                head = f.read(len(tag))
        except OSError:
            return False
        if head == tag:
            return True
        if not tag.startswith(head):
            return False  # another tool's CACHEDIR.TAG
        time.sleep(0.01)
    return False


def write_marker(path: Path) -> None:
    """Create the marker (atomically: another process may be creating the same cache)."""
    try:
        fd = os.open(path / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        f.write(_TAG)


def unmarked_entries(path: Path) -> list[str]:
    """The names in an unmarked directory that an older hotpipe would not have written."""
    return sorted(n for n in os.listdir(path) if not _LEGACY.fullmatch(n))


def foreign(path: Path, what: str) -> CacheDirectoryError:
    return CacheDirectoryError(
        f"{path} is not a hotpipe cache: {what}. hotpipe reads, writes, prunes and clears "
        f"only directories it created (they hold a {MARKER} file), so it leaves this one "
        "untouched. Fix: give the cache its own directory, e.g. "
        f"Cache({str(path / '.hotpipe-cache')!r}), or empty this one."
    )


def _trusted_paths() -> list[str]:
    listed = [p for p in os.environ.get("HOTPIPE_TRUSTED_CACHES", "").split(os.pathsep) if p]
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    with contextlib.suppress(OSError):
        lines = (config / "hotpipe" / "trusted-caches").read_text().splitlines()
        listed += [line.strip() for line in lines if line.strip() and line[0] != "#"]
    return listed


def _is_trusted(path: Path) -> bool:
    real = os.path.realpath(path)
    return any(p == "*" or os.path.realpath(os.path.expanduser(p)) == real
               for p in _trusted_paths())


def check_trusted(path: Path, trusted: bool = False) -> None:
    """Refuse a directory another user owns or every user can write, unless trusted."""
    if trusted or not hasattr(os, "geteuid"):
        return
    try:
        st = os.stat(path)
    except OSError:
        return  # not there yet: it will be created by (and owned by) this user
    problem = None
    if st.st_uid != os.geteuid():
        problem = f"it is owned by another user (uid {st.st_uid}, you are {os.geteuid()})"
    elif st.st_mode & stat.S_IWOTH:
        problem = f"every user can write it (mode {stat.filemode(st.st_mode)})"
    if problem is None or _is_trusted(path):
        return
    raise CacheDirectoryError(
        f"refusing the cache {path}: {problem}. Its entries are pickles, so whoever can "
        "write it can run code in your next run. Fix: use a cache directory of your own "
        f"(chmod o-w {path}), or, if you trust every user who can write it, pass "
        f"Cache(..., trusted=True), or add the path to HOTPIPE_TRUSTED_CACHES or to "
        "~/.config/hotpipe/trusted-caches."
    )


def _is_dir_not_link(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def safe_unlink(root: Path, shard: str, name: str) -> bool:
    """Remove ``root/blobs/shard/name`` if it is a regular file reached without a link."""
    blobs = root / "blobs"
    if not (_is_dir_not_link(blobs) and _is_dir_not_link(blobs / shard)):
        return False
    path = blobs / shard / name
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        os.unlink(path)
    except OSError:
        return False
    return True


def _owned(name: str, shard: str) -> bool:
    """A blob ``<key hex>-<checksum hex>`` or its temporary file, in its key's shard."""
    if _BLOB.fullmatch(name):
        key = name.partition("-")[0]
    elif _TMP.fullmatch(name):
        key = name.split("-")[3]
    else:
        return False
    return key[-2:] == shard


def blob_files(root: Path) -> list[tuple[str, str, float]]:
    """``(shard, name, mtime)`` of every file in ``blobs/`` named by hotpipe's scheme (blobs
    and abandoned temporary files), found without following a link."""
    blobs = root / "blobs"
    if not _is_dir_not_link(blobs):
        return []
    found = []
    with contextlib.suppress(OSError), os.scandir(blobs) as shards:
        for shard in shards:
            if not (_SHARD.fullmatch(shard.name) and shard.is_dir(follow_symlinks=False)):
                continue
            with contextlib.suppress(OSError), os.scandir(shard.path) as files:
                for f in files:
                    if _owned(f.name, shard.name):
                        with contextlib.suppress(OSError):
                            st = f.stat(follow_symlinks=False)
                            if stat.S_ISREG(st.st_mode):
                                found.append((shard.name, f.name, st.st_mtime))
    return found


def remove_blobs(root: Path) -> int:
    """Remove every hotpipe blob file (and then the empty shard folders); returns the count."""
    removed = sum(safe_unlink(root, shard, name) for shard, name, _ in blob_files(root))
    blobs = root / "blobs"
    if _is_dir_not_link(blobs):
        with contextlib.suppress(OSError), os.scandir(blobs) as shards:
            for shard in shards:
                if _SHARD.fullmatch(shard.name) and shard.is_dir(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.rmdir(shard.path)  # only if empty
    return removed
