"""Compile ``kind: workflow`` documents into frozen :class:`Workflow` values.

The metaschema (``loom metaschema workflow``) refused unknown keys, trigger types
and action kinds; here every reference is checked against the compiled entities:
the workflow's entity, the trigger's fields (a date trigger needs a date or datetime
field, an inactivity trigger's ``related`` entity must point back ``via`` a relation,
``days_from`` must name an integer field of a related record), the cron string, the
filter (the engine's filter format, checked against the entity), the condition and
every CEL value (typed against ``record.<field>``, ``old.<field>`` and ``actor.id``),
and each action's arguments (by the action's own class, see :mod:`.actions`). Every
problem is an error with file, JSON path and line.

Workflows are not part of the schema version (no table depends on them), only of the
revision, like roles.

Pure: no database, no Flask, no Redis.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from engine.compiler.fields import STANDARD_VARIABLES
from engine.model import EMPTY, CompiledModel, Entity, Source, Text, Use, freeze
from engine.rules import Environment, Expression, ExpressionError
from engine.spec.errors import MetadataError
from engine.spec.kinds import CompileInput
from engine.spec.loader import SpecDocument
from engine.spec.metaschema import suggest

#: Trigger types that react to a record event delivered from the outbox.
EVENT_TRIGGERS = ("created", "updated", "deleted", "field_changed")
#: Trigger types the scheduler fires from "due" queries.
DUE_TRIGGERS = ("date", "inactivity", "schedule")
MANUAL = "manual"
DEFAULT_MAX_ATTEMPTS = 3
#: Field types a date trigger may watch.
DATE_TYPES = ("date", "datetime")


@dataclass(frozen=True)
class Trigger:
    """What starts a run (see the metaschema for each type's keys)."""

    type: str
    #: field_changed, date: one field name; inactivity: a tuple of names (the latest counts).
    field: Any = None
    from_values: tuple[Any, ...] | None = None
    to_values: tuple[Any, ...] | None = None
    #: date: the fire time is the field's value plus this (negative: before).
    offset: dt.timedelta | None = None
    related: str | None = None
    via: str | None = None
    days: int | None = None
    #: inactivity: (relation field of the entity, integer field of its target).
    days_from: tuple[str, str] | None = None
    cron: str | None = None
    filter: Any = None
    label: Text | None = None
    roles: tuple[str, ...] = ()
    visible_if: Expression | None = None
    bulk: bool = False

    @property
    def is_event(self) -> bool:
        return self.type in EVENT_TRIGGERS

    @property
    def is_due(self) -> bool:
        return self.type in DUE_TRIGGERS

    def matches_event(self, event: str, changes: Mapping[str, Any]) -> bool:
        """True when a record event (``created``/``updated``/``deleted``) with ``changes``
        ({field: [old, new]}) fires this trigger."""
        if self.type in ("created", "updated", "deleted"):
            return event == self.type
        if self.type != "field_changed" or event not in ("created", "updated"):
            return False
        if self.field not in changes:
            return False
        old, new = changes[self.field]
        if self.from_values is not None and old not in self.from_values:
            return False
        return self.to_values is None or new in self.to_values


@dataclass(frozen=True)
class ActionSpec:
    """One action of a workflow: its kind, its checked arguments, where it was declared."""

    kind: str
    args: Any  # what the action's class made of the arguments at load time
    source: Source


@dataclass(frozen=True)
class Workflow:
    """A compiled workflow."""

    name: str
    label: Text
    entity: str
    trigger: Trigger
    actions: tuple[ActionSpec, ...]
    source: Source
    description: Text | None = None
    active: bool = True
    #: ``system``, ``owner`` or ``user:<username>``.
    actor: str = "system"
    condition: Expression | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def workflows_of(model: Any) -> dict[str, Workflow]:
    """The compiled workflows of ``model`` by name (none when the kind compiled nothing)."""
    try:
        return dict(model.part("workflows"))
    except KeyError:
        return {}


def variables_for(entity: Entity) -> dict[str, str]:
    """The CEL variables of a workflow on ``entity``: record.*, old.*, actor.id."""
    fields = dict(STANDARD_VARIABLES)
    fields.update({f.name: f.type.cel_type(f) for f in entity.fields})
    out = {f"record.{n}": t for n, t in fields.items()}
    out.update({f"old.{n}": t for n, t in fields.items()})
    out["actor.id"] = "int"
    return out


class Checker:
    """What an action's ``check`` gets: the model, the workflow's entity and environment,
    and a way to report errors at a path under the action."""

    def __init__(self, doc: SpecDocument, path: tuple[str | int, ...], model: CompiledModel,
                 entity: Entity, env: Environment, errors: list[MetadataError],
                 step: CompileInput, workflow: str, broken: set[str] | None = None) -> None:
        self.doc = doc
        self.path = path
        self.model = model
        self.entity = entity
        self.env = env
        self.errors = errors
        self.step = step
        self.workflow = workflow
        self.broken = broken or set()
        self._envs: dict[str, Environment] = {entity.name: env}

    def error(self, message: str, *sub: str | int, code: str = "invalid") -> None:
        self.errors.append(self.doc.error(self.path + tuple(sub), message, code))

    def at(self, *sub: str | int) -> Checker:
        child = Checker(self.doc, self.path + tuple(sub), self.model, self.entity, self.env,
                        self.errors, self.step, self.workflow, self.broken)
        child._envs = self._envs
        return child

    def target(self, name: Any, *sub: str | int) -> Entity | None:
        """The entity ``name`` or an error at ``sub``."""
        if isinstance(name, str) and self.model.has_entity(name):
            return self.model.entity(name)
        if name in self.broken:
            return None  # its own error is reported, and the model will not be built
        known = set(self.model.entities)
        self.error(f"unknown entity {name!r}{suggest(str(name), known)}", *sub, code="unknown")
        return None

    def field(self, entity: Entity, name: Any, *sub: str | int, writable: bool = False) -> Any:
        """The field ``name`` of ``entity`` (recorded as a use), or None with an error."""
        if isinstance(name, str) and entity.has_field(name):
            f = entity.field(name)
            if writable and (f.computed or f.type.name == "autonumber"):
                self.error(f"field {name!r} of {entity.name!r} is computed; an action can't set it",
                           *sub, code="read_only")
                return None
            self.use(entity.name, name, f"workflow {self.workflow!r}")
            return f
        if name == "owner" and isinstance(name, str):
            return "owner"
        self.error(f"unknown field {name!r} of {entity.name!r}"
                   f"{suggest(str(name), set(entity.field_names))}; known: "
                   f"{', '.join(entity.field_names)}", *sub, code="unknown")
        return None

    def use(self, entity: str, field: str | None, description: str) -> None:
        path = self.path
        self.step.use(entity, field, Use("workflow", self.workflow,
                                         Source(self.doc.file, path, self.doc.line_of(path)),
                                         description))

    def filter(self, entity: str, spec: Any, *sub: str | int) -> None:
        """Check a structured filter (the engine's format) over ``entity``."""
        _check_filter(self.at(*sub), self.model, entity, spec)

    def expression(self, source: Any, expect: str | None, *sub: str | int) -> Expression | None:
        """Compile a CEL expression of the workflow's environment, or None with an error."""
        if not isinstance(source, str):
            self.error("expected a CEL expression (a string)", *sub)
            return None
        try:
            compiled = self.env.compile(source, expect=expect)
        except ExpressionError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            self.error(f"CEL error{where}: {exc.message}", *sub, code="expression")
            return None
        for name in compiled.variables:
            head, _, field = name.partition(".")
            if head in ("record", "old") and self.entity.has_field(field):
                self.use(self.entity.name, field, f"workflow {self.workflow!r}")
        return compiled


def compile_workflows(step: CompileInput) -> Mapping[str, Workflow]:
    """The compile step of ``workflow`` documents (see :mod:`engine.spec.kinds`)."""
    from engine.automation import approvals  # noqa: F401  (registers start_approval)
    from engine.automation.actions import ACTIONS  # the actions' registry (same layer)

    entities: Mapping[str, Entity] = step.built["entities"]
    # Entities declared but refused with an error: their own error is reported, so
    # workflows naming them stay quiet.
    broken = (set(step.built.get("broken_entities", ()))
              | (set(step.built.get("declared_fields", {})) - set(entities)))
    model = CompiledModel(entities=entities, presets=EMPTY, version="")
    workflows: dict[str, Workflow] = {}
    calls: list[tuple[SpecDocument, tuple, str]] = []
    for doc in sorted(step.documents, key=lambda d: d.file):
        data = doc.data
        name = data["workflow"]
        if name in workflows:
            step.errors.append(doc.error(("workflow",), f"workflow {name!r} is already declared in "
                                         f"{workflows[name].source.file}", "duplicate"))
            continue
        entity_name = data["entity"]
        if entity_name in broken:
            continue
        if entity_name not in entities:
            step.errors.append(doc.error(("entity",), f"unknown entity {entity_name!r}"
                                         f"{suggest(entity_name, set(entities))}", "unknown"))
            continue
        entity = entities[entity_name]
        env = Environment(variables_for(entity))
        before = len(step.errors)
        check = Checker(doc, (), model, entity, env, step.errors, step, name, broken)
        trigger = _trigger(check.at("trigger"), data["trigger"], model, entity)
        if trigger is not None and trigger.type == MANUAL and trigger.label is None:
            trigger = dataclasses.replace(trigger, label=Text.of(data["label"]))
        condition = (check.expression(data["condition"], "bool", "condition")
                     if "condition" in data else None)
        actions = []
        for index, item in enumerate(data["actions"]):
            (kind, args), = item.items()
            action = ACTIONS[kind]
            here = check.at("actions", index, kind)
            compiled = action.check(here, args if args is not None else {})
            if kind == "run_workflow" and isinstance(args, dict) and "workflow" in args:
                calls.append((doc, ("actions", index, kind, "workflow"), args["workflow"]))
            actions.append(ActionSpec(kind, compiled, Source(doc.file, ("actions", index),
                                                             doc.line_of(("actions", index)))))
        manual = data["trigger"].get("type") == MANUAL
        actor = data.get("actor", "caller" if manual else "system")
        if isinstance(actor, Mapping):
            actor = f"user:{actor['user']}"
        elif actor == "caller" and not manual:
            check.error("only a manual workflow acts as its caller", "actor")
        if len(step.errors) > before or trigger is None:
            continue
        workflows[name] = Workflow(
            name=name, label=Text.of(data["label"]), entity=entity_name, trigger=trigger,
            actions=tuple(actions), source=Source(doc.file, (), 1),
            description=Text.of(data["description"]) if "description" in data else None,
            active=data.get("active", True), actor=actor, condition=condition,
            max_attempts=data.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
    for doc, path, called in calls:
        if called not in workflows and called not in {d.data["workflow"] for d in step.documents}:
            step.errors.append(doc.error(path, f"unknown workflow {called!r}"
                                         f"{suggest(str(called), set(workflows))}", "unknown"))
    return MappingProxyType(workflows)


_TRIGGER_KEYS = {
    "created": {"filter"}, "updated": {"filter"}, "deleted": set(),
    "field_changed": {"field", "from", "to"},
    "date": {"field", "before", "after", "filter"},
    "inactivity": {"field", "related", "via", "days", "days_from", "filter"},
    "schedule": {"cron", "filter"},
    "manual": {"label", "roles", "visible_if", "bulk"},
}


def _duration(spec: Mapping[str, int]) -> dt.timedelta:
    return dt.timedelta(minutes=spec.get("minutes", 0), hours=spec.get("hours", 0),
                        days=spec.get("days", 0))


def _values(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    return tuple(value) if isinstance(value, list) else (value,)


def _trigger(check: Checker, data: Mapping[str, Any], model: CompiledModel,
             entity: Entity) -> Trigger | None:
    kind = data["type"]
    before = len(check.errors)
    for key in data:
        if key != "type" and key not in _TRIGGER_KEYS[kind]:
            allowed = ", ".join(sorted(_TRIGGER_KEYS[kind])) or "none"
            check.error(f"a {kind} trigger takes no {key!r} (its keys: {allowed})", key, code="key")
    values: dict[str, Any] = {"type": kind}
    if "filter" in data:
        _check_filter(check.at("filter"), model, entity.name, data["filter"])
        values["filter"] = freeze(data["filter"])
    if kind not in ("inactivity",) and isinstance(data.get("field"), list):
        check.error(f"a {kind} trigger watches one field", "field")
        return None
    if kind == "field_changed":
        if "field" not in data:
            check.error("a field_changed trigger needs 'field'", code="required")
        else:
            f = check.field(entity, data["field"], "field")
            for key in ("from", "to"):
                for i, v in enumerate(_values(data.get(key)) or ()):
                    if f is not None and f != "owner" and f.options and v not in f.option_values:
                        check.error(f"{v!r} is not an option of {f.name!r}; options: "
                                    f"{', '.join(f.option_values)}", key, code="option")
            values.update(field=data.get("field"), from_values=_values(data.get("from")),
                          to_values=_values(data.get("to")))
    elif kind == "date":
        f = check.field(entity, data.get("field"), "field") if "field" in data else None
        if "field" not in data:
            check.error("a date trigger needs 'field' (a date or datetime field)", code="required")
        elif f is not None and (f == "owner" or f.type.name not in DATE_TYPES):
            check.error(f"field {data['field']!r} is not a date or datetime field", "field")
        if ("before" in data) == ("after" in data):
            check.error("a date trigger needs exactly one of 'before' and 'after'", code="required")
        offset = _duration(data.get("after") or data.get("before") or {})
        values.update(field=data.get("field"), offset=offset if "after" in data else -offset)
    elif kind == "inactivity":
        _inactivity(check, data, model, entity, values)
    elif kind == "schedule":
        values["cron"] = data.get("cron", None)
        if "cron" not in data:
            check.error("a schedule trigger needs 'cron'", code="required")
        else:
            from croniter import croniter
            if len(data["cron"].split()) != 5 or not croniter.is_valid(data["cron"]):
                check.error(f"{data['cron']!r} is not a valid five-field cron string "
                            "(minute hour day-of-month month day-of-week)", "cron", code="cron")
    elif kind == MANUAL:
        values["label"] = Text.of(data["label"]) if "label" in data else None
        values["roles"] = tuple(data.get("roles", ()))
        values["bulk"] = bool(data.get("bulk", False))
        if "visible_if" in data:
            values["visible_if"] = check.expression(data["visible_if"], "bool", "visible_if")
    if len(check.errors) > before:
        return None
    return Trigger(**values)


def _inactivity(check: Checker, data: Mapping[str, Any], model: CompiledModel, entity: Entity,
                values: dict[str, Any]) -> None:
    if ("field" in data) == ("related" in data):
        check.error("an inactivity trigger needs exactly one of 'field' (no change of it) and "
                    "'related' (no new related record)", code="required")
    if ("days" in data) == ("days_from" in data):
        check.error("an inactivity trigger needs exactly one of 'days' and 'days_from'",
                    code="required")
    fields = data.get("field")
    for i, name in enumerate([fields] if isinstance(fields, str) else fields or []):
        sub = ("field",) if isinstance(fields, str) else ("field", i)
        f = check.field(entity, name, *sub)
        if f is not None and (f == "owner" or f.type.name not in DATE_TYPES):
            check.error(f"field {name!r} is not a date or datetime field", *sub)
    if "related" in data:
        related = check.target(data["related"], "related")
        via = data.get("via")
        if via is None:
            check.error("'related' needs 'via': the relation of the related entity that points here",
                        "related", code="required")
        elif related is not None:
            f = check.field(related, via, "via")
            if f is not None and (f == "owner" or f.target != entity.name):
                check.error(f"field {via!r} of {related.name!r} does not point at {entity.name!r}",
                            "via")
    if "days_from" in data and "related" in data:
        check.error("days_from reads the days from a related record for 'field'; with "
                    "'related', give 'days'", "days_from")
    if "days_from" in data:
        head, _, tail = data["days_from"].partition(".")
        relation = check.field(entity, head, "days_from")
        if relation is not None and (relation == "owner" or relation.target is None):
            check.error(f"{head!r} is not a relation of {entity.name!r}", "days_from")
        elif relation is not None and model.has_entity(relation.target):
            target = model.entity(relation.target)
            f = check.field(target, tail, "days_from")
            if f is not None and (f == "owner" or f.type.cel_type(f) != "int"):
                check.error(f"{data['days_from']!r} is not a whole-number field", "days_from")
        values["days_from"] = (head, tail)
    values.update(field=tuple([fields] if isinstance(fields, str) else fields)
                  if fields else None, related=data.get("related"), via=data.get("via"),
                  days=data.get("days"))


def _check_filter(check: Checker, model: CompiledModel, entity: str, spec: Any) -> None:
    from engine.filters import FilterCompiler, FilterError
    from engine.storage.tables import build_tables

    try:
        FilterCompiler(model, build_tables(model)).where(entity, spec)
    except FilterError as exc:
        check.error(f"bad filter: {exc}", code="filter")
