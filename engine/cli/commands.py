"""The ``loom`` group and its metadata and data commands (check, plan, migrate, restore,
purge, show, uses, metaschema, seed-demo, demo). Each command is one use case: load, act, report.

Exit codes: 0 ok; 1 the metadata has errors; 2 usage error; 3 the database
refused (a migration needing --allow-destructive, a stale model, nothing to
restore); 4 the database could not be reached or failed.
"""

from __future__ import annotations

import json
import sys
import time

import click

from engine.cli.common import EXIT_METADATA, EXIT_REFUSED, Context, fail, guarded
from engine.model import json_path
from engine.spec.errors import MetadataInvalid


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database", envvar="LOOM_DATABASE_URL", default=None,
              help="Database URL (default: sqlite:///instance/loom.db).")
@click.option("--metadata", "-m", multiple=True, type=click.Path(),
              help="Metadata folder (repeatable; default: $LOOM_METADATA_DIRS or the shipped CRM).")
@click.pass_context
def main(ctx: click.Context, database: str | None, metadata: tuple[str, ...]) -> None:
    """Loom: a metadata-driven CRM engine."""
    from engine.clock import ConfigurationError

    try:  # an unknown LOOM_TIMEZONE stops every command before it starts
        ctx.obj = Context(database, metadata)
    except ConfigurationError as exc:
        fail(f"configuration error: {exc}", 2)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(obj: Context, as_json: bool) -> None:
    """Check every metadata file and report all mistakes at once."""
    try:
        model = obj.model
    except MetadataInvalid as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "errors": [e.as_dict() for e in exc.errors]},
                                  ensure_ascii=False, indent=2))
        else:
            for error in exc.errors:
                click.secho(str(error), fg="red", err=True)
            click.secho(f"{len(exc.errors)} error{'s' if len(exc.errors) != 1 else ''}.",
                        fg="red", err=True)
        sys.exit(EXIT_METADATA)
    fields = sum(len(e.fields) for e in model.entities.values())
    rules = sum(len(e.rules) for e in model.entities.values())
    if as_json:
        click.echo(json.dumps({"ok": True, "version": model.version, "revision": model.revision,
                               "entities": len(model.entities),
                               "fields": fields, "rules": rules, "roles": len(model.roles)}))
    else:
        click.secho(f"ok: {len(model.entities)} entities, {fields} fields, {rules} rules, "
                    f"{len(model.roles)} roles (model {model.version})", fg="green")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
@guarded
def plan(obj: Context, as_json: bool) -> None:
    """Show what `loom migrate` would change in the database."""
    from engine.storage.migrate import plan_migration

    result = plan_migration(_existing_or_empty(obj), obj.model)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str)
               if as_json else result.text())
    if result.problems:
        sys.exit(EXIT_REFUSED)


def _existing_or_empty(obj: Context):
    """The database to plan against; a SQLite file that does not exist yet is not created."""
    import sqlalchemy as sa

    from engine.storage.db import Database

    url = sa.engine.make_url(obj.config.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(url.database).exists():
            click.echo(f"{url.database} does not exist yet: planning against an empty database "
                       "(`loom migrate` creates it)")
            return Database("sqlite://")
    return obj.db


@main.command()
@click.option("--allow-destructive", is_flag=True, help="Apply steps that drop (archive) data.")
@click.option("--actor", default="cli", show_default=True, help="Who is recorded as applying it.")
@click.pass_obj
@guarded
def migrate(obj: Context, allow_destructive: bool, actor: str) -> None:
    """Apply the plan in one transaction and record the new schema version."""
    from engine.storage.migrate import apply_plan

    applied = apply_plan(obj.db, obj.model, actor=actor, allow_destructive=allow_destructive,
                         clock=obj.config.clock)
    click.echo(applied.text())
    click.secho(f"database is at model {obj.model.version}", fg="green")


@main.command()
@click.argument("target", required=False)
@click.option("--list", "list_only", is_flag=True, help="List archived (dropped) data.")
@click.option("--purge", "purge_it", is_flag=True,
              help="Instead of restoring, delete the archived data for good (same as `loom purge`).")
@click.option("--yes", is_flag=True, help="With --purge: do not ask for confirmation.")
@click.option("--actor", default="cli", show_default=True)
@click.pass_context
@guarded
def restore(ctx: click.Context, target: str | None, list_only: bool, purge_it: bool, yes: bool,
            actor: str) -> None:
    """Bring back a dropped field's values: `loom restore ENTITY.FIELD` (declare it again first)."""
    from engine.storage.migrate import list_archives, restore as restore_field

    obj: Context = ctx.obj
    if purge_it:
        if not target:
            fail("give what to purge: `loom restore --purge ENTITY[.FIELD]`", 2)
        ctx.invoke(purge, target=target, yes=yes)
        return
    if list_only or not target:
        archives = list_archives(obj.db)
        if not archives:
            click.echo("no archived data")
        for item in archives:
            click.echo(json.dumps(item, ensure_ascii=False, default=str))
        return
    entity, _, field = target.partition(".")
    if not field:
        fail("give ENTITY.FIELD, e.g. `loom restore deal.notes`", 2)
    count = restore_field(obj.db, obj.model, entity, field, actor=actor)
    click.secho(f"restored {count} values of {entity}.{field}", fg="green")
    for note in getattr(count, "notes", ()):  # values left in the archive, and why
        click.echo(f"  note: {note}")


@main.command()
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@guarded
def purge(obj: Context, target: str, yes: bool) -> None:
    """Delete archived data for good: `loom purge ENTITY.FIELD` or `loom purge ENTITY`."""
    from engine.storage.migrate import purge as purge_archive

    entity, _, field = target.partition(".")
    if not yes:
        click.confirm(f"Delete the archived data of {target} for good?", abort=True)
    count = purge_archive(obj.db, entity, field or None)
    click.echo(f"purged {count} archive{'s' if count != 1 else ''} of {target}")


@main.command()
@click.argument("entity")
@click.option("--expanded", is_flag=True, help="Show every key with presets and defaults applied.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh-CN"]))
@click.pass_obj
@guarded
def show(obj: Context, entity: str, expanded: bool, lang: str) -> None:
    """Print an entity's metadata (as written, or expanded)."""
    model = obj.model
    if not model.has_entity(entity):
        fail(f"unknown entity {entity!r}; known: {', '.join(sorted(model.entities))}", 2)
    if expanded:
        from engine.describe import describe_entity

        data = describe_entity(model.entity(entity), lang=lang)
    else:
        data = model.specs[entity]
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@main.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print the users as JSON.")
@click.pass_obj
@guarded
def uses(obj: Context, target: str, as_json: bool) -> None:
    """Print what uses ENTITY.FIELD (or ENTITY): rules, formulas, conditions, views, indexes, roles.

    Run it before dropping or renaming a field: each user must change first.
    """
    entity, _, field = target.partition(".")
    users = obj.model.users_of(entity, field or None)
    if as_json:
        click.echo(json.dumps([u.as_dict() for u in users], ensure_ascii=False, indent=2))
        return
    if not users:
        click.echo(f"nothing uses {target}")
        return
    click.echo(f"{target} is used by {len(users)} place{'s' if len(users) != 1 else ''}:")
    for use in users:
        line = f":{use.source.line}" if use.source.line is not None else ""
        click.echo(f"  {use.kind} {use.owner}: {use.description}  "
                   f"({use.source.file}{line} {json_path(use.source.path)})")


class _Kind(click.ParamType):
    """A registered document kind, looked up when the command runs (plug-ins register later)."""

    name = "kind"

    def convert(self, value, param, ctx):
        from engine.spec.kinds import registry

        if value in registry:
            return value
        self.fail(f"unknown document kind {value!r}; known: {', '.join(registry.names())}",
                  param, ctx)


@main.command()
@click.argument("kind", required=False, default="entity", type=_Kind())
def metaschema(kind: str) -> None:
    """Print the JSON Schema of a kind of metadata document, KIND (for editors)."""
    from engine.spec import metaschema as load

    click.echo(json.dumps(load(kind), ensure_ascii=False, indent=2))


@main.command("seed-demo")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="1.0 = thousands of accounts and deals, tens of thousands of orders.")
@click.option("--seed", default=20260101, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
@guarded
def seed_demo(obj: Context, scale: float, seed: int, quiet: bool) -> None:
    """Fill the database with the deterministic demo data set."""
    counts = _seed(obj, scale, seed, quiet)
    _print_counts(counts)


def _seed(obj: Context, scale: float, seed: int, quiet: bool) -> dict[str, int]:
    from engine.demo.seed import seed_demo as run_seed
    from engine.storage.versions import ensure_current

    with obj.db.read() as conn:  # before anything is written: is the schema there and current?
        ensure_current(conn, obj.model)
    return run_seed(obj.service, scale=scale, seed=seed, progress=not quiet)


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(k) for k in counts), default=0)
    for name, count in counts.items():
        click.echo(f"  {name:<{width}}  {count:>8,}")


@main.command()
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--fresh", is_flag=True, help="Delete the SQLite demo database first.")
@click.pass_obj
@guarded
def demo(obj: Context, scale: float, fresh: bool) -> None:
    """Check the shipped CRM, migrate it into the database and seed the demo data
    (in Asia/Shanghai unless LOOM_TIMEZONE says otherwise)."""
    import sqlalchemy as sa

    from engine.clock import DEMO_TIME_ZONE
    from engine.storage.migrate import apply_plan

    obj.default_time_zone(DEMO_TIME_ZONE)

    url = sa.engine.make_url(obj.config.database_url)
    if fresh and url.get_backend_name() == "sqlite" and url.database:
        from pathlib import Path

        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    started = time.monotonic()
    model = obj.model
    click.secho(f"metadata ok: {len(model.entities)} entities (model {model.version})", fg="green")
    applied = apply_plan(obj.db, model, actor="loom demo", clock=obj.config.clock)
    click.echo(f"migrated: {len(applied.steps)} step{'s' if len(applied.steps) != 1 else ''}")
    if _has_records(obj):
        click.echo("demo data already present; use --fresh to start again")
    else:
        counts = _seed(obj, scale, 20260101, quiet=False)
        click.echo("seeded:")
        _print_counts(counts)
        from engine.demo.today import seed_today

        if seed_today(obj.service, obj.runtime.actor):
            click.echo("today: a visit in 40 minutes, a qualified lead and a contract waiting "
                       "for approval (sales1, manager)")
    click.secho(f"done in {time.monotonic() - started:.1f} s; database: {obj.config.database_url}",
                fg="green")


def _has_records(obj: Context) -> bool:
    import sqlalchemy as sa

    from engine.storage.tables import build_tables

    table = build_tables(obj.model).entity("account")
    with obj.db.read() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())
