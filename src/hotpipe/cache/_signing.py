"""Signed entries: an HMAC-SHA256 over each entry's key and payload, checked before unpickling.

A checksum catches damage, not tampering: anyone who can write a cache directory can plant a
pickle that runs code when loaded. With ``Cache(path, sign=True)`` every payload is stored as
``b"\\x01H"`` + HMAC(key, entry key + pickle) + pickle, and an entry whose signature does not
verify is a miss that is never unpickled. The key is 32 random bytes kept in the user's config
directory (``~/.config/hotpipe/cache.key``, or ``$HOTPIPE_CACHE_KEY_FILE``), created with mode
0600; copy it to the machines that share the cache. ``sign=<bytes>`` passes a key directly.

>>> signer = Signer(b"k" * 32)
>>> signed = signer.sign(b"key", b"payload")
>>> bytes(signer.verify(b"key", signed)), signer.verify(b"other key", signed)
(b'payload', None)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import struct
from pathlib import Path

from hotpipe.errors import CacheDirectoryError

__all__ = ["Signer", "key_path", "load_key"]

TAG = b"\x01H"
_MAC = 32
_HEAD = len(TAG) + _MAC


def key_path() -> Path:
    """Where the signing key lives: ``$HOTPIPE_CACHE_KEY_FILE``, else the config directory."""
    explicit = os.environ.get("HOTPIPE_CACHE_KEY_FILE")
    if explicit:
        return Path(explicit)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "hotpipe" / "cache.key"


def load_key(path: Path | None = None) -> bytes:
    """The signing key, created (0600, 32 random bytes as hex) on first use. A key file that
    other users can read or write is refused: whoever knows the key can forge entries."""
    path = path or key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # created meanwhile by another process
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    st = os.stat(path)
    if hasattr(os, "geteuid") and (st.st_mode & 0o077 or st.st_uid != os.geteuid()):
        raise CacheDirectoryError(
            f"the cache signing key {path} is readable or writable by other users (mode "
            f"{stat.filemode(st.st_mode)}, owner uid {st.st_uid}): anyone who knows it can "
            f"forge cache entries. Fix: chmod 600 {path} (and make it yours)."
        )
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise CacheDirectoryError(f"the cache signing key {path} is not at least 16 bytes of "
                                  "hex. Fix: delete it; a new one is created on next use.")
    return key


class Signer:
    """Signs and verifies payloads with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, key: bytes, payload: bytes | memoryview) -> bytes:
        mac = hmac.new(self._key, struct.pack("<I", len(key)) + key, hashlib.sha256)
        mac.update(payload)
        return mac.digest()

    def sign(self, key: bytes, payload: bytes) -> bytes:
        return TAG + self._mac(key, payload) + payload

    def verify(self, key: bytes, signed: bytes | memoryview) -> memoryview | None:
        """The payload, or None when the entry is unsigned or signed with another key."""
        view = memoryview(signed)
        if len(view) < _HEAD or view[: len(TAG)] != TAG:
            return None
        payload = view[_HEAD:]
        if not hmac.compare_digest(self._mac(key, payload), bytes(view[len(TAG):_HEAD])):
            return None
        return payload
