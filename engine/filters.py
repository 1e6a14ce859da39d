"""Structured filters, sorts and keyset cursors, compiled to SQLAlchemy Core.

A filter is JSON-able data, shared by the record service, reports and scheduled
triggers::

    {"and": [{"field": "stage", "op": "eq", "value": "won"},
             {"or": [{"field": "amount", "op": "gt", "value": "1000"},
                     {"field": "account.region", "op": "in", "value": ["emea", "apac"]}]},
             {"not": {"field": "close_date", "op": "is_null", "value": true}}]}

A plain list of conditions means AND. Paths name a field, a standard column (id,
created_at, updated_at, created_by, updated_by, owner, version) or, one level deep,
a field of the record a relation or many-to-many field points to
(``account.region``). Values are coerced with the field's type, so ``"2024-01-01"``
works for a date and ``"1000"`` for money. ``ne`` and ``not_in`` also match empty
values (as a user reading "stage is not won" expects). ``today``,
``older_than_days`` and ``within_next_days`` count whole days in the organisation's
time zone (the clock's): ``within_next_days: 7`` is from the start of today to the end
of the 7th day after it, ``older_than_days: 30`` is before the start of the day 30 days
ago, ``today: true`` is today.

Sorts are lists like ``["-close_date", "title"]``; ``id`` is appended (in the
direction of the last key) unless a key is already unique and never empty (``id``
itself, a required unique field), so the order is total, which offset and keyset
pagination (:func:`keyset_after`) need: rows tied on the sort keys would otherwise
come in any order, and pages could repeat or skip them. NULLs sort as the database
sorts them (largest on PostgreSQL, smallest on SQLite), so indexes stay usable; the
keyset condition follows the same rule.

Everything compiles to bound parameters; identifiers only ever come from the
compiled model. Bad input raises :class:`FilterError` naming every problem and the
known fields or operators; so do values that could only fail in the database (out of
range, a NUL character in text). No database access here: this module builds expressions.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from engine.clock import SYSTEM_CLOCK, Clock
from engine.fields import FieldValueError
from engine.fields.standard import STANDARD_FIELDS
from engine.model import CompiledModel, Entity, Field
from engine.storage.tables import ModelTables

#: Most conditions one filter may hold, and how deep and/or/not may nest.
MAX_CONDITIONS = 200
MAX_DEPTH = 10
#: Most values an ``in`` / ``not_in`` list may hold.
MAX_IN_VALUES = 1000
#: Most days ``older_than_days`` / ``within_next_days`` take (about 300 years).
MAX_DAYS = 100_000
#: Dialects whose NULLs sort after every value in ascending order.
NULLS_LARGEST = frozenset({"postgresql", "oracle"})

_EQUALITY = ("eq", "ne", "in", "not_in", "is_null")
_ORDERING = ("lt", "lte", "gt", "gte", "between")
#: Operators by the CEL type of the field (a property of its type class, never its name).
OPERATORS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bool": _EQUALITY,
    "int": _EQUALITY + _ORDERING,
    "double": _EQUALITY + _ORDERING,
    "string": _EQUALITY + _ORDERING + ("contains", "starts_with"),
    "timestamp": _EQUALITY + _ORDERING + ("today", "older_than_days", "within_next_days"),
    "list": ("contains", "in", "is_null"),
    "dyn": ("is_null",),
})
ALL_OPERATORS = tuple(dict.fromkeys(op for ops in OPERATORS.values() for op in ops))
_SQL_COMPARE = {"eq": "__eq__", "lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}

Visible = Callable[[str, str], bool]
"""``visible(entity, field)``: may the caller filter or sort by this field?"""
RelatedScope = Callable[[str, sa.Table], "sa.ColumnElement[bool] | None"]
"""``related_scope(entity, table)``: rows of a related entity the caller may see."""


class FilterError(ValueError):
    """A filter, sort, cursor or field list the model can't answer; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def kind_of(field: Field) -> str:
    """The operator family of ``field``: a key of :data:`OPERATORS`."""
    cel = field.type.cel_type(field)
    return "list" if cel.startswith("list(") else cel if cel in OPERATORS else "dyn"


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term, with what the keyset cursor needs to encode its value."""

    name: str
    field: Field
    column: sa.ColumnElement[Any]
    desc: bool
    nullable: bool


@dataclass(frozen=True)
class _Path:
    entity: Entity
    table: sa.Table
    field: Field
    via: Field | None = None  # the relation the dotted path goes through


class FilterCompiler:
    """Compiles filters and sorts over the entities of one model.

    >>> fc = FilterCompiler(model, tables)                                   # doctest: +SKIP
    >>> where = fc.where("deal", [{"field": "stage", "op": "eq", "value": "won"}])  # doctest: +SKIP
    """

    def __init__(self, model: CompiledModel, tables: ModelTables, *, visible: Visible | None = None,
                 related_scope: RelatedScope | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.model = model
        self.tables = tables
        self.visible = visible or (lambda entity, field: True)
        self.related_scope = related_scope or (lambda entity, table: None)
        #: Gives "today" and the organisation's zone for the whole-day operators.
        self.clock = clock

    # -- fields ------------------------------------------------------------
    def field(self, entity: Entity, name: Any, problems: list[str]) -> Field | None:
        """The field (or standard column) ``name`` of ``entity``, if the caller may see it."""
        if isinstance(name, str) and (name in STANDARD_FIELDS or entity.has_field(name)) \
                and self.visible(entity.name, name):
            return STANDARD_FIELDS.get(name) or entity.field(name)
        known = ", ".join(n for n in (*STANDARD_FIELDS, *entity.field_names)
                          if self.visible(entity.name, n))
        problems.append(f"unknown field {name!r} of {entity.name!r}; known: {known}")
        return None

    def _path(self, entity: Entity, path: Any, problems: list[str]) -> _Path | None:
        table = self.tables.entity(entity.name)
        if not isinstance(path, str) or "." not in path:
            f = self.field(entity, path, problems)
            return _Path(entity, table, f) if f else None
        head, _, rest = path.partition(".")
        via = self.field(entity, head, problems)
        if via is None:
            return None
        if via.target is None or not self.model.has_entity(via.target):
            problems.append(f"{path!r}: {head!r} is not a relation, so it has no fields")
            return None
        target = self.model.entity(via.target)
        f = self.field(target, rest, problems)
        return _Path(target, self.tables.entity(target.name), f, via) if f else None

    # -- filters -----------------------------------------------------------
    def where(self, entity_name: str, spec: Any) -> sa.ColumnElement[bool] | None:
        """The WHERE clause for ``spec`` (None or [] for no filter); raises FilterError."""
        if spec is None or spec == [] or spec == {}:
            return None
        entity = self.model.entity(entity_name)
        problems: list[str] = []
        counter = [0]
        clause = self._node(entity, spec, "$", 0, problems, counter)
        if problems:
            raise FilterError(problems)
        return clause

    def _node(self, entity: Entity, node: Any, where: str, depth: int, problems: list[str],
              counter: list[int]) -> Any:
        if depth > MAX_DEPTH:
            problems.append(f"{where}: filters may nest at most {MAX_DEPTH} levels")
            return None
        if isinstance(node, list):
            node = {"and": node}
        if not isinstance(node, dict):
            problems.append(f"{where}: expected a condition object or a list, got {node!r}")
            return None
        for key, join in (("and", sa.and_), ("or", sa.or_)):
            if key in node:
                items = node[key]
                if len(node) != 1 or not isinstance(items, list):
                    problems.append(f"{where}: {key!r} takes a list and nothing beside it")
                    return None
                parts = [self._node(entity, item, f"{where}.{key}[{i}]", depth + 1, problems, counter)
                         for i, item in enumerate(items)]
                return join(*parts) if parts else (sa.true() if key == "and" else sa.false())
        if "not" in node:
            if len(node) != 1:
                problems.append(f"{where}: 'not' takes one condition and nothing beside it")
                return None
            inner = self._node(entity, node["not"], f"{where}.not", depth + 1, problems, counter)
            return sa.not_(inner) if inner is not None else None
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            if counter[0] == MAX_CONDITIONS + 1:
                problems.append(f"a filter may hold at most {MAX_CONDITIONS} conditions")
            return None
        return self._condition(entity, node, where, problems)

    def _condition(self, entity: Entity, cond: dict, where: str, problems: list[str]) -> Any:
        extra = set(cond) - {"field", "op", "value"}
        if extra or "field" not in cond or "op" not in cond:
            problems.append(f"{where}: a condition is {{field, op, value}} (or and/or/not); "
                            f"got keys {sorted(cond)}")
            return None
        before = len(problems)
        path = self._path(entity, cond["field"], problems)
        if path is None:
            problems[before:] = [f"{where}.field: {p}" for p in problems[before:]]
            return None
        op, kind = cond["op"], kind_of(path.field)
        if op not in OPERATORS[kind]:
            known = ", ".join(OPERATORS[kind])
            what = "unknown operator" if op not in ALL_OPERATORS else "operator not valid"
            problems.append(f"{where}.op: {what} {op!r} for {cond['field']!r}; known: {known}")
            return None
        try:
            clause = self._compare(path, op, cond.get("value"))
        except (FieldValueError, _BadValue) as exc:
            message = exc.message.get() if isinstance(exc, FieldValueError) else str(exc)
            problems.append(f"{where}.value: {cond['field']!r} {op}: {message}")
            return None
        if path.via is None:
            return clause
        return self._through(entity, path, clause, is_null=op == "is_null" and cond.get("value"))

    def _through(self, entity: Entity, path: _Path, clause: Any, is_null: bool) -> Any:
        """Wrap a condition on a related table as ``relation IN (SELECT id ...)``."""
        related = sa.select(path.table.c.id).where(clause)
        scope = self.related_scope(path.entity.name, path.table)
        if scope is not None:
            related = related.where(scope)
        table = self.tables.entity(entity.name)
        if path.via.stored:
            column = table.c[path.via.name]
            matched = column.in_(related)
            return sa.or_(column.is_(None), matched) if is_null else matched
        link = self.tables.link(entity.name, path.via.name)
        matched = table.c.id.in_(sa.select(link.c.source_id).where(link.c.target_id.in_(related)))
        if is_null:
            return sa.or_(matched, ~table.c.id.in_(sa.select(link.c.source_id)))
        return matched

    def _value(self, f: Field, value: Any, *, option: bool = False) -> Any:
        if value is None or isinstance(value, (list, dict)):
            raise _BadValue(f"expected one value, got {value!r}")
        coerced = _no_nul(f.type.coerce(f, value))
        if option and f.options and coerced not in f.option_values:
            raise _BadValue(f"{value!r} is not one of: {', '.join(f.option_values)}")
        return f.type.to_db(f, coerced)

    def _values(self, f: Field, value: Any, *, option: bool = False) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise _BadValue(f"expected a list of values, got {value!r}")
        if len(value) > MAX_IN_VALUES:
            raise _BadValue(f"at most {MAX_IN_VALUES} values")
        return [self._value(f, v, option=option) for v in value]

    def _compare(self, path: _Path, op: str, value: Any) -> Any:
        f = path.field
        if not f.stored:
            return self._linked(path, op, value)
        column = path.table.c[f.name]
        nullable = column.nullable
        if op == "is_null":
            if not isinstance(value, bool):
                raise _BadValue("is_null takes true or false")
            return column.is_(None) if value else column.is_not(None)
        if kind_of(f) == "list":
            # A JSON list column (multiselect): match the item as the JSON type encodes it.
            items = value if op == "in" and isinstance(value, list) else [value]
            text = sa.cast(column, sa.Text)
            return sa.or_(sa.false(), *(text.contains(json.dumps(_option(f, item)), autoescape=True)
                                        for item in items[:MAX_IN_VALUES]))
        if op in _SQL_COMPARE:
            return getattr(column, _SQL_COMPARE[op])(self._value(f, value, option=op == "eq"))
        if op == "ne":
            clause = column != self._value(f, value, option=True)
            return sa.or_(clause, column.is_(None)) if nullable else clause
        if op in ("in", "not_in"):
            values = self._values(f, value, option=True)
            if op == "in":
                return column.in_(values)
            clause = column.not_in(values)
            return sa.or_(clause, column.is_(None)) if nullable else clause
        if op == "between":
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise _BadValue("between takes a list of two values [low, high]")
            low, high = self._values(f, value)
            return column.between(low, high)
        if op in ("contains", "starts_with"):
            if not isinstance(value, str) or not value:
                raise _BadValue(f"{op} takes a non-empty text")
            _no_nul(value)
            return column.icontains(value, autoescape=True) if op == "contains" \
                else column.istartswith(value, autoescape=True)
        return self._days(f, column, op, value)

    def _days(self, f: Field, column: Any, op: str, value: Any) -> Any:
        """``today``, ``older_than_days`` and ``within_next_days``: whole days in the
        organisation's zone (the clock's).

        The bounds are worked out here, once, and compared with the column in SQL: for
        a datetime column, the instants (naive UTC, as stored) where those local days
        begin; for a date column, the local dates. No row is converted, so an index on
        the column still serves, on every database alike.
        """
        if op == "today":
            if value is not True:
                raise _BadValue("today takes true")
            days = (0, 1)
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0 \
                or value > MAX_DAYS:
            raise _BadValue(f"{op} takes a whole number of days (0 to {MAX_DAYS})")
        else:  # older: before the day N days ago; within: today to the end of today + N
            days = (None, -value) if op == "older_than_days" else (0, value + 1)
        today = self.clock.today()
        low, high = (None if d is None else self._day_bound(f, column, today + dt.timedelta(days=d))
                     for d in days)
        return column < high if low is None else sa.and_(column >= low, column < high)

    def _day_bound(self, f: Field, column: Any, day: dt.date) -> Any:
        if isinstance(column.type, sa.DateTime):  # an instant: where the local day begins
            return self._value(f, self.clock.day_start(day))
        return self._value(f, day)

    def _linked(self, path: _Path, op: str, value: Any) -> Any:
        """A condition on a many-to-many field, through its link table."""
        f, table = path.field, path.table
        link = self.tables.link(path.entity.name, f.name)
        if op == "is_null":
            if not isinstance(value, bool):
                raise _BadValue("is_null takes true or false")
            linked = table.c.id.in_(sa.select(link.c.source_id))
            return ~linked if value else linked
        ids = f.type.coerce(f, value if op == "in" else [value])
        return table.c.id.in_(sa.select(link.c.source_id).where(link.c.target_id.in_(ids)))

    # -- sorting -----------------------------------------------------------
    def sort(self, entity_name: str, spec: Any) -> tuple[SortKey, ...]:
        """Sort keys for ``["-close_date", "title"]``, ending with ``id`` unless already total.

        >>> [k.name for k in compiler.sort("deal", "-close_date")]   # doctest: +SKIP
        ['close_date', 'id']
        """
        entity = self.model.entity(entity_name)
        table = self.tables.entity(entity_name)
        items = [spec] if isinstance(spec, str) else list(spec or ())
        problems: list[str] = []
        keys: list[SortKey] = []
        for item in items:
            if not isinstance(item, str) or not item.lstrip("-"):
                problems.append(f"sort: expected a field name like 'title' or '-title', got {item!r}")
                continue
            name = item.lstrip("-")
            f = self.field(entity, name, problems)
            if f is None:
                continue
            if not f.stored or kind_of(f) in ("list", "dyn"):
                problems.append(f"sort: field {name!r} can't be sorted by")
                continue
            if any(k.name == name for k in keys):
                continue
            column = table.c[name]
            keys.append(SortKey(name, f, column, item.startswith("-"), bool(column.nullable)))
        if problems:
            raise FilterError(problems)
        if not any(_distinct(k.column) for k in keys):
            # Same direction as the last key: an index on that column (which holds the id
            # as its tie-break on SQLite) then serves the whole ORDER BY.
            desc = keys[-1].desc if keys else False
            keys.append(SortKey("id", STANDARD_FIELDS["id"], table.c.id, desc, False))
        return tuple(keys)


def _distinct(column: sa.ColumnElement[Any]) -> bool:
    """True for a column no two rows share a value of (the id, a unique NOT NULL column):
    a sort holding it is already total, so no tie-break is added."""
    return bool(getattr(column, "primary_key", False)
                or (getattr(column, "unique", False) and not getattr(column, "nullable", True)))


class _BadValue(ValueError):
    pass


def _no_nul(value: Any) -> Any:
    # PostgreSQL text can't hold NUL: a value with one would fail in the driver, not here.
    if isinstance(value, str) and "\x00" in value:
        raise _BadValue("must not contain NUL characters")
    return value


def _option(f: Field, value: Any) -> str:
    if value not in f.option_values:
        raise _BadValue(f"{value!r} is not one of: {', '.join(f.option_values)}")
    return value


def order_by(keys: tuple[SortKey, ...]) -> list[Any]:
    return [k.column.desc() if k.desc else k.column.asc() for k in keys]


def keyset_after(keys: tuple[SortKey, ...], values: list[Any], dialect: str) -> Any:
    """Rows strictly after the row whose sort values (DB form) are ``values``.

    ``(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...``, with ``<`` for descending keys and
    NULLs placed where ``dialect`` sorts them.
    """
    nulls_largest = dialect in NULLS_LARGEST
    terms, equal = [], []
    for key, value in zip(keys, values):
        nulls_last = nulls_largest != key.desc  # NULLs come after every value in this order
        if value is None:
            after = None if nulls_last else key.column.is_not(None)
            same = key.column.is_(None)
        else:
            after = key.column < value if key.desc else key.column > value
            if nulls_last and key.nullable:
                after = sa.or_(after, key.column.is_(None))
            same = key.column == value
        if after is not None:
            terms.append(sa.and_(*equal, after))
        equal.append(same)
    return sa.or_(*terms) if terms else sa.false()


def _signature(keys: tuple[SortKey, ...]) -> list[str]:
    return [("-" if k.desc else "") + k.name for k in keys]


def encode_cursor(keys: tuple[SortKey, ...], record: Mapping[str, Any]) -> str:
    """An opaque cursor holding ``record``'s sort values (Python values, as returned)."""
    values = [k.field.type.to_json(k.field, record[k.name]) for k in keys]
    data = json.dumps([_signature(keys), values], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(keys: tuple[SortKey, ...], token: str) -> list[Any]:
    """The DB values held by a cursor from :func:`encode_cursor` with the same sort."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        names, values = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise FilterError(["invalid cursor"]) from None
    if names != _signature(keys) or len(values) != len(keys):
        raise FilterError(["the cursor belongs to another sort order"])
    try:
        return [None if v is None
                else k.field.type.to_db(k.field, _no_nul(k.field.type.coerce(k.field, v)))
                for k, v in zip(keys, values)]
    except (FieldValueError, _BadValue):
        raise FilterError(["invalid cursor"]) from None
