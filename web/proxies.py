"""Which client a request comes from when Loom runs behind proxies.

``X-Forwarded-For`` is written by whoever sends the request, so Loom believes it only
from proxies it was told about (``LOOM_TRUSTED_PROXIES``); otherwise the address is the
connection's own. The setting is either

- a number of proxy hops (``1``: one TLS proxy in front): Werkzeug's ``ProxyFix`` takes
  the address that many entries from the right of ``X-Forwarded-For`` (and the scheme
  from ``X-Forwarded-Proto``); or
- a comma-separated list of proxy addresses or networks (``10.0.0.5, 10.1.0.0/16``): a
  request whose connection comes from one of them has ``X-Forwarded-For`` walked from
  the right past every trusted address; the first other one is the client.

Unset or ``0``: no header is believed. The login throttle, the session list and the
logs all see the address chosen here (``request.remote_addr``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse(value: Any) -> int | tuple[Network, ...]:
    """``LOOM_TRUSTED_PROXIES`` as a hop count or a tuple of networks.

    >>> parse("2"), parse(None)
    (2, 0)
    >>> parse("10.0.0.5, 10.1.0.0/16")
    (IPv4Network('10.0.0.5/32'), IPv4Network('10.1.0.0/16'))
    """
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        if value < 0:
            raise ValueError("LOOM_TRUSTED_PROXIES must not be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        items: Iterable[str] = [p for p in text.replace(";", ",").split(",")]
    else:
        items = value
    try:
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in items if p.strip())
    except ValueError as exc:
        raise ValueError(f"LOOM_TRUSTED_PROXIES: {exc} (a number of hops, or proxy "
                         "addresses and networks separated by commas)") from None


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


class TrustedProxies:
    """WSGI middleware: believe ``X-Forwarded-For``/``-Proto`` from the listed proxies only."""

    def __init__(self, app: Callable[..., Any], networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        remote = environ.get("REMOTE_ADDR", "")
        if remote and _trusted(remote, self.networks):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
                    if h.strip()]
            client = remote
            while hops:
                client = hops.pop()
                if not _trusted(client, self.networks):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


def init_app(app: Any) -> None:
    """Wrap ``app.wsgi_app`` as ``LOOM_TRUSTED_PROXIES`` says (nothing when unset)."""
    trusted = parse(app.config.get("LOOM_TRUSTED_PROXIES"))
    if isinstance(trusted, int):
        if trusted:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)
    elif trusted:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)
