"""The public pool's pages (``/pool``): claimable customers, claim, release, recycle bin.

- ``pool.index`` (``/pool``): the customers the actor may claim (owner-less, not in a
  bin, in an active pool open to one of their roles), filtered by pool and region,
  searched by name, paginated; each pool's claimed count against its cap; a claim
  button per row and for the selected rows.
- ``pool.claim`` / ``pool.release`` / ``pool.abandon`` / ``pool.restore``: POST forms
  (CSRF) calling the engine's use cases (:mod:`engine.automation.pool`); the result is
  a flash message and a redirect.
- ``pool.bin`` (``/pool/<id>/bin``): a pool's recycle bin, with restore buttons where
  the actor may change owner-less customers.
- :func:`record_extras` (a Jinja global the record page calls): the claim / release /
  bin buttons on a customer's page and the figures on a pool's page.

Every list reads through the record service with the actor; the engine decides every
refusal, this module only shows it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from engine.automation import pool as pool_cases
from engine.automation import pool_reads
from engine.automation.pool import ACCOUNT, POOL
from engine.model import Entity
from engine.permissions import Actor
from engine.records import rights
from engine.records.errors import (PermissionDenied, RecordError, RecordNotFound,
                                   ValidationFailed)
from web.auth import current_actor, login_required, safe_next
from web.i18n import lang
from web.records.common import actor_or_401, expandable, visibility
from web.records.display import short, show
from web.state import Snapshot, runtime

bp = Blueprint("pool", __name__, url_prefix="/pool")

#: Customers per page of the pool list and the bin.
PAGE_SIZE = 25
#: Columns of the pool list (those the actor may see), after the customer's name.
COLUMNS = ("pool", "region", "industry", "level", "lifecycle_stage", "previous_owner",
           "returned_at")
#: Columns of the recycle bin.
BIN_COLUMNS = ("region", "industry", "level", "previous_owner", "return_reason", "abandoned_at")
#: Most customers one claim request may name.
MAX_CLAIM_IDS = 200
#: Longest search text taken.
MAX_SEARCH = 100


def init_app(app: Flask) -> None:
    """Register the pages and the Jinja globals the base and record templates call."""
    app.register_blueprint(bp)
    app.jinja_env.globals.update(pool_link=pool_link, record_extras=record_extras)


def pool_link() -> bool:
    """Show the navigation's pool link: the actor holds a role with a pool grant."""
    actor = current_actor()
    return actor is not None and pool_reads.may_use_pools(runtime().service, actor)


def _message(error: RecordError) -> str:
    if isinstance(error, RecordNotFound):
        return _("This customer is no longer in the pool.")
    if isinstance(error, ValidationFailed):
        return "; ".join(e.message.get(lang()) for e in error.errors)
    message = getattr(error, "message", None)
    return message.get(lang()) if message is not None else str(error)


def _name(record: dict[str, Any]) -> str:
    return record.get("name") or f"#{record['id']}"


def _page() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 7 and \
        int(value) > 0 else 1


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 19 else None


def _rows(rt: Snapshot, actor: Actor, ent: Entity, names: tuple[str, ...],
          records: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    visible = visibility(rt, actor, ACCOUNT)
    cols = [ent.field(n) for n in names if ent.has_field(n) and visible(n)]
    rows = [{"id": r["id"], "name": r.get("name") or f"#{r['id']}", "record": r,
             "cells": [short(show(f, r.get(f.name), r.get("_expand", {}).get(f.name)))
                       for f in cols]} for r in records]
    return cols, rows


@bp.route("", endpoint="index")
@login_required
def index():
    rt = runtime()
    actor = actor_or_401()
    ent = rt.model.entity(ACCOUNT)
    seats = pool_reads.claimable_pools(rt.service, actor)
    chosen = _int_arg("pool")
    ids = [s.pool.id for s in seats if chosen is None or s.pool.id == chosen]
    region = request.args.get("region") or None
    region_field = ent.field("region") if ent.has_field("region") else None
    if region_field is not None and region not in {o.value for o in region_field.options}:
        region = None
    search = (request.args.get("q") or "").strip()[:MAX_SEARCH] or None
    page_no = _page()
    names = ("name", *COLUMNS)
    fields = [ent.field(n) for n in names if ent.has_field(n)]
    page = rt.service.list(actor, ACCOUNT, filter=pool_reads.claimable_filter(
        ids, region=region, search=search), sort=["name", "id"], limit=PAGE_SIZE,
        offset=(page_no - 1) * PAGE_SIZE, with_total=True,
        expand=expandable(rt, actor, fields, ACCOUNT))
    cols, rows = _rows(rt, actor, ent, COLUMNS, page.rows)
    total = page.total or 0
    return render_template(
        "pool/list.html", seats=seats, chosen=chosen, region=region, search=search or "",
        regions=region_field.options if region_field is not None else (), columns=cols,
        rows=rows, total=total, page=page_no, pages=max(1, -(-total // PAGE_SIZE)),
        page_url=lambda n: url_for("pool.index", **{**request.args.to_dict(), "page": n}))


def _ids() -> list[int]:
    out = []
    for value in request.form.getlist("id")[:MAX_CLAIM_IDS]:
        if value.isascii() and value.isdigit() and 0 < len(value) < 19:
            out.append(int(value))
    return list(dict.fromkeys(out))


@bp.route("/claim", methods=["POST"], endpoint="claim")
@login_required
def claim():
    rt = runtime()
    actor = actor_or_401()
    back = safe_next(request.form.get("next"), url_for("pool.index"))
    ids = _ids()
    if not ids:
        flash(_("Choose the customers to claim."), "warning")
        return redirect(back)
    if len(ids) == 1:
        try:
            claimed = pool_cases.claim(rt.service, actor, ids[0])
        except RecordError as error:
            flash(_message(error), "danger")
            return redirect(back)
        flash(_("You claimed %(name)s.", name=_name(claimed)), "success")
        return redirect(url_for("records.detail", entity=ACCOUNT, id=ids[0]))
    result = pool_cases.claim_many(rt.service, actor, ids)
    if result.claimed:
        flash(ngettext("You claimed %(num)d customer.", "You claimed %(num)d customers.",
                       len(result.claimed)), "success")
    for account_id, error in result.refused.items():
        flash(f"#{account_id}: {_message(error)}", "danger")
    return redirect(back)


@bp.route("/release/<int:id>", methods=["POST"], endpoint="release")
@login_required
def release(id: int):
    rt = runtime()
    actor = actor_or_401()
    reason = (request.form.get("reason") or "").strip() or None
    try:
        released = pool_cases.release(rt.service, actor, id, reason)
    except RecordError as error:
        flash(error.message.get(lang()) if isinstance(error, RecordNotFound)
              else _message(error), "danger")
        return redirect(url_for("records.detail", entity=ACCOUNT, id=id))
    flash(_("%(name)s went back to its public pool.", name=_name(released)), "success")
    return redirect(url_for("pool.index"))


def _bin_action(id: int, case: Any, done: str) -> Any:
    rt = runtime()
    actor = actor_or_401()
    back = safe_next(request.form.get("next"), url_for("records.detail", entity=ACCOUNT, id=id))
    try:
        record = case(rt.service, actor, id)
    except RecordNotFound as error:
        flash(error.message.get(lang()), "danger")
    except RecordError as error:
        flash(_message(error), "danger")
    else:
        flash(done % {"name": _name(record)}, "success")
    return redirect(back)


@bp.route("/abandon/<int:id>", methods=["POST"], endpoint="abandon")
@login_required
def abandon(id: int):
    return _bin_action(id, pool_cases.abandon, _("%(name)s is in the recycle bin now."))


@bp.route("/restore/<int:id>", methods=["POST"], endpoint="restore")
@login_required
def restore(id: int):
    return _bin_action(id, pool_cases.restore, _("%(name)s is back in its pool."))


def _may_change_unowned(rt: Snapshot, actor: Actor, record: dict[str, Any]) -> bool:
    """May the actor change this owner-less customer the ordinary way (bin, restore)?"""
    return rt.policy.can(actor, ACCOUNT, "update") and rights.refusal(
        rt.policy, actor, ACCOUNT, "update", record) is None


@bp.route("/<int:pool_id>/bin", endpoint="bin")
@login_required
def recycle_bin(pool_id: int):
    rt = runtime()
    actor = actor_or_401()
    if not rt.policy.can(actor, POOL, "read") or not rt.policy.can(actor, ACCOUNT, "read"):
        raise PermissionDenied(POOL, "read")
    pool = rt.service.get(actor, POOL, pool_id)
    ent = rt.model.entity(ACCOUNT)
    page_no = _page()
    fields = [ent.field(n) for n in BIN_COLUMNS if ent.has_field(n)]
    page = rt.service.list(actor, ACCOUNT, filter=pool_reads.bin_filter(pool_id),
                           sort=["-abandoned_at", "id"], limit=PAGE_SIZE,
                           offset=(page_no - 1) * PAGE_SIZE, with_total=True,
                           expand=expandable(rt, actor, fields, ACCOUNT))
    cols, rows = _rows(rt, actor, ent, BIN_COLUMNS, page.rows)
    for row in rows:
        row["restorable"] = _may_change_unowned(rt, actor, row["record"])
    total = page.total or 0
    return render_template(
        "pool/bin.html", pool=pool, columns=cols, rows=rows, total=total, page=page_no,
        pages=max(1, -(-total // PAGE_SIZE)),
        page_url=lambda n: url_for("pool.bin", pool_id=pool_id, page=n))


# -- the record page's extras ----------------------------------------------------------
def record_extras(entity: Entity, record: dict[str, Any]) -> Markup:
    """The pool's part of a record page: buttons on a customer, figures on a pool."""
    actor = current_actor()
    if actor is None:
        return Markup("")
    rt = runtime()
    if entity.name == ACCOUNT and "pool" in record:
        return Markup(render_template("pool/_account.html", **_account_extras(rt, actor, record)))
    if entity.name == POOL:
        figures = pool_reads.figures(rt.service, record["id"])
        seat = next((s for s in pool_reads.claimable_pools(rt.service, actor)
                     if s.pool.id == record["id"]), None)
        return Markup(render_template("pool/_pool.html", pool=record, figures=figures,
                                      seat=seat))
    return Markup("")


def _account_extras(rt: Snapshot, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
    owner, pool_id = record.get("owner"), record.get("pool")
    binned = record.get("abandoned_at") is not None
    out: dict[str, Any] = {"record": record, "claim": None, "release": False,
                           "abandon": False, "restore": False, "binned": binned,
                           "next": request.full_path.rstrip("?")}
    if pool_id is None:
        return out
    if owner is None and not binned:
        out["claim"] = next((s for s in pool_reads.claimable_pools(rt.service, actor)
                             if s.pool.id == pool_id), None)
        out["abandon"] = _may_change_unowned(rt, actor, record)
    elif owner is None:
        out["restore"] = _may_change_unowned(rt, actor, record)
    elif owner == actor.user_id:
        out["release"] = True
    return out


__all__ = ["bp", "init_app", "pool_link", "record_extras"]
