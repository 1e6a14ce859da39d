"""Password hashing with argon2id (argon2-cffi's recommended parameters).

Only hashes and checks; storing hashes is :mod:`engine.accounts.users`' job.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.accounts.errors import PasswordTooWeak

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8
#: Longest password accepted (hashing megabytes on request would be a denial of service).
MAX_PASSWORD_LENGTH = 1024


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """The process's argon2id hasher (argon2-cffi's RFC 9106 low-memory profile)."""
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("loom-no-such-user")


def check_strength(password: str) -> None:
    """Raise :class:`PasswordTooWeak` unless ``password`` is acceptable."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise PasswordTooWeak("the password must not be only spaces")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (checked for strength first)."""
    check_strength(password)
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; with no hash, spend the same time and say no."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was hashed with older parameters."""
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
