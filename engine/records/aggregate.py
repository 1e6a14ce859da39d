"""Grouped figures over one entity: one SQL ``GROUP BY`` per call.

:meth:`RecordService.aggregate <engine.records.service.RecordService.aggregate>` checks
the actor and hands the filter, the record scope and the field visibility (through the
same :class:`~engine.filters.FilterCompiler` as ``list``) to :func:`build`; :func:`run`
executes the query and returns JSON-ready rows.

Group by items are a field name (``"stage"``, ``"account"``, ``"owner"``) or a date or
datetime field with a bucket, as ``("close_date", "month")`` or ``"close_date:month"``;
buckets are :data:`BUCKETS`, days in the organisation's time zone (the clock's: a
datetime is turned into local time in SQL, see :func:`local_time`), and come back as
the ISO date that starts the bucket (weeks start on Monday). Metrics are ``"count"`` (rows) or ``op:field`` with
an op of :data:`METRICS` (also ``("sum", "amount")``).

Output rows are ``{"stage": "won", "close_date_month": "2026-03-01", "count": 3,
"sum_amount": "10.50"}``: a group key is named after its field (``<field>_<bucket>`` when
bucketed), a metric ``count`` or ``<op>_<field>``. Values take the JSON form the field
type gives them (``to_json``): decimal and money sums, minimums and maximums are strings
at the field's scale, like the record API; averages of decimals are strings with
:data:`AVG_EXTRA_SCALE` more digits, averages of integers are floats; dates are ISO.

Rows are ordered by the group keys (empty groups last) unless ``sort`` names group keys
or metric aliases (``["-sum_amount", "stage"]``). A name the actor may not see is
refused as an unknown field, as ``list`` refuses it in a sort.

Builds expressions and reads; no writes, no permission decisions (the service's), and
no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from engine.clock import ZONE_NAME
from engine.filters import FilterCompiler, FilterError, kind_of
from engine.model import Field
from engine.records.plan import EntityPlan

#: Date buckets a date or datetime group key may take.
BUCKETS = ("day", "week", "month", "quarter", "year")
#: Metric operations; ``count`` alone counts rows.
METRICS = ("count", "count_distinct", "sum", "avg", "min", "max")
#: Most group keys and metrics one call may ask for.
MAX_GROUP_BY = 5
MAX_METRICS = 20
#: Most groups one call returns (``limit`` may lower it); ``truncated`` tells when more exist.
MAX_GROUPS = 10_000
#: Extra decimal places an average of a decimal field keeps beyond the field's scale.
AVG_EXTRA_SCALE = 2
#: The metrics asked for when none are given.
DEFAULT_METRICS = (("count", None),)

_NUMBERS = ("int", "double")
_ORDERED = ("int", "double", "string", "timestamp")
_GROUPABLE = ("bool", "int", "double", "string", "timestamp")


@dataclass(frozen=True)
class Groups:
    """The rows of one aggregation; ``truncated`` when the limit cut off more groups."""

    rows: list[dict[str, Any]]
    truncated: bool


@dataclass(frozen=True)
class _Key:
    name: str
    field: Field
    expr: Any
    bucket: str | None


@dataclass(frozen=True)
class _Metric:
    name: str
    op: str
    field: Field | None
    expr: Any


@dataclass(frozen=True)
class Query:
    """A built aggregation, ready for :func:`run`."""

    select: Any
    keys: tuple[_Key, ...]
    metrics: tuple[_Metric, ...]
    limit: int


def _pair(item: Any, what: str, problems: list[str]) -> tuple[Any, Any] | None:
    """``"a:b"``, ``"a"``, ``("a", "b")`` or ``("a", None)`` -> ``(a, b)``."""
    if isinstance(item, str):
        head, sep, tail = item.partition(":")
        return (head, tail if sep else None)
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return item[0], item[1]
    problems.append(f"{what}: expected 'name' or 'name:option' (or a pair), got {item!r}")
    return None


def _is_number(f: Field) -> bool:
    # Ids of relations and users are integers too, but adding them up means nothing.
    return kind_of(f) in _NUMBERS and f.type.references(f) is None


def local_time(column: Any, zone: str, dialect: str) -> Any:
    """``column`` as wall time in ``zone``, in SQL, when it holds instants (a datetime,
    stored as naive UTC); a date column and the UTC zone are left as they are.

    PostgreSQL converts with its own zone database: ``(col AT TIME ZONE 'UTC') AT TIME
    ZONE 'Asia/Shanghai'``. SQLite has none, so each connection gets ``loom_local``
    (see :mod:`engine.storage.db`). The zone is a literal, not a parameter, for the
    reason :func:`_bucket` gives; it is a validated IANA name (:func:`engine.clock.zone`),
    and refused here if it is anything else.
    """
    if zone == "UTC" or not isinstance(getattr(column, "type", None), sa.DateTime):
        return column
    if not ZONE_NAME.fullmatch(zone):
        raise FilterError([f"unknown time zone {zone!r}"])
    name = sa.literal_column(f"'{zone}'")
    if dialect == "postgresql":
        return sa.func.timezone(name, sa.func.timezone(sa.literal_column("'UTC'"), column),
                                type_=sa.DateTime)
    if dialect == "sqlite":
        return sa.func.loom_local(column, name, type_=sa.DateTime)
    raise FilterError([f"time zones are not available on {dialect}"])


def _bucket(column: Any, bucket: str, dialect: str) -> Any:
    """The ISO date (text) that starts ``column``'s bucket; ``bucket`` is one of BUCKETS.

    Format strings are literals, not bound parameters: PostgreSQL matches the select
    list to the GROUP BY by text, and two parameters never compare equal.
    """
    if dialect == "postgresql":
        start = sa.func.date_trunc(sa.literal_column(f"'{bucket}'"), sa.cast(column, sa.DateTime))
        return sa.func.to_char(start, sa.literal_column("'YYYY-MM-DD'"))
    if dialect != "sqlite":
        raise FilterError([f"date buckets are not available on {dialect}"])
    if bucket == "day":
        return sa.func.date(column)
    if bucket == "week":  # to the next Sunday (or stay), then back to its Monday
        return sa.func.date(column, sa.literal_column("'weekday 0'"),
                            sa.literal_column("'-6 days'"))
    if bucket == "month":
        return sa.func.strftime(sa.literal_column("'%Y-%m-01'"), column)
    if bucket == "year":
        return sa.func.strftime(sa.literal_column("'%Y-01-01'"), column)
    # quarter: the year, then the first month of the quarter (NULL stays NULL through ||)
    month = sa.func.strftime(sa.literal_column("'%m'"), column)
    first = sa.case(*((month <= sa.literal_column(f"'{last:02d}'"),
                       sa.literal_column(f"'-{last - 2:02d}-01'", sa.String))
                      for last in (3, 6, 9)), else_=sa.literal_column("'-10-01'", sa.String))
    return sa.func.strftime(sa.literal_column("'%Y'"), column, type_=sa.String) + first


def _keys(plan: EntityPlan, compiler: FilterCompiler, group_by: Any, dialect: str,
          problems: list[str]) -> list[_Key]:
    items = [group_by] if isinstance(group_by, str) else list(group_by or ())
    if len(items) > MAX_GROUP_BY:
        problems.append(f"group_by: at most {MAX_GROUP_BY} keys")
        return []
    keys = []
    for item in items:
        pair = _pair(item, "group_by", problems)
        if pair is None:
            continue
        name, bucket = pair
        f = compiler.field(plan.entity, name, problems)
        if f is None:
            continue
        kind = kind_of(f)
        if not f.stored or kind not in _GROUPABLE:
            problems.append(f"group_by: field {name!r} can't be grouped by")
            continue
        column = plan.table.c[name]
        if bucket is None:
            keys.append(_Key(name, f, column, None))
        elif kind != "timestamp":
            problems.append(f"group_by: {name!r} is not a date, so it takes no bucket")
        elif bucket not in BUCKETS:
            problems.append(f"group_by: unknown bucket {bucket!r} for {name!r}; "
                            f"known: {', '.join(BUCKETS)}")
        else:
            local = local_time(column, compiler.clock.zone_name, dialect)
            keys.append(_Key(f"{name}_{bucket}", f, _bucket(local, bucket, dialect), bucket))
    return keys


def _metric_expr(op: str, f: Field | None, column: Any, name: str, problems: list[str]) -> Any:
    if f is None:
        return sa.func.count()
    kind = kind_of(f)
    if not f.stored or kind not in _GROUPABLE:
        problems.append(f"metrics: {op} can't be computed on field {name!r}")
        return None
    if op == "count":
        return sa.func.count(column)
    if op == "count_distinct":
        return sa.func.count(sa.distinct(column))
    if op in ("sum", "avg") and not _is_number(f):
        problems.append(f"metrics: {op} needs a number field; {name!r} is not one")
        return None
    if op in ("min", "max") and (kind not in _ORDERED or f.type.references(f) is not None):
        problems.append(f"metrics: {op} needs a number, date or text field; {name!r} is not one")
        return None
    return getattr(sa.func, op)(column)


def _metrics(plan: EntityPlan, compiler: FilterCompiler, metrics: Any,
             problems: list[str]) -> list[_Metric]:
    items = [metrics] if isinstance(metrics, str) else list(metrics or ())
    if not items:
        problems.append("metrics: ask for at least one metric, e.g. 'count'")
    if len(items) > MAX_METRICS:
        problems.append(f"metrics: at most {MAX_METRICS}")
        return []
    out = []
    for item in items:
        pair = _pair(item, "metrics", problems)
        if pair is None:
            continue
        op, name = pair
        if op not in METRICS:
            problems.append(f"metrics: unknown metric {op!r}; known: {', '.join(METRICS)}")
            continue
        if name is None and op != "count":
            problems.append(f"metrics: {op} needs a field, as '{op}:amount'")
            continue
        f = None if name is None else compiler.field(plan.entity, name, problems)
        if name is not None and f is None:
            continue
        column = plan.table.c[name] if f is not None and f.stored else None
        expr = _metric_expr(op, f, column, name, problems)
        if expr is not None:
            out.append(_Metric(op if f is None else f"{op}_{name}", op, f, expr))
    return out


def _order(keys: list[_Key], metrics: list[_Metric], sort: Any, problems: list[str]) -> list[Any]:
    by_name = {k.name: k.expr for k in keys} | {m.name: m.expr for m in metrics}
    items = [sort] if isinstance(sort, str) else list(sort or ())
    order: list[Any] = []
    named = set()
    for item in items:
        name = item.lstrip("-") if isinstance(item, str) else None
        if name not in by_name:
            problems.append(f"sort: unknown {item!r}; known: {', '.join(by_name)}")
            continue
        named.add(name)
        expr = by_name[name]
        # Empty values last in both directions, the same on every database.
        order += [expr.is_(None), expr.desc() if item.startswith("-") else expr.asc()]
    for key in keys:  # then the remaining group keys: a stable, total order
        if key.name not in named:
            order += [key.expr.is_(None), key.expr.asc()]
    return order


def build(plan: EntityPlan, compiler: FilterCompiler, *, where: Any, scope: Any, group_by: Any,
          metrics: Any, sort: Any, limit: Any, dialect: str) -> Query:
    """The aggregation query; raises :class:`FilterError` naming every problem."""
    problems: list[str] = []
    if limit is None:
        limit = MAX_GROUPS
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GROUPS:
        problems.append(f"limit must be a whole number from 1 to {MAX_GROUPS}")
    keys = _keys(plan, compiler, group_by, dialect, problems)
    measures = _metrics(plan, compiler, metrics, problems)
    names = [k.name for k in keys] + [m.name for m in measures]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(f"the same output name is asked for twice: {', '.join(repeated)}")
    order = _order(keys, measures, sort, problems) if not problems else []
    if problems:
        raise FilterError(problems)
    columns = [k.expr.label(k.name) for k in keys] + [m.expr.label(m.name) for m in measures]
    query = sa.select(*columns).select_from(plan.table)
    conditions = [c for c in (where, scope) if c is not None]
    if conditions:
        query = query.where(*conditions)
    if keys:
        query = query.group_by(*(k.expr for k in keys))
    return Query(query.order_by(*order).limit(limit + 1), tuple(keys), tuple(measures), limit)


def _decimal_json(plan: EntityPlan, f: Field, value: Any, extra: int) -> str:
    # The column knows the field's scale, whatever type (or formula) declared it.
    scale = getattr(plan.table.c[f.name].type, "scale", None) or 0
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-(scale + extra))))


def _value_json(plan: EntityPlan, f: Field, value: Any) -> Any:
    """A stored-form value (group key, sum, min, max) in the field's JSON form."""
    if value is None:
        return None
    convert = plan.from_db.get(f.name)
    value = convert(value) if convert is not None else value
    to_json = plan.to_json.get(f.name)
    return to_json(value) if to_json is not None else value


def _metric_json(plan: EntityPlan, metric: _Metric, value: Any) -> Any:
    if metric.op in ("count", "count_distinct"):
        return int(value or 0)
    if value is None:
        return None
    f = metric.field
    if metric.op == "avg":
        if kind_of(f) == "double":
            return _decimal_json(plan, f, value, AVG_EXTRA_SCALE)
        return float(value)
    if metric.op == "sum" and kind_of(f) == "int":
        return int(value)
    return _value_json(plan, f, value)


def run(conn: sa.Connection, plan: EntityPlan, query: Query) -> Groups:
    """Execute ``query``; rows in JSON form (see the module doc)."""
    rows = []
    for row in conn.execute(query.select).mappings():
        out: dict[str, Any] = {}
        for key in query.keys:
            value = row[key.name]
            out[key.name] = value if key.bucket is not None else _value_json(plan, key.field, value)
        for metric in query.metrics:
            out[metric.name] = _metric_json(plan, metric, row[metric.name])
        rows.append(out)
    truncated = len(rows) > query.limit
    return Groups(rows[:query.limit], truncated)
