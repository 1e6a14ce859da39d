"""The ``loom`` command line: one package over the engine (delivery, like ``web/``).

``common`` holds the context and the error guard, ``commands`` the group with the
metadata and data commands, ``accounts`` the user, role, team and token commands.
The web package adds ``serve`` and the serving ``demo`` (:mod:`web.cli`).
"""

from engine.cli import accounts, automation
from engine.cli.commands import demo, main

accounts.register(main)
automation.register(main)

__all__ = ["demo", "main"]
