"""A migration plan: the ordered steps that bring the database to the model.

A :class:`Plan` is what ``loom plan`` prints and ``loom migrate`` applies. Each
:class:`Step` says what it does, whether it is destructive (it removes or
overwrites stored values), what the database holds that it touches
(``preview``), and the problems that block it. Steps are built by
:mod:`engine.storage.diff` and carried out by :mod:`engine.storage.steps`.

Pure values: no database access here. The ``run`` callable a step carries is
only called by :func:`engine.storage.migrate.apply_plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Protocol

#: Order in which step kinds run (lower first). Renames run before the diff is
#: taken; drops before adds so names are free; constraints last, once the
#: columns and their values are in place.
PHASES = {
    "add_system_table": 0,
    "rename_entity": 1,
    "rename_field": 2,
    "rename_index": 3,
    "drop_index": 3,
    # Old foreign keys go before any table is dropped; new ones are added last.
    "alter_relation": 3,
    "drop_field": 4,
    "drop_link": 5,
    "drop_entity": 6,
    "add_entity": 7,
    "add_link": 8,
    "add_field": 9,
    "widen": 10,
    "retype": 10,
    "tighten": 10,
    "alter_field": 11,
    "add_index": 12,
}

#: How many failing values a retype preview quotes.
PREVIEW_EXAMPLES = 3


@dataclass
class Step:
    """One change. ``entity``/``field`` name what it changes in the *new* model.

    ``preview`` holds what was read from the database, e.g. for a retype
    ``{"values": 10, "failures": 2, "examples": ["abc", "x1"], "on_failure": "set_null"}``.
    """

    kind: str
    entity: str | None
    field: str | None
    description: str
    destructive: bool = False
    preview: dict[str, Any] = dc_field(default_factory=dict)
    problems: list[str] = dc_field(default_factory=list)
    notes: list[str] = dc_field(default_factory=list)
    run: Callable[[Any], None] | None = dc_field(default=None, repr=False, compare=False)

    @property
    def phase(self) -> int:
        return PHASES[self.kind]

    @property
    def target(self) -> str:
        """``deal.notes``, ``deal`` or the table name, for messages."""
        if self.entity and self.field:
            return f"{self.entity}.{self.field}"
        return self.entity or ""

    def signature(self) -> tuple:
        """What must not change between ``loom plan`` and ``loom migrate``."""
        return (self.kind, self.entity, self.field, self.destructive, bool(self.problems))

    def line(self) -> str:
        mark = "DESTRUCTIVE" if self.destructive else "safe"
        return f"  {mark:<12} {self.description}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "entity": self.entity, "field": self.field,
                "destructive": self.destructive, "description": self.description,
                "preview": dict(self.preview), "problems": list(self.problems),
                "notes": list(self.notes)}


@dataclass
class Plan:
    """The steps from the database's schema to ``model_version``, in run order."""

    model_version: str
    applied_version: str | None
    dialect: str
    steps: list[Step] = dc_field(default_factory=list)
    #: Problems not tied to one step (they block too).
    general_problems: list[str] = dc_field(default_factory=list)
    #: Informative lines, e.g. archived values a re-added field could get back.
    notes: list[str] = dc_field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.steps

    @property
    def has_destructive(self) -> bool:
        return any(s.destructive for s in self.steps)

    @property
    def destructive_steps(self) -> list[Step]:
        return [s for s in self.steps if s.destructive]

    @property
    def problems(self) -> list[str]:
        """Every blocking problem: a plan with any is refused."""
        found = list(self.general_problems)
        for step in self.steps:
            found.extend(step.problems)
        return found

    @property
    def changes_version(self) -> bool:
        return self.applied_version != self.model_version

    def signature(self) -> tuple:
        return (self.model_version, tuple(s.signature() for s in self.steps),
                tuple(self.general_problems))

    def text(self) -> str:
        """The plan as ``loom plan`` prints it."""
        head = f"Plan to model {self.model_version}"
        head += (f" (database at {self.applied_version})" if self.applied_version
                 else " (database has no Loom schema yet)")
        lines = [head + ":"]
        if self.is_empty:
            lines.append("  no schema changes" + (" (the new version is recorded)"
                                                  if self.changes_version else ""))
        lines.extend(step.line() for step in self.steps)
        problems = self.problems
        if problems:
            lines.append("Problems (the plan is refused until they are fixed):")
            lines.extend(f"  - {p}" for p in problems)
        notes = self.notes + [n for s in self.steps for n in s.notes]
        if notes:
            lines.append("Notes:")
            lines.extend(f"  - {n}" for n in notes)
        if self.has_destructive and not problems:
            lines.append("Destructive steps need `loom migrate --allow-destructive`; "
                         "dropped values are archived until purged.")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "applied_version": self.applied_version,
                "dialect": self.dialect, "is_empty": self.is_empty,
                "has_destructive": self.has_destructive, "problems": self.problems,
                "notes": self.notes + [n for s in self.steps for n in s.notes],
                "steps": [s.as_dict() for s in self.steps]}


class MigrationError(RuntimeError):
    """A migration could not be planned or applied."""


class MigrationRefused(MigrationError):
    """The plan has blocking problems or unconfirmed destructive steps; nothing changed."""

    def __init__(self, message: str, plan: Plan | None = None) -> None:
        super().__init__(message)
        self.plan = plan

    @classmethod
    def for_plan(cls, plan: Plan, allow_destructive: bool) -> MigrationRefused | None:
        """The refusal ``plan`` deserves, or ``None`` when it may be applied."""
        problems = plan.problems
        if problems:
            text = "migration refused; fix these problems first:\n" + "\n".join(
                f"  - {p}" for p in problems)
            return cls(text, plan)
        if plan.has_destructive and not allow_destructive:
            text = ("migration refused: these steps are destructive and need "
                    "allow_destructive (`loom migrate --allow-destructive`):\n"
                    + "\n".join(f"  - {s.description}" for s in plan.destructive_steps))
            return cls(text, plan)
        return None


class ArchiveNotFound(LookupError):
    """No archive matches what restore or purge was asked for."""


class Planning(Protocol):
    """What the per-table classifiers (:mod:`.classify`, :mod:`.constraints`) read of a
    planning pass (:class:`engine.storage.diff.Planner`), named here so they need not
    import the planner that calls them."""

    conn: Any  # sa.Connection
    target: Any  # ModelTables of the model being planned
    old: Any  # the previously applied CompiledModel, or None
    entity_by_table: dict[str, Any]
    old_column: dict[tuple[str, str], str]

    def add(self, step: Step) -> Step: ...

    def old_entity_of(self, table: str) -> str | None: ...

    def old_field(self, table: str, column: str) -> Any: ...

    def old_spec(self, entity: str | None, field: str | None) -> dict[str, Any] | None: ...
