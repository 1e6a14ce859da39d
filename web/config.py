"""Settings of the web application: defaults, the environment, and the caller's overrides.

Every setting is a named constant here. ``create_app(config)`` reads the environment
once, at app creation; nothing is read at import time.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

#: Largest request body accepted (a bulk load of 5,000 records is about 1.5 MiB).
DEFAULT_MAX_CONTENT_LENGTH = 32 * 1024 * 1024
#: How often (seconds) a process checks whether another one applied a new schema version or
#: metadata revision (``engine.runtime.DEFAULT_CHECK_INTERVAL`` for processes without Flask).
DEFAULT_MODEL_CHECK_INTERVAL = 1.0
#: Where Loom keeps files of its own (the SQLite database, the generated secret key).
DEFAULT_INSTANCE_DIR = "instance"
#: File in the instance folder holding the session signing key when none is configured.
SECRET_KEY_FILE = "secret_key"
#: Environment variables read by :func:`settings`.
ENV_SETTINGS = {
    "LOOM_DATABASE_URL": str,
    "LOOM_METADATA_DIRS": str,
    "LOOM_SECRET_KEY": str,
    "LOOM_INSTANCE_DIR": str,
    "LOOM_MAX_CONTENT_LENGTH": int,
    "LOOM_MODEL_CHECK_INTERVAL": float,
    "LOOM_COOKIE_SECURE": lambda v: v.lower() in ("1", "true", "yes"),
    "LOOM_WARM_UP": lambda v: v.lower() in ("1", "true", "yes"),
    "LOOM_TIMEZONE": str,
    # A number of proxy hops, or addresses/networks of proxies (see web/proxies.py).
    "LOOM_TRUSTED_PROXIES": str,
}


def settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flask config values: defaults < environment < ``overrides``."""
    values: dict[str, Any] = {
        "LOOM_INSTANCE_DIR": DEFAULT_INSTANCE_DIR,
        "MAX_CONTENT_LENGTH": DEFAULT_MAX_CONTENT_LENGTH,
        "LOOM_MODEL_CHECK_INTERVAL": DEFAULT_MODEL_CHECK_INTERVAL,
        "LOOM_COOKIE_SECURE": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Forms stay valid for a working day; an expired token re-shows the form, losing nothing.
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "JSON_SORT_KEYS": False,
    }
    for name, convert in ENV_SETTINGS.items():
        if os.environ.get(name):
            values[name] = convert(os.environ[name])
    if "LOOM_MAX_CONTENT_LENGTH" in values:
        values["MAX_CONTENT_LENGTH"] = values.pop("LOOM_MAX_CONTENT_LENGTH")
    if "LOOM_SECRET_KEY" in values:
        values["SECRET_KEY"] = values.pop("LOOM_SECRET_KEY")
    values.update(overrides or {})
    values["SESSION_COOKIE_SECURE"] = values["REMEMBER_COOKIE_SECURE"] = bool(values["LOOM_COOKIE_SECURE"])
    return values


def secret_key(instance_dir: str | os.PathLike[str]) -> str:
    """The key in ``instance_dir``, created (readable by its owner only) on first use.

    Every process of one deployment must share it; production sets LOOM_SECRET_KEY instead.
    """
    path = Path(instance_dir) / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text().strip()
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    return key
