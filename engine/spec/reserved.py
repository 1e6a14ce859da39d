"""Identifiers metadata may not use: SQL reserved words and Loom's own names."""

from __future__ import annotations

from engine.model import STANDARD_COLUMNS

#: Reserved words of SQL:2016, PostgreSQL and SQLite that would need quoting everywhere.
SQL_RESERVED = frozenset("""
abort add all alter analyse analyze and any array as asc asymmetric authorization between
binary both by case cast check collate collation column commit concurrently constraint create
cross current_catalog current_date current_role current_schema current_time current_timestamp
current_user default deferrable delete desc distinct do drop else end except exists false
fetch for foreign freeze from full grant group having ilike in index initially inner insert
intersect into is isnull join lateral leading left like limit localtime localtimestamp natural
not notnull null offset on only or order outer over overlaps placing primary references
returning right row rows select session_user similar some symmetric table tablesample then to
trailing transaction trigger true union unique update user using values variadic verbose view
when where window with without
""".split())

#: Words CEL reserves: a field with one of these names could not be used in an expression.
CEL_RESERVED = frozenset("""
as break const continue else false for function if import in let loop namespace null package
return true var void while
""".split()) | frozenset(
    # Type names CEL declares as identifiers: a variable of the same name clashes with them.
    "type int uint double bool string bytes list map dyn null_type".split())

#: Names a field may not take because every table already has them.
FIELD_RESERVED = frozenset(STANDARD_COLUMNS)

#: Entity names that would collide with fixed web paths (``/api/v1/meta``, ``/api/v1/docs``,
#: ``/r/_users``...): an entity's list lives at ``/api/v1/<entity>`` and ``/r/<entity>``.
ENTITY_RESERVED = frozenset({"meta", "docs", "openapi", "api", "admin", "login", "logout", "static"})

#: Prefix of Loom's own tables; entities may not start with it.
SYSTEM_PREFIX = "loom_"


def identifier_problem(name: str, *, kind: str) -> str | None:
    """Why ``name`` can't be an entity or field name, or ``None`` when it can."""
    if name in SQL_RESERVED:
        return f"{kind} name {name!r} is a reserved SQL word"
    if "__" in name:
        return f"{kind} name {name!r} may not contain '__' (kept for link tables)"
    if kind == "entity" and name in ENTITY_RESERVED:
        return (f"entity name {name!r} is kept for Loom's own web paths "
                f"({', '.join(sorted(ENTITY_RESERVED))})")
    if kind == "entity" and name.startswith(SYSTEM_PREFIX):
        return f"entity name {name!r} may not start with {SYSTEM_PREFIX!r} (kept for Loom's tables)"
    if kind == "field" and name in FIELD_RESERVED:
        return f"field name {name!r} clashes with a standard column ({', '.join(STANDARD_COLUMNS)})"
    if kind == "field" and name in CEL_RESERVED:
        return f"field name {name!r} is a reserved word of CEL, the expression language"
    return None
