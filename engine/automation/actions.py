"""The actions registry: what a workflow can do, one class per action kind.

Each action class checks its arguments when the metadata loads (:meth:`Action.check`,
errors with file and path, returning what :meth:`Action.run` needs) and runs inside the
run's unit of work (:class:`RunContext`): every write goes through the record service as
the workflow's actor, so rules, permissions, audit and events apply, and the run's
writes commit together with its run row or not at all.

Actions that reach outside the database (e-mail, webhooks) write an outbox event in the
run's transaction; the relay hands it to a delivery job after commit (see
:mod:`.delivery`), so a rolled-back run sends nothing and a committed one is delivered
even if Redis was down at commit time.

A new action is one subclass and one :func:`register` call.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, ClassVar

import sqlalchemy as sa

from engine.clock import clock_for_evaluation
from engine.model import Entity, Field, Text
from engine.rules import UNKNOWN, Expression
from engine.storage import events

#: Outbox events of deliveries the relay hands to jobs (never to workflows).
MAIL_EVENT, WEBHOOK_EVENT = "automation.mail", "automation.webhook"
#: Most related records one ``update_related`` action changes.
RELATED_LIMIT = 1000
#: ``{record.name}``, ``{old.stage}``, ``{actor.id}`` in notification texts.
PLACEHOLDER = re.compile(r"\{(record|old|actor)\.([a-z_][a-z0-9_]*)\}")


@dataclass
class RunContext:
    """What an action runs with (built by :mod:`.runner`)."""

    unit: Any                 # engine.records.unit.Unit
    snapshot: Any             # engine.runtime.Snapshot
    workflow: Any             # .spec.Workflow
    record: dict[str, Any]    # the record now (the run's own writes included)
    old: dict[str, Any]       # before the triggering update (equal to record otherwise)
    run_id: int
    actor: Any                # engine.permissions.Actor
    now: dt.datetime          # aware UTC
    depth: int
    quiet: bool = False
    outcomes: list[dict[str, Any]] = dc_field(default_factory=list)
    #: Workflows run by ``run_workflow`` inside this run (a loop stops at the second visit).
    visited: tuple[str, ...] = ()

    @property
    def entity(self) -> str:
        return self.workflow.entity

    @property
    def record_id(self) -> int:
        return self.record["id"]

    def bindings(self) -> dict[str, Any]:
        """CEL variables: record.*, old.*, actor.id (nulls unbound)."""
        to_cel = self.snapshot.service.plan(self.entity).to_cel
        out: dict[str, Any] = {}
        for prefix, values in (("record", self.record), ("old", self.old)):
            for name, value in values.items():
                if value is None or name not in to_cel:
                    continue
                convert = to_cel[name]
                out[f"{prefix}.{name}"] = convert(value) if convert else value
        if self.actor.user_id is not None:
            out["actor.id"] = self.actor.user_id
        return out

    def reload(self) -> None:
        self.record = dict(self.unit.get(self.entity, self.record_id))

    def update_record(self, values: dict[str, Any]) -> None:
        """Change the run's record (at the version the run has seen: a concurrent change
        makes the run fail and be retried, never overwrite it silently)."""
        self.record = dict(self.unit.update(self.entity, self.record_id, values,
                                            version=self.record.get("version")))

    def update_other(self, entity: str, record_id: int, values: dict[str, Any]) -> None:
        """Change another record, at the version this unit reads now."""
        table = self.snapshot.tables.entity(entity)
        version = self.unit.connection().execute(
            sa.select(table.c.version).where(table.c.id == record_id)).scalar()
        self.unit.update(entity, record_id, values, version=version)

    def deliver(self, event: str, payload: dict[str, Any]) -> None:
        """An outbox event for a delivery job, in the run's transaction."""
        core = self.snapshot.service
        context = events.WriteContext(self.actor, events.Cause.workflow(
            self.run_id, self.workflow.name), self.depth, self.quiet)
        at = self.now.astimezone(dt.UTC).replace(tzinfo=None)
        self.unit.connection().execute(sa.insert(core.tables.outbox), events.outbox_row(
            context, at, event, self.entity, core.model.version, payload,
            record_id=self.record_id))


class ActionFailed(RuntimeError):
    """An action could not do its work (the run fails with this message and is retried)."""


class Action:
    """One action kind. ``check`` runs at load time, ``run`` in the run's unit."""

    name: ClassVar[str]
    summary: ClassVar[str]

    def check(self, check: Any, args: Any) -> Any:  # check: spec.Checker
        raise NotImplementedError

    def run(self, ctx: RunContext, args: Any) -> dict[str, Any]:
        """Do the work; return the outcome recorded on the run (``{"outcome": text, ...}``)."""
        raise NotImplementedError


ACTIONS: dict[str, Action] = {}


def register(action: Action) -> Action:
    if action.name in ACTIONS:
        raise ValueError(f"action {action.name!r} is already registered")
    ACTIONS[action.name] = action
    return action


# -- values ---------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """A field's value in an action: a literal, or a CEL expression over record/old/actor."""

    field: str
    target: Field | None  # None for ``owner``
    literal: Any = None
    expr: Expression | None = None

    def resolve(self, ctx: RunContext) -> Any:
        if self.expr is None:
            return self.literal
        result = self.expr.evaluate(ctx.bindings())
        if result is UNKNOWN or result is None:
            return None
        if self.target is None:
            return int(result)
        f = self.target
        return f.type.to_json(f, f.type.from_cel(f, result))


def check_values(check: Any, entity: Entity, spec: Any, *sub: str | int) -> dict[str, Value]:
    """``{field: literal | {expr: CEL}}`` for ``entity``'s fields, checked."""
    if not isinstance(spec, Mapping) or not spec:
        check.error("expected a mapping of field names to values", *sub)
        return {}
    out = {}
    for name, raw in spec.items():
        f = check.field(entity, name, *sub, name, writable=True)
        if f is None:
            continue
        target = None if f == "owner" else f
        if isinstance(raw, Mapping):
            if set(raw) != {"expr"}:
                check.error("a computed value is {expr: CEL}", *sub, name)
                continue
            expect = "int" if target is None else target.type.cel_type(target)
            expr = check.expression(raw["expr"], expect, *sub, name, "expr")
            if expr is not None:
                out[name] = Value(name, target, expr=expr)
            continue
        if raw is not None and target is not None:
            try:
                coerced = target.type.coerce(target, raw)
                problems = list(target.type.check(target, coerced))
            except Exception as exc:  # noqa: BLE001 - FieldValueError and friends
                problems = [exc]
            if problems:
                message = getattr(problems[0], "message", None)
                text = message.get("en") if isinstance(message, Mapping) else str(problems[0])
                check.error(f"{raw!r} doesn't fit field {name!r} of {entity.name!r}: {text}",
                            *sub, name, code="value")
                continue
        elif raw is not None and not (isinstance(raw, int) and not isinstance(raw, bool)):
            check.error("owner takes a user id or {expr: CEL}", *sub, name, code="value")
            continue
        out[name] = Value(name, target, literal=raw)
    return out


def resolve_values(ctx: RunContext, values: Mapping[str, Value]) -> dict[str, Any]:
    return {name: v.resolve(ctx) for name, v in values.items()}


def _only(check: Any, args: Any, allowed: set[str], required: set[str]) -> bool:
    if not isinstance(args, Mapping):
        check.error("expected a mapping of arguments")
        return False
    ok = True
    for key in args:
        if key not in allowed:
            check.error(f"unknown argument {key!r}; known: {', '.join(sorted(allowed))}", key,
                        code="key")
            ok = False
    for key in sorted(required - set(args)):
        check.error(f"missing argument {key!r}", code="required")
        ok = False
    return ok


# -- set_fields ------------------------------------------------------------------

class SetFields(Action):
    name = "set_fields"
    summary = "set fields of the record (values or CEL)"

    def check(self, check: Any, args: Any) -> Any:
        return check_values(check, check.entity, args)

    def run(self, ctx: RunContext, args: Mapping[str, Value]) -> dict[str, Any]:
        values = resolve_values(ctx, args)
        ctx.update_record(values)
        return {"outcome": "set " + ", ".join(values)}


# -- create_record ---------------------------------------------------------------

@dataclass(frozen=True)
class CreateArgs:
    entity: str
    values: Mapping[str, Value]
    link_back: str | None


class CreateRecord(Action):
    name = "create_record"
    summary = "create a record (related or not), fields from values or CEL"

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"entity", "values", "link_back"}, {"entity", "values"}):
            return None
        target = check.target(args["entity"], "entity")
        if target is None:
            return None
        values = check_values(check, target, args["values"], "values")
        link = args.get("link_back")
        if link is not None:
            f = check.field(check.entity, link, "link_back", writable=True)
            if f is not None and (f == "owner" or f.target != target.name):
                check.error(f"field {link!r} of {check.entity.name!r} does not point at "
                            f"{target.name!r}", "link_back")
        return CreateArgs(target.name, values, link)

    def run(self, ctx: RunContext, args: CreateArgs) -> dict[str, Any]:
        created = ctx.unit.create(args.entity, resolve_values(ctx, args.values))
        if args.link_back:
            ctx.update_record({args.link_back: created["id"]})
        return {"outcome": f"created {args.entity} {created['id']}",
                "record": {"entity": args.entity, "id": created["id"]}}


# -- update_related --------------------------------------------------------------

@dataclass(frozen=True)
class RelatedArgs:
    entity: str
    via: str
    values: Mapping[str, Value]
    filter: Any
    mode: str = "children"  # or "parent": the record this one points at


class UpdateRelated(Action):
    name = "update_related"
    summary = ("update related records: those of another entity that point here (`via` is "
               "their relation), or the one this record points at (`via` is this record's)")

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"entity", "via", "set", "filter"}, {"entity", "via", "set"}):
            return None
        target = check.target(args["entity"], "entity")
        if target is None:
            return None
        via = args["via"]
        here = check.entity
        if target.has_field(via) and target.field(via).target == here.name:
            check.field(target, via, "via")
            mode = "children"
        elif here.has_field(via) and here.field(via).target == target.name:
            check.field(here, via, "via")
            mode = "parent"
            if "filter" in args:
                check.error("a filter picks among the records that point here; this 'via' "
                            "names the one record this record points at", "filter")
        else:
            check.error(f"neither {target.name}.{via} points at {here.name!r} nor "
                        f"{here.name}.{via} at {target.name!r}", "via")
            return None
        if "filter" in args:
            check.filter(target.name, args["filter"], "filter")
        return RelatedArgs(target.name, via, check_values(check, target, args["set"], "set"),
                           args.get("filter"), mode)

    def run(self, ctx: RunContext, args: RelatedArgs) -> dict[str, Any]:
        values = resolve_values(ctx, args.values)
        if args.mode == "parent":
            parent = ctx.record.get(args.via)
            if parent is None:
                return {"outcome": f"no {args.entity} to update ({args.via} is empty)"}
            ctx.update_other(args.entity, parent, values)
            return {"outcome": f"updated {args.entity} {parent}",
                    "record": {"entity": args.entity, "id": parent}}
        service = ctx.snapshot.service
        table = service.tables.entity(args.entity)
        where = table.c[args.via] == ctx.record_id
        if args.filter:
            from engine.filters import FilterCompiler
            where = sa.and_(where, FilterCompiler(service.model, service.tables,
                                                  clock=service.clock).where(args.entity,
                                                                             args.filter))
        ids = ctx.unit.connection().execute(
            sa.select(table.c.id).where(where).order_by(table.c.id).limit(RELATED_LIMIT)
        ).scalars().all()
        for record_id in ids:
            ctx.update_other(args.entity, record_id, values)
        return {"outcome": f"updated {len(ids)} {args.entity}"}


# -- assign_owner ----------------------------------------------------------------

@dataclass(frozen=True)
class AssignArgs:
    strategy: str            # user, round_robin, least_loaded
    user: str | None
    team: str | None
    role: str | None
    field: str


class AssignOwner(Action):
    name = "assign_owner"
    summary = "assign the record to a user, round-robin or least-loaded in a team or role"

    STRATEGIES = ("round_robin", "least_loaded")

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"user", "strategy", "team", "role", "field"}, set()):
            return None
        field = args.get("field", "owner")
        if field != "owner":
            f = check.field(check.entity, field, "field", writable=True)
            if f is not None and not f.type.refers_to_users:
                check.error(f"field {field!r} is not a user field", "field")
        if "user" in args:
            if set(args) - {"user", "field"}:
                check.error("'user' assigns one user: give no strategy, team or role")
                return None
            return AssignArgs("user", args["user"], None, None, field)
        strategy = args.get("strategy")
        if strategy not in self.STRATEGIES:
            check.error(f"give 'user', or 'strategy' ({', '.join(self.STRATEGIES)}) with a "
                        "'team' or a 'role'", "strategy" if strategy else (), code="required")
            return None
        if ("team" in args) == ("role" in args):
            check.error("a strategy picks among the members of exactly one 'team' or 'role'",
                        code="required")
            return None
        return AssignArgs(strategy, None, args.get("team"), args.get("role"), field)

    def run(self, ctx: RunContext, args: AssignArgs) -> dict[str, Any]:
        conn = ctx.unit.connection()
        tables = ctx.snapshot.tables
        users = tables.users
        if args.strategy == "user":
            user_id = conn.execute(sa.select(users.c.id).where(
                users.c.username == args.user, users.c.active.is_(True))).scalar()
            if user_id is None:
                raise ActionFailed(f"user {args.user!r} does not exist or is inactive")
        else:
            candidates = self._candidates(conn, tables, args)
            if not candidates:
                group = f"team {args.team!r}" if args.team else f"role {args.role!r}"
                raise ActionFailed(f"{group} has no active member to assign to")
            if args.strategy == "round_robin":
                from engine.records import autonumber
                turn = autonumber.take(conn, tables, f"wf:{ctx.workflow.name}"[:63], "assign",
                                       args.team or f"role:{args.role}")
                user_id = candidates[(turn - 1) % len(candidates)]
            else:
                table = tables.entity(ctx.entity)
                column = table.c[args.field]
                counts = dict(conn.execute(sa.select(column, sa.func.count()).where(
                    column.in_(candidates)).group_by(column)).all())
                user_id = min(candidates, key=lambda u: (counts.get(u, 0), u))
        ctx.update_record({args.field: user_id})
        return {"outcome": f"assigned {args.field} to user {user_id}", "user_id": user_id}

    @staticmethod
    def _candidates(conn: sa.Connection, tables: Any, args: AssignArgs) -> list[int]:
        users = tables.users
        if args.team is not None:
            members, teams = tables.team_members, tables.teams
            query = (sa.select(users.c.id).join(members, members.c.user_id == users.c.id)
                     .join(teams, teams.c.id == members.c.team_id)
                     .where(teams.c.name == args.team))
        else:
            roles = tables.user_roles
            query = (sa.select(users.c.id).join(roles, roles.c.user_id == users.c.id)
                     .where(roles.c.role == args.role))
        return list(conn.execute(query.where(users.c.active.is_(True))
                                 .order_by(users.c.id)).scalars())


# -- notify ----------------------------------------------------------------------

#: Recipients a notification may name as plain strings.
RECIPIENTS = ("owner", "owner_manager", "actor")


@dataclass(frozen=True)
class NotifyArgs:
    to: tuple[Any, ...]
    title: Text
    body: Text | None
    email: bool
    kind: str


def check_template(check: Any, text: Any, *sub: str | int) -> Text | None:
    if not isinstance(text, (str, Mapping)):
        check.error("expected a text or {en, zh-CN}", *sub)
        return None
    value = Text.of(text)
    for lang, source in value.values.items():
        for head, name in PLACEHOLDER.findall(source):
            if head == "actor":
                if name != "id":
                    check.error(f"{{actor.{name}}}: only {{actor.id}} is known", *sub, lang)
            elif not (check.entity.has_field(name) or name in ("id", "owner", "created_at",
                                                                  "updated_at")):
                check.error(f"{{{head}.{name}}}: unknown field {name!r} of "
                            f"{check.entity.name!r}", *sub, lang, code="unknown")
            else:
                check.use(check.entity.name, name if check.entity.has_field(name) else None,
                          f"workflow {check.workflow!r} (text)")
    return value


def render(ctx: RunContext, text: Text) -> dict[str, str]:
    """Fill a text's placeholders from the run's record (display values of relations)."""
    out = {}
    for lang, source in text.values.items():
        def fill(match: re.Match, lang: str = lang) -> str:
            head, name = match.groups()
            if head == "actor":
                return str(ctx.actor.user_id or "")
            values = ctx.record if head == "record" else ctx.old
            return display(ctx, name, values.get(name), lang)
        out[lang] = PLACEHOLDER.sub(fill, source)
    return out


def display(ctx: RunContext, name: str, value: Any, lang: str) -> str:
    """A value as a person reads it: an option's label, a related record's name, a user's."""
    if value is None:
        return ""
    model = ctx.snapshot.model
    entity = model.entity(ctx.entity)
    if name == "owner" or (entity.has_field(name) and entity.field(name).type.refers_to_users):
        users = ctx.snapshot.tables.users
        row = ctx.unit.connection().execute(sa.select(users.c.display_name, users.c.username)
                                            .where(users.c.id == value)).first()
        return (row.display_name or row.username) if row else str(value)
    if not entity.has_field(name):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    f = entity.field(name)
    if f.options:
        for option in f.options:
            if option.value == value:
                return option.label.get(lang)
    if f.target and model.has_entity(f.target):
        target = model.entity(f.target)
        table = ctx.snapshot.tables.entity(f.target)
        shown = ctx.unit.connection().execute(
            sa.select(table.c[target.display_field]).where(table.c.id == value)).scalar()
        return str(shown) if shown is not None else str(value)
    if isinstance(value, dt.datetime):
        # In the organisation's time zone: a reminder says the visit's wall time.
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)  # stored as naive UTC
        return value.astimezone(ctx.snapshot.clock.zone).strftime("%Y-%m-%d %H:%M")
    if f.type.name in ("money", "decimal") and not isinstance(value, bool):
        try:
            return f"{float(value):,.{f.scale if f.scale is not None else 2}f}"
        except (TypeError, ValueError):
            return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class Notify(Action):
    name = "notify"
    summary = "notify users in the app (and by e-mail)"

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"to", "title", "body", "email", "kind"}, {"to", "title"}):
            return None
        to = args["to"] if isinstance(args["to"], list) else [args["to"]]
        recipients: list[Any] = []
        for i, item in enumerate(to):
            if item in RECIPIENTS:
                recipients.append(item)
            elif isinstance(item, Mapping) and len(item) == 1 and next(iter(item)) in (
                    "user", "role", "field"):
                key, value = next(iter(item.items()))
                if key == "field":
                    f = check.field(check.entity, value, "to", i, "field")
                    if f is not None and f != "owner" and not f.type.refers_to_users:
                        check.error(f"field {value!r} is not a user field", "to", i, "field")
                recipients.append((key, value))
            else:
                check.error(f"unknown recipient {item!r}: give one of {', '.join(RECIPIENTS)}, "
                            "{user: USERNAME}, {role: ROLE} or {field: USER_FIELD}", "to", i)
        title = check_template(check, args["title"], "title")
        body = check_template(check, args["body"], "body") if "body" in args else None
        kind = args.get("kind", "workflow")
        if not isinstance(kind, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", kind):
            check.error("kind is a short identifier such as reminder or approval", "kind")
        if title is None:
            return None
        return NotifyArgs(tuple(recipients), title, body, bool(args.get("email", False)), kind)

    def run(self, ctx: RunContext, args: NotifyArgs) -> dict[str, Any]:
        if ctx.quiet:
            return {"outcome": "not sent: the change asked for no notifications"}
        user_ids = recipients(ctx, args.to)
        if not user_ids:
            return {"outcome": "no recipient"}
        title = render(ctx, args.title)
        body = render(ctx, args.body) if args.body else None
        from engine.automation import notifications
        at = ctx.now.astimezone(dt.UTC).replace(tzinfo=None)
        sent = notifications.notify(ctx.unit.connection(), ctx.snapshot.tables, user_ids,
                                    kind=args.kind, title=title, body=body, entity=ctx.entity,
                                    record_id=ctx.record_id, run_id=ctx.run_id, at=at)
        if args.email:
            ctx.deliver(MAIL_EVENT, {"user_ids": sorted(user_ids), "title": title, "body": body,
                                     "entity": ctx.entity, "record_id": ctx.record_id})
        return {"outcome": f"notified {sent} user(s)" + (", e-mail queued" if args.email else ""),
                "user_ids": sorted(user_ids)}


def recipients(ctx: RunContext, to: tuple[Any, ...]) -> set[int]:
    """User ids of a notification's recipients (inactive users dropped)."""
    conn = ctx.unit.connection()
    tables = ctx.snapshot.tables
    users = tables.users
    found: set[int] = set()
    for item in to:
        if item == "owner" and ctx.record.get("owner"):
            found.add(ctx.record["owner"])
        elif item == "actor" and ctx.actor.user_id is not None:
            found.add(ctx.actor.user_id)
        elif item == "owner_manager" and ctx.record.get("owner"):
            found |= managers_of(conn, tables, ctx.record["owner"])
        elif isinstance(item, tuple):
            key, value = item
            if key == "user":
                found |= set(conn.execute(sa.select(users.c.id).where(
                    users.c.username == value)).scalars())
            elif key == "role":
                roles = tables.user_roles
                found |= set(conn.execute(sa.select(roles.c.user_id).where(
                    roles.c.role == value)).scalars())
            elif key == "field" and ctx.record.get(value):
                found.add(ctx.record[value])
    if not found:
        return set()
    return set(conn.execute(sa.select(users.c.id).where(
        users.c.id.in_(found), users.c.active.is_(True))).scalars())


def managers_of(conn: sa.Connection, tables: Any, user_id: int) -> set[int]:
    """The managers of the user's teams, through the team tree: a team without a manager
    (or managed by the user) answers with its parent's manager, and so on up."""
    teams, members = tables.teams, tables.team_members
    tree = {row.id: (row.parent_id, row.manager_id) for row in conn.execute(
        sa.select(teams.c.id, teams.c.parent_id, teams.c.manager_id))}
    starts = set(conn.execute(sa.select(members.c.team_id).where(
        members.c.user_id == user_id)).scalars())
    starts |= {team for team, (_parent, manager) in tree.items() if manager == user_id}
    found: set[int] = set()
    for team in starts:
        seen: set[int] = set()
        while team is not None and team not in seen:
            seen.add(team)
            parent, manager = tree.get(team, (None, None))
            if manager is not None and manager != user_id:
                found.add(manager)
                break
            team = parent
    return found


# -- webhook ---------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookArgs:
    url: str
    body: Mapping[str, Any]
    secret_env: str | None
    timeout: float
    retries: int


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_ENV = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class Webhook(Action):
    name = "webhook"
    summary = "HTTP POST a JSON body, signed with HMAC-SHA256, retried with backoff"

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"url", "body", "secret_env", "timeout", "retries"}, {"url"}):
            return None
        url = args["url"]
        if not isinstance(url, str) or not _URL.match(url):
            check.error(f"{url!r} is not an http(s) URL", "url", code="url")
            return None
        body: dict[str, Any] = {}
        for key, raw in (args.get("body") or {}).items():
            if isinstance(raw, Mapping) and set(raw) == {"expr"}:
                expr = check.expression(raw["expr"], None, "body", key, "expr")
                if expr is not None:
                    body[key] = expr
            elif isinstance(raw, (str, int, float, bool)) or raw is None:
                body[key] = raw
            else:
                check.error("a body value is a literal or {expr: CEL}", "body", key)
        secret = args.get("secret_env")
        if secret is not None and (not isinstance(secret, str) or not _ENV.match(secret)):
            check.error("secret_env names an environment variable (A-Z, 0-9, _)", "secret_env")
        timeout = args.get("timeout", 5)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 30:
            check.error("timeout is a number of seconds from 0 to 30", "timeout")
        retries = args.get("retries", 3)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
            check.error("retries is a whole number from 0 to 10", "retries")
        return WebhookArgs(url, body, secret, float(timeout) if isinstance(timeout, (int, float))
                           else 5.0, retries if isinstance(retries, int) else 3)

    def run(self, ctx: RunContext, args: WebhookArgs) -> dict[str, Any]:
        bindings = ctx.bindings()
        body: dict[str, Any] = {"workflow": ctx.workflow.name, "run": ctx.run_id,
                                "entity": ctx.entity, "record_id": ctx.record_id}
        for key, value in args.body.items():
            if isinstance(value, Expression):
                result = value.evaluate(bindings)
                value = None if result is UNKNOWN else _json_safe(result)
            body[key] = value
        ctx.deliver(WEBHOOK_EVENT, {"url": args.url, "body": body, "secret_env": args.secret_env,
                                    "timeout": args.timeout, "retries": args.retries})
        return {"outcome": f"POST {args.url} queued"}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# -- run_workflow ----------------------------------------------------------------

class RunWorkflow(Action):
    name = "run_workflow"
    summary = "run another workflow of the same entity on the record, in this run"

    def check(self, check: Any, args: Any) -> Any:
        if not _only(check, args, {"workflow"}, {"workflow"}):
            return None
        return args["workflow"]

    def run(self, ctx: RunContext, args: str) -> dict[str, Any]:
        return run_nested(ctx, args)


#: Workflows one run may nest through ``run_workflow`` (and the causal depth limit).
MAX_DEPTH = 5


def run_actions(ctx: RunContext, workflow: Any) -> None:
    """Run ``workflow``'s actions in order, recording each outcome on ``ctx``."""
    with clock_for_evaluation(ctx.snapshot.clock):
        for index, spec in enumerate(workflow.actions):
            outcome = ACTIONS[spec.kind].run(ctx, spec.args)
            ctx.outcomes.append({"action": spec.kind, "index": index,
                                 **({"workflow": workflow.name}
                                    if workflow.name != ctx.workflow.name else {}),
                                 **outcome})


def run_nested(ctx: RunContext, name: str) -> dict[str, Any]:
    """The ``run_workflow`` action: another workflow of the entity, in this run's unit."""
    try:
        workflow = dict(ctx.snapshot.model.part("workflows")).get(name)
    except KeyError:
        workflow = None
    if workflow is None:
        raise ActionFailed(f"workflow {name!r} is not declared")
    if workflow.entity != ctx.entity:
        raise ActionFailed(f"workflow {name!r} is on {workflow.entity!r}, not {ctx.entity!r}")
    if name in ctx.visited or len(ctx.visited) >= MAX_DEPTH:
        raise ActionFailed(f"workflow {name!r} would run inside itself "
                           f"({' -> '.join(ctx.visited + (name,))}); stopped")
    child = RunContext(unit=ctx.unit, snapshot=ctx.snapshot, workflow=workflow, record=ctx.record,
                       old=ctx.old, run_id=ctx.run_id, actor=ctx.actor, now=ctx.now,
                       depth=ctx.depth, quiet=ctx.quiet, outcomes=ctx.outcomes,
                       visited=ctx.visited + (name,))
    if workflow.condition is not None and not workflow.condition.holds(child.bindings()):
        return {"outcome": f"workflow {name!r}: condition does not hold"}
    run_actions(child, workflow)
    ctx.record = child.record
    return {"outcome": f"ran workflow {name!r}"}


# -- the public pool ---------------------------------------------------------------

POOL_ENTITY, POOLS = "account", "customer_pool"


@dataclass(frozen=True)
class PoolArgs:
    pool: str | None      # a pool's name (its display field), None: the record's own pool
    reason: Text | None


def _pool_args(check: Any, args: Any, *, needs_pool: bool) -> PoolArgs | None:
    allowed = {"pool", "reason"} if not needs_pool else {"pool"}
    if not _only(check, args, allowed, {"pool"} if needs_pool else set()):
        return None
    if check.entity.name != POOL_ENTITY or not check.model.has_entity(POOLS):
        check.error(f"pool actions work on {POOL_ENTITY} records, whose 'pool' points at "
                    f"{POOLS}")
        return None
    pool = args.get("pool")
    if pool is not None and (not isinstance(pool, str) or not pool.strip()):
        check.error("pool names a public pool (its name)", "pool")
    reason = check_template(check, args["reason"], "reason") if "reason" in args else None
    return PoolArgs(pool, reason)


def _pool_id(ctx: RunContext, name: str | None) -> int | None:
    if name is None:
        return None
    entity = ctx.snapshot.model.entity(POOLS)
    table = ctx.snapshot.tables.entity(POOLS)
    found = ctx.unit.connection().execute(sa.select(table.c.id).where(
        table.c[entity.display_field] == name)).scalar()
    if found is None:
        raise ActionFailed(f"there is no public pool named {name!r}")
    return found


class ReturnToPool(Action):
    name = "return_to_pool"
    summary = "return a customer to its public pool (or another): owner cleared, previous owner kept"

    def check(self, check: Any, args: Any) -> Any:
        return _pool_args(check, args, needs_pool=False)

    def run(self, ctx: RunContext, args: PoolArgs) -> dict[str, Any]:
        from engine.automation import pool

        reason = render(ctx, args.reason) if args.reason else None
        text_reason = None
        if reason:
            en, zh = reason.get("en", ""), reason.get("zh-CN", "")
            text_reason = en if not zh or zh == en else f"{en} / {zh}"
        previous = ctx.record.get("owner")
        ctx.record = dict(pool.return_to_pool(ctx.unit, ctx.record_id, reason=text_reason,
                                              pool_id=_pool_id(ctx, args.pool)))
        if previous is None:
            return {"outcome": "already in the pool"}
        return {"outcome": f"returned to the pool (previous owner: user {previous})"}


class MoveToPool(Action):
    name = "move_to_pool"
    summary = "move a customer to another public pool"

    def check(self, check: Any, args: Any) -> Any:
        return _pool_args(check, args, needs_pool=True)

    def run(self, ctx: RunContext, args: PoolArgs) -> dict[str, Any]:
        from engine.automation import pool

        target = _pool_id(ctx, args.pool)
        ctx.record = dict(pool.move_to_pool(ctx.unit, ctx.record_id, target))
        return {"outcome": f"moved to pool {args.pool!r}"}


for _action in (SetFields(), CreateRecord(), UpdateRelated(), AssignOwner(), Notify(), Webhook(),
                RunWorkflow(), ReturnToPool(), MoveToPool()):
    register(_action)
