"""Generated pages for people: lists, record pages and forms of every entity.

Routes live in the sub-modules (lists, pages, editing, search); each registers on
:data:`bp`. Every page reads and writes through the record service with the
request's actor, so what a page shows is what the engine allows.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("records", __name__, url_prefix="/r")


from web.records import board, editing, export, home, lists, pages, search, workflows  # noqa: F401  (routes register on bp)
