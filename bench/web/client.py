"""A keep-alive JSON client over ``http.client``: one connection, bearer token, timings.

One :class:`Api` is one TCP connection (the workload wants one per client thread).
A call returns a :class:`Reply` (status, parsed JSON, seconds); anything but the
expected status raises :class:`ApiError` carrying the request and the response, so a
failed check names exactly what was sent and what came back.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlencode

#: Seconds a request may take before the client gives up (a bulk of 5,000 rows is well below).
TIMEOUT = 120.0
#: Most characters of a response body quoted in an error.
QUOTE = 2_000


class ApiError(RuntimeError):
    """A response that was not the one expected (status or content)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    seconds: float
    headers: dict[str, str]


class Api:
    """One keep-alive connection to a Loom server, sending ``Authorization: Bearer``."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict | None = None,
                body: bytes | Any = None, expect: int | tuple[int, ...] = 200) -> Reply:
        """Send one request; ``body`` is bytes (already JSON) or a value to encode."""
        if params:
            path = f"{path}?{urlencode(params)}"
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        seconds = time.perf_counter() - started
        reply = Reply(response.status, _parse(raw), seconds, dict(response.getheaders()))
        wanted = (expect,) if isinstance(expect, int) else expect
        if reply.status not in wanted:
            raise ApiError(f"{method} {path} -> {reply.status} (expected {wanted}): "
                           f"{raw[:QUOTE].decode(errors='replace')}")
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Reply:
        return self.request("POST", path, **kw)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
