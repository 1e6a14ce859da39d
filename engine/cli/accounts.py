"""``loom user``, ``loom role``, ``loom team`` and ``loom token``: accounts from the command line.

Each command is one use case of :mod:`engine.accounts`. Exit codes as in
:mod:`engine.cli.common`: 2 usage (an unknown role), 3 refused (an unknown user or team,
a duplicate name, a weak password, account tables not migrated yet).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from engine.cli.common import fail, guarded

#: Exit code of a refused account operation (as ``EXIT_REFUSED`` in engine.cli.common).
EXIT_ACCOUNT = 3
EXIT_USAGE = 2


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The common guard, plus account errors shown as messages (exit 3); every account
    command is handed the context first (``pass_obj``) and needs an existing database."""

    @functools.wraps(fn)
    def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
        from engine.accounts import AccountError

        missing = obj.missing_database()
        if missing is not None:  # never create an empty database (or its folder) here
            fail(f"no Loom database at {missing}: run `loom demo` or `loom migrate` in the "
                 "folder that should hold it, or point --database / LOOM_DATABASE_URL at an "
                 "existing one", EXIT_ACCOUNT)

        def run() -> Any:
            try:
                return fn(obj, *args, **kwargs)
            except AccountError as exc:
                fail(str(exc), EXIT_ACCOUNT)

        return guarded(run)()

    return wrapper


def _tables(obj: Any):
    """The model's tables, after checking the account tables were migrated."""
    import sqlalchemy as sa

    from engine.storage.tables import CREDENTIALS

    with obj.db.read() as conn:
        if not sa.inspect(conn).has_table(CREDENTIALS):
            fail("the database has no account tables yet; run `loom migrate` first", EXIT_ACCOUNT)
    return obj.runtime.tables


def _check_role(obj: Any, role: str) -> None:

    if role not in obj.model.roles:
        fail(f"unknown role {role!r}; known: {', '.join(obj.model.roles) or 'none'}", EXIT_USAGE)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


# -- loom user ---------------------------------------------------------------
@click.group("user")
def user() -> None:
    """Create, list, deactivate and reactivate users; set passwords."""


@user.command("create")
@click.argument("username")
@click.option("--password", default=None, help="The password (visible to other local users; "
              "prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--email", default=None)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--role", "roles", multiple=True, help="A role from the metadata (repeatable).")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh-CN"]))
@click.pass_obj
@_guarded
def user_create(obj: Any, username: str, password: str | None, password_stdin: bool,
                email: str | None, display_name: str, roles: tuple[str, ...], lang: str) -> None:
    """Create a user (without a password they cannot log in until `loom user passwd`)."""
    from engine.accounts import create_user

    for role in roles:
        _check_role(obj, role)
    if password_stdin:
        password = _read_password(True)
    new_id = create_user(obj.db, _tables(obj), username, password=password, email=email,
                         display_name=display_name, lang=lang, roles=roles,
                         clock=obj.config.clock)
    click.secho(f"created user {username} (id {new_id})", fg="green")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
@_guarded
def user_passwd(obj: Any, username: str, password_stdin: bool) -> None:
    """Set a user's password (asked twice, or read from standard input).

    Ends every browser session of the user; their API tokens stay (`loom token revoke`)."""
    from engine.accounts import set_password

    tables = _tables(obj)
    set_password(obj.db, tables, username, _read_password(password_stdin), clock=obj.config.clock)
    click.secho(f"password of {username} changed; their browser sessions ended "
                "(API tokens kept: see `loom token list`)", fg="green")


@user.command("deactivate")
@click.argument("username")
@click.pass_obj
@_guarded
def user_deactivate(obj: Any, username: str) -> None:
    """Stop a user from logging in and revoke their tokens (their records stay)."""
    from engine.accounts import deactivate_user

    deactivate_user(obj.db, _tables(obj), username, clock=obj.config.clock)
    click.secho(f"deactivated {username}", fg="green")


@user.command("reactivate")
@click.argument("username")
@click.pass_obj
@_guarded
def user_reactivate(obj: Any, username: str) -> None:
    """Let a deactivated user log in again (their old tokens stay revoked)."""
    from engine.accounts import reactivate_user

    reactivate_user(obj.db, _tables(obj), username)
    click.secho(f"reactivated {username}", fg="green")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@_guarded
def user_list(obj: Any, as_json: bool) -> None:
    """List users with their roles."""
    from engine.accounts import list_users

    users = list_users(obj.db, _tables(obj))
    if as_json:
        click.echo(json.dumps(users, ensure_ascii=False, indent=2))
        return
    for u in users:
        state = "" if u["active"] else "  (inactive)"
        click.echo(f"{u['id']:>5}  {u['username']:<20} {','.join(u['roles']) or '-':<24} "
                   f"{u['display_name']}{state}")


# -- loom role ---------------------------------------------------------------
@click.group("role")
def role() -> None:
    """List the roles of the metadata; grant and revoke them."""


@role.command("list")
@click.pass_obj
@_guarded
def role_list(obj: Any) -> None:
    """List the roles declared in the metadata."""
    for name, r in obj.model.roles.items():
        kind = "admin" if r.admin else f"{len(r.entities)} entities"
        click.echo(f"{name:<20} {r.label.get('en'):<24} {kind}")


@role.command("grant")
@click.argument("username")
@click.argument("role_name", metavar="ROLE")
@click.pass_obj
@_guarded
def role_grant(obj: Any, username: str, role_name: str) -> None:
    """Give a user a role."""
    from engine.accounts import grant_role

    _check_role(obj, role_name)
    grant_role(obj.db, _tables(obj), username, role_name)
    click.secho(f"{username} has role {role_name}", fg="green")


@role.command("revoke")
@click.argument("username")
@click.argument("role_name", metavar="ROLE")
@click.pass_obj
@_guarded
def role_revoke(obj: Any, username: str, role_name: str) -> None:
    """Take a role away from a user."""
    from engine.accounts import revoke_role

    revoke_role(obj.db, _tables(obj), username, role_name)
    click.secho(f"{username} no longer has role {role_name}", fg="green")


# -- loom team ---------------------------------------------------------------
@click.group("team")
def team() -> None:
    """Create teams and add members."""


@team.command("create")
@click.argument("name")
@click.option("--parent", default=None, help="The team this one belongs to.")
@click.option("--manager", default=None, help="Username of the team's manager.")
@click.pass_obj
@_guarded
def team_create(obj: Any, name: str, parent: str | None, manager: str | None) -> None:
    """Create a team."""
    from engine.accounts import create_team

    new_id = create_team(obj.db, _tables(obj), name, parent=parent, manager=manager)
    click.secho(f"created team {name} (id {new_id})", fg="green")


@team.command("add")
@click.argument("team_name", metavar="TEAM")
@click.argument("username")
@click.pass_obj
@_guarded
def team_add(obj: Any, team_name: str, username: str) -> None:
    """Add a user to a team."""
    from engine.accounts import add_member

    add_member(obj.db, _tables(obj), team_name, username)
    click.secho(f"{username} is in team {team_name}", fg="green")


@team.command("list")
@click.pass_obj
@_guarded
def team_list(obj: Any) -> None:
    """List teams with their parent, manager and members."""
    from engine.accounts import list_teams

    for t in list_teams(obj.db, _tables(obj)):
        click.echo(f"{t['name']:<20} parent: {t['parent'] or '-':<12} manager: {t['manager'] or '-':<12} "
                   f"members: {', '.join(t['members']) or '-'}")


# -- loom token --------------------------------------------------------------
@click.group("token")
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Expire after this many days (default: never).")
@click.pass_obj
@_guarded
def token_create(obj: Any, username: str, name: str, expires_days: int | None) -> None:
    """Create a token; only the token is printed (it is not shown again)."""
    from engine.accounts import create_token

    expires = None
    if expires_days is not None:
        expires = obj.config.clock.now() + dt.timedelta(days=expires_days)
    click.echo(create_token(obj.db, _tables(obj), username, name=name, expires_at=expires,
                            clock=obj.config.clock))


@token.command("list")
@click.argument("username")
@click.pass_obj
@_guarded
def token_list(obj: Any, username: str) -> None:
    """List a user's tokens (never their secrets)."""
    from engine.accounts import list_tokens

    for t in list_tokens(obj.db, _tables(obj), username):
        state = "revoked" if t["revoked_at"] else "active"
        click.echo(f"{t['id']:>5}  {t['name'] or '-':<20} {state:<8} created {t['created_at']:%Y-%m-%d %H:%M}"
                   f"  expires {t['expires_at'] or 'never'}  last used {t['last_used_at'] or 'never'}")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_obj
@_guarded
def token_revoke(obj: Any, token_id: int) -> None:
    """Revoke a token by its id (see `loom token list`)."""
    from engine.accounts import revoke_token

    revoke_token(obj.db, _tables(obj), token_id, clock=obj.config.clock)
    click.secho(f"revoked token {token_id}", fg="green")


#: The command groups this module adds to ``loom``.
GROUPS = (user, role, team, token)


def register(group: click.Group) -> None:
    """Add the account commands to the ``loom`` command group."""
    for command in GROUPS:
        group.add_command(command)
