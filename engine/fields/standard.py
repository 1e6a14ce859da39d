"""The standard columns every entity table has, as read-only compiled fields.

Reads, filters, sorts, validation and audit treat ``id``, ``created_at``, ... ``version``
like declared fields, so their values go through the field types too. The column list
itself is :data:`engine.model.STANDARD_COLUMNS`; this module gives each one a type and a
label. Nothing but class lookups at import time.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from engine.fields import registry
from engine.model import Field, Source, Text

#: (column, field type, English label, Chinese label), in ``STANDARD_COLUMNS`` order.
_STANDARD = (
    ("id", "integer", "ID", "ID"),
    ("created_at", "datetime", "Created at", "创建时间"),
    ("updated_at", "datetime", "Updated at", "更新时间"),
    ("created_by", "user", "Created by", "创建人"),
    ("updated_by", "user", "Updated by", "更新人"),
    ("owner", "user", "Owner", "负责人"),
    ("version", "integer", "Version", "版本"),
)

#: The standard columns as (read-only, except ``owner``) fields.
STANDARD_FIELDS: Mapping[str, Field] = MappingProxyType({
    name: Field(name=name, type=registry.get(type_name), label=Text.of({"en": en, "zh-CN": zh}),
                source=Source("<standard column>", (name,)), read_only=name != "owner")
    for name, type_name, en, zh in _STANDARD
})
