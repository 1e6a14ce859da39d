"""Helpers of the pool's web and API tests: customers the demo's sales1 may claim."""

from __future__ import annotations

from engine.automation import pool_reads


def sales1(app):
    rt = app.extensions["loom"].current
    from engine import accounts

    user = accounts.find_user(rt.db, rt.tables, "sales1")
    return rt, app.extensions["loom"].actor(user["id"])


def claimable_ids(app, count: int = 1) -> list[int]:
    """Ids of demo customers sales1 may claim now (not theirs lately: no cooldown)."""
    rt, actor = sales1(app)
    seats = pool_reads.claimable_pools(rt.service, actor)
    page = rt.service.list(actor, "account", filter=pool_reads.claimable_filter(
        [s.pool.id for s in seats]), sort=["id"], limit=200)
    ids = [r["id"] for r in page.rows if r.get("previous_owner") != actor.user_id]
    assert len(ids) >= count, "the demo data has too few claimable customers for sales1"
    return ids[:count]


def in_english(client):
    """The client's session switched to English (the demo users read Chinese)."""
    from tests.web.support import form_token

    client.post("/lang", data={"lang": "en", "csrf_token": form_token(client, "/login")})
    return client
