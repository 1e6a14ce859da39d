"""List parameters of the records API, parsed into the record service's arguments.

The same keys come either from the query string of ``GET /<entity>`` or from the JSON
body of ``POST /<entity>/query`` (for filters too long for a URL)::

    filter    the engine's structured filter (JSON text in a URL, JSON in a body), see
              engine.filters: {"and": [{"field": "stage", "op": "eq", "value": "won"}, ...]}
    sort      "-close_date,title" (or a list in a body): multi-key, "-" for descending
    page      1.. (offset paging)        per_page  1..MAX_PER_PAGE (default DEFAULT_PER_PAGE)
    after     the cursor of the previous page (keyset paging; not with page)
    total     true|false: also count every matching record
    fields    "id,title" (or a list): only these fields (id and version always come)
    expand    "account,owner" (or a list): add the related records under "_expand"

Only the *shape* is checked here (marshmallow); whether a field exists, may be seen,
sorted or expanded is the record service's decision (``FilterError`` -> 400), so a
hidden field is refused exactly like an unknown one. Pure: no database, no Flask.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qsl

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from engine.fields.reference import MAX_ID
from engine.filters import FilterError
from engine.records.service import MAX_LIMIT
from web.api import jsontext

#: Records per page when the caller does not say.
DEFAULT_PER_PAGE = 50
#: Most records per page (the record service's own limit).
MAX_PER_PAGE = MAX_LIMIT
#: Largest page number (beyond it the offset could not be stored).
MAX_PAGE = MAX_ID // MAX_PER_PAGE
#: Parameters that take a comma-separated list (or a JSON list in a body).
LIST_PARAMS = ("sort", "fields", "expand")
#: Longest name list (sort keys, fields, expansions) one request may give.
MAX_NAMES = 200
#: Distinct query strings whose parsed form each process keeps (parsing is pure; a
#: client paging through one list sends the same few again and again).
PARSED_CACHE_SIZE = 256


class WholeNumber(fields.Field):
    """An integer given as a JSON number or as decimal digits; never a bool or a fraction."""

    default_error_messages = {"invalid": "Not a whole number."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = value.strip() if isinstance(value, str) else None
        # A negative number is a whole number too: the range check says what is wrong.
        if text and len(text) <= 21 and text.lstrip("-").isdigit() and text.count("-") <= 1 \
                and not text.endswith("-"):
            return int(text)
        raise self.make_error("invalid")


class NameList(fields.Field):
    """``"a,-b"`` or ``["a", "-b"]`` -> ``["a", "-b"]`` (blank items dropped)."""

    default_error_messages = {"invalid": "Expected names separated by commas, or a list of names.",
                              "too_many": f"At most {MAX_NAMES} names."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",")]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [v.strip() for v in value]
        else:
            raise self.make_error("invalid")
        items = [v for v in items if v]
        if len(items) > MAX_NAMES:
            raise self.make_error("too_many")
        return items


class FilterSpec(fields.Field):
    """A structured filter: JSON text (query string) or JSON (body); an object or a list."""

    default_error_messages = {"json": "Not valid JSON: {reason}.",
                              "shape": "A filter is a JSON object (a condition, and/or/not) "
                                       "or a list of conditions."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = jsontext.loads(value)
            except ValueError as exc:
                raise self.make_error("json", reason=exc) from None
        if value is None:
            return None
        if not isinstance(value, (dict, list)) or value == {}:
            # {} is no condition at all (send no filter, or [] for "no conditions").
            raise self.make_error("shape")
        return value


class ListParams(Schema):
    """The shape of list parameters; unknown keys are refused."""

    class Meta:
        unknown = RAISE

    filter = FilterSpec(load_default=None)
    sort = NameList(load_default=list)
    page = WholeNumber(load_default=None, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = WholeNumber(load_default=DEFAULT_PER_PAGE,
                           validate=validate.Range(min=1, max=MAX_PER_PAGE))
    after = fields.String(load_default=None, validate=validate.Length(min=1, max=4096))
    total = fields.Boolean(load_default=False)
    fields_ = NameList(data_key="fields", attribute="fields", load_default=None)
    expand = NameList(load_default=list)


_SCHEMA = ListParams()


@dataclass(frozen=True)
class ListQuery:
    """Parsed list parameters; :meth:`service_args` gives ``RecordService.list`` keywords."""

    filter: Any
    sort: tuple[str, ...]
    page: int
    per_page: int
    after: str | None
    total: bool
    fields: tuple[str, ...] | None
    expand: tuple[str, ...]

    def service_args(self) -> dict[str, Any]:
        fields_ = self.fields
        if fields_ is not None and self.expand:
            # An expansion needs its relation's value: read it even if not asked for.
            fields_ = tuple(dict.fromkeys([*fields_, *self.expand]))
        return {"filter": self.filter, "sort": self.sort, "limit": self.per_page,
                "offset": (self.page - 1) * self.per_page, "after": self.after,
                "with_total": self.total, "fields": fields_, "expand": self.expand}


def problems_of(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested error messages as flat ``"key: message"`` lines."""
    if isinstance(messages, Mapping):
        out = []
        for key, value in messages.items():
            out += problems_of(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
        return out
    if isinstance(messages, list):
        return [m for item in messages for m in problems_of(item, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def parse_list(data: Mapping[str, Any]) -> ListQuery:
    """Check and convert list parameters; raises FilterError (-> 400) naming every problem.

    >>> parse_list({"sort": "-amount,title", "per_page": "10"}).sort
    ('-amount', 'title')
    """
    try:
        loaded = _SCHEMA.load(data)
    except ValidationError as exc:
        raise FilterError(problems_of(exc.messages)) from None
    if loaded["after"] is not None and loaded["page"] not in (None, 1):
        raise FilterError(["give either page or after (a cursor), not both"])
    return ListQuery(filter=loaded["filter"], sort=tuple(loaded["sort"]),
                     page=loaded["page"] or 1, per_page=loaded["per_page"],
                     after=loaded["after"], total=loaded["total"],
                     fields=None if loaded["fields"] is None else tuple(loaded["fields"]),
                     expand=tuple(loaded["expand"]))


def from_args(args: Any) -> ListQuery:
    """Parse a query string (a werkzeug MultiDict); repeated list keys are joined."""
    data: dict[str, Any] = {}
    for key in args:
        values = args.getlist(key)
        if key in LIST_PARAMS:
            data[key] = ",".join(values)
        elif len(values) > 1:
            raise FilterError([f"{key}: given {len(values)} times; give it once"])
        else:
            data[key] = values[0]
    return parse_list(data)


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def from_query_string(query_string: bytes) -> ListQuery:
    """:func:`from_args` of a raw query string, remembered (errors are not: they raise).

    The result is shared between requests: callers must not change its filter.
    """
    pairs = parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)
    return from_args(MultiDict(pairs))


def names_param(value: Any, what: str = "fields") -> tuple[str, ...] | None:
    """A ``fields=`` / ``expand=`` query value alone (create, get, bulk), or None when absent."""
    if value is None:
        return None
    names = tuple(v for v in (part.strip() for part in value.split(",")) if v)
    if len(names) > MAX_NAMES:
        raise FilterError([f"{what}: at most {MAX_NAMES} names"])
    return names
