"""The ``loom`` command line. Each command is one use case: load, act, report.

Exit codes: 0 ok; 1 the metadata has errors; 2 usage error; 3 the database
refused (a migration needing --allow-destructive, a stale model, nothing to
restore); 4 the database could not be reached or failed.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

import click

from engine.config import Config, load_model
from engine.spec.errors import MetadataInvalid

EXIT_METADATA = 1
EXIT_REFUSED = 3
EXIT_DATABASE = 4


class _Context:
    def __init__(self, database: str | None, metadata: tuple[str, ...]) -> None:
        self.config = Config.from_env(database=database, metadata=list(metadata) or None)
        self._model = None
        self._db = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.config)
        return self._model

    @property
    def db(self):
        if self._db is None:
            from engine.storage.db import Database

            self._db = Database(self.config.database_url)
        return self._db


def _fail(message: str, code: int) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Loom's expected failures into messages and exit codes, never tracebacks."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlalchemy as sa

        from engine.storage.versions import ModelOutdated

        try:
            return fn(*args, **kwargs)
        except MetadataInvalid as exc:
            for error in exc.errors:
                click.secho(str(error), fg="red", err=True)
            _fail(f"{len(exc.errors)} error{'s' if len(exc.errors) != 1 else ''} in the metadata; "
                  "nothing was changed.", EXIT_METADATA)
        except ModelOutdated as exc:
            _fail(str(exc), EXIT_REFUSED)
        except _refusals() as exc:
            _fail(str(exc.args[0] if exc.args else exc), EXIT_REFUSED)
        except KeyError as exc:  # an unknown entity or field named on the command line
            _fail(str(exc.args[0] if exc.args else exc), 2)
        except _record_errors() as exc:
            _fail(f"refused by the record service: {exc}", EXIT_REFUSED)
        except sa.exc.OperationalError as exc:
            _fail(f"database error: {str(exc.orig).strip().splitlines()[0]}", EXIT_DATABASE)
        except sa.exc.SQLAlchemyError as exc:
            _fail(f"database error: {str(exc).strip().splitlines()[0]}", EXIT_DATABASE)

    return wrapper


def _record_errors() -> tuple[type[BaseException], ...]:
    from engine.records import RecordError

    return (RecordError,)


def _refusals() -> tuple[type[BaseException], ...]:
    from engine.storage.plan import ArchiveNotFound, MigrationError

    return (MigrationError, ArchiveNotFound)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database", envvar="LOOM_DATABASE_URL", default=None,
              help="Database URL (default: sqlite:///instance/loom.db).")
@click.option("--metadata", "-m", multiple=True, type=click.Path(),
              help="Metadata folder (repeatable; default: $LOOM_METADATA_DIRS or the shipped CRM).")
@click.pass_context
def main(ctx: click.Context, database: str | None, metadata: tuple[str, ...]) -> None:
    """Loom: a metadata-driven CRM engine."""
    try:  # an unknown LOOM_TIMEZONE stops every command before it starts
        ctx.obj = _Context(database, metadata)
    except ValueError as exc:  # engine.clock.ConfigurationError
        _fail(f"configuration error: {exc}", 2)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(obj: _Context, as_json: bool) -> None:
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
        click.echo(json.dumps({"ok": True, "version": model.version, "entities": len(model.entities),
                               "fields": fields, "rules": rules, "roles": len(model.roles)}))
    else:
        click.secho(f"ok: {len(model.entities)} entities, {fields} fields, {rules} rules, "
                    f"{len(model.roles)} roles (model {model.version})", fg="green")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
@_guarded
def plan(obj: _Context, as_json: bool) -> None:
    """Show what `loom migrate` would change in the database."""
    from engine.storage.migrate import plan_migration

    result = plan_migration(_existing_or_empty(obj), obj.model)
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str)
               if as_json else result.text())
    if result.problems:
        sys.exit(EXIT_REFUSED)


def _existing_or_empty(obj: _Context):
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
@_guarded
def migrate(obj: _Context, allow_destructive: bool, actor: str) -> None:
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
@_guarded
def restore(ctx: click.Context, target: str | None, list_only: bool, purge_it: bool, yes: bool,
            actor: str) -> None:
    """Bring back a dropped field's values: `loom restore ENTITY.FIELD` (declare it again first)."""
    from engine.storage.migrate import list_archives, restore as restore_field

    obj: _Context = ctx.obj
    if purge_it:
        if not target:
            _fail("give what to purge: `loom restore --purge ENTITY[.FIELD]`", 2)
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
        _fail("give ENTITY.FIELD, e.g. `loom restore deal.notes`", 2)
    count = restore_field(obj.db, obj.model, entity, field, actor=actor)
    click.secho(f"restored {count} values of {entity}.{field}", fg="green")
    for note in getattr(count, "notes", ()):  # values left in the archive, and why
        click.echo(f"  note: {note}")


@main.command()
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@_guarded
def purge(obj: _Context, target: str, yes: bool) -> None:
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
@_guarded
def show(obj: _Context, entity: str, expanded: bool, lang: str) -> None:
    """Print an entity's metadata (as written, or expanded)."""
    model = obj.model
    if not model.has_entity(entity):
        _fail(f"unknown entity {entity!r}; known: {', '.join(sorted(model.entities))}", 2)
    if expanded:
        from engine.describe import describe_entity

        data = describe_entity(model.entity(entity), lang=lang)
    else:
        data = model.specs[entity]
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@main.command()
@click.argument("kind", required=False, default="entity",
                type=click.Choice(["entity", "extends", "presets", "role"]))
def metaschema(kind: str) -> None:
    """Print the JSON Schema of a kind of metadata file (for editors)."""
    from engine.spec import metaschema as load

    click.echo(json.dumps(load(kind), ensure_ascii=False, indent=2))


@main.command("seed-demo")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="1.0 = thousands of accounts and deals, tens of thousands of orders.")
@click.option("--seed", default=20260101, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
@_guarded
def seed_demo(obj: _Context, scale: float, seed: int, quiet: bool) -> None:
    """Fill the database with the deterministic demo data set."""
    counts = _seed(obj, scale, seed, quiet)
    _print_counts(counts)


def _seed(obj: _Context, scale: float, seed: int, quiet: bool) -> dict[str, int]:
    from engine.demo.seed import seed_demo as run_seed
    from engine.records import RecordService
    from engine.storage.versions import ensure_current

    with obj.db.read() as conn:  # before anything is written: is the schema there and current?
        ensure_current(conn, obj.model)
    service = RecordService(obj.db, obj.model, clock=obj.config.clock)
    return run_seed(service, scale=scale, seed=seed, progress=not quiet)


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(k) for k in counts), default=0)
    for name, count in counts.items():
        click.echo(f"  {name:<{width}}  {count:>8,}")


@main.command()
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--fresh", is_flag=True, help="Delete the SQLite demo database first.")
@click.pass_obj
@_guarded
def demo(obj: _Context, scale: float, fresh: bool) -> None:
    """Check the shipped CRM, migrate it into the database and seed the demo data."""
    import sqlalchemy as sa

    from engine.storage.migrate import apply_plan

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
    click.secho(f"done in {time.monotonic() - started:.1f} s; database: {obj.config.database_url}",
                fg="green")


def _has_records(obj: _Context) -> bool:
    import sqlalchemy as sa

    from engine.storage.tables import build_tables

    table = build_tables(obj.model).entity("account")
    with obj.db.read() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())


def _register_accounts() -> None:
    from engine.cli_accounts import register

    register(main)


_register_accounts()


if __name__ == "__main__":  # pragma: no cover
    main()
