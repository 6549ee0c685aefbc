"""Signed, expiring tokens for every link a subscriber gets (HMAC via itsdangerous). Each purpose has its own salt,
so a feedback token cannot unsubscribe and a confirmation token cannot open preferences."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from podcast_assets.settings import home_dir

SECRET_KEY_ENV = "PODCAST_BRIEF_SECRET_KEY"
DAY_S = 86_400
# How long each kind of link works. Unsubscribe links keep working for a year: old emails must still get out.
MAX_AGE_S = {
    "confirm": 2 * DAY_S,
    "manage": 60 * DAY_S,
    "unsubscribe": 365 * DAY_S,
    "feedback": 30 * DAY_S,
    "csrf": DAY_S,
}


class BadToken(ValueError):
    """A forged, tampered, wrong-purpose or expired token. `expired` tells the two apart for the page shown."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


# Key file -> ((inode, mtime), key): a day's briefs sign ~7 links per subscriber; one stat each instead of a read.
_KEY_FILES: dict[Path, tuple[tuple[int, int], str]] = {}


def secret_key() -> str:
    """PODCAST_BRIEF_SECRET_KEY, else `<home>/secret_key`, made on first use (0600; created exclusively, so two
    processes starting at once agree on one key). A replaced key file is read again."""
    if os.environ.get(SECRET_KEY_ENV):
        return os.environ[SECRET_KEY_ENV]
    path = home_dir() / "secret_key"
    try:
        status = path.stat()
    except FileNotFoundError:
        return _read_or_make_key(path)
    version = (status.st_ino, status.st_mtime_ns)
    cached = _KEY_FILES.get(path)
    if cached and cached[0] == version:
        return cached[1]
    key = _read_or_make_key(path)
    _KEY_FILES[path] = (version, key)
    return key


def _read_or_make_key(path: Path) -> str:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may not have written it yet
            key = path.read_text().strip()
            if key:
                return key
            import time

            time.sleep(0.05)
        raise RuntimeError(f"{path} is empty: delete it to have a new key made") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


@functools.lru_cache(maxsize=32)
def _serializer(key: str, purpose: str) -> URLSafeTimedSerializer:
    """Built once per key and purpose: a day's briefs sign ~7 links per subscriber (100,000 subscribers)."""
    return URLSafeTimedSerializer(key, salt=f"podcast-brief/{purpose}")


@dataclass(frozen=True)
class Signer:
    key: str

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return _serializer(self.key, purpose)

    def sign(self, purpose: str, payload: dict) -> str:
        return self._serializer(purpose).dumps(payload)

    def verify(self, purpose: str, token: str | None) -> dict:
        if not token or len(token) > 2048:
            raise BadToken("This link is incomplete.")
        try:
            payload = self._serializer(purpose).loads(token, max_age=MAX_AGE_S[purpose])
        except SignatureExpired as error:
            raise BadToken("This link has expired.", expired=True) from error
        except BadSignature as error:
            raise BadToken("This link is not valid.") from error
        if not isinstance(payload, dict):
            raise BadToken("This link is not valid.")
        return payload


def signer() -> Signer:
    return Signer(secret_key())
