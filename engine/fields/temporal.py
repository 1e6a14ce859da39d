"""Temporal field types: date and datetime.

Datetimes are aware and UTC in Python and stored as naive UTC on every database;
both types are CEL timestamps, so a date field compares with ``now()`` and ``today()``.
A date is bound as midnight UTC of its calendar day (so ``getDate()`` and friends give
its own day, as in the browser), which is how ``today()`` gives the organisation's
date too. A CEL result for a date field that is such a midnight is that day; any other
instant (``now()``) is the day it falls on in the organisation's zone (the zone of the
evaluation's clock).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from engine.clock import evaluation_clock
from engine.fields.base import FieldValueError, register
from engine.fields.scalar import _Number, _type_error
from engine.model import Field

UTC = dt.timezone.utc


@register
class DateType(_Number):
    name = "date"
    display = "date"
    list_filter = "date"
    widget = "date"
    numeric = False

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.Date()

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                if len(text) <= 10:
                    return dt.date.fromisoformat(text)
                # A full timestamp gives its own calendar date (not converted to UTC).
                return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            except ValueError:
                pass
        raise _type_error("a date (YYYY-MM-DD)", "日期（YYYY-MM-DD）")

    def cel_type(self, field: Field) -> str:
        return "timestamp"

    def to_cel(self, field: Field, value: Any) -> Any:
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)

    def from_cel(self, field: Field, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            instant = value.astimezone(UTC)
            if instant.time() == dt.time(0):  # a date as CEL holds dates (today(), a date field)
                return instant.date()
            return instant.astimezone(evaluation_clock().zone).date()
        return self.coerce(field, value)

    def to_json(self, field: Field, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


@register
class DateTimeType(_Number):
    name = "datetime"
    display = "datetime"
    list_filter = "datetime"
    widget = "datetime"
    numeric = False
    widens_from = frozenset({"date"})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        # Stored as naive UTC on every database; aware in Python.
        return sa.DateTime(timezone=False)

    def from_db(self, field: Field, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def to_db(self, field: Field, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            result = value
        elif isinstance(value, dt.date):
            result = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            text = value.strip().replace("Z", "+00:00")
            try:
                result = dt.datetime.fromisoformat(text)
            except ValueError:
                raise _type_error("a date and time (ISO 8601)", "日期时间（ISO 8601）") from None
        else:
            raise _type_error("a date and time (ISO 8601)", "日期时间（ISO 8601）")
        if result.tzinfo is None:
            result = result.replace(tzinfo=UTC)
        try:
            return result.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
            raise FieldValueError("range", "is out of range", "超出范围") from None

    def cel_type(self, field: Field) -> str:
        return "timestamp"

    def to_json(self, field: Field, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}
