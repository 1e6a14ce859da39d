"""Field types: a golden test over every registered type, then coercion edge cases.

The golden test walks ``engine.fields.registry``: a type registered without a
sample value here, or missing any part of the contract (column, widget, JSON
Schema, CEL type, value round trips), fails, so a new type cannot be half done.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import jsonschema
import pytest
import sqlalchemy as sa

from engine.compiler import COMMON_FIELD_KEYS, compile_documents
from engine.fields import FieldType, FieldTypeRegistry, FieldValueError, registry
from engine.fields.scalar import DEFAULT_STRING_LENGTH, DEFAULT_TEXT_LENGTH, MAX_JSON_CHARS, StringType
from engine.rules import UNKNOWN, Environment, cel_type
from engine.spec import MemorySource, metaschema
from engine.storage.tables import build_tables

UTC = dt.timezone.utc


def compile_specs(*specs):
    errors: list = []
    return compile_documents(MemorySource(*specs).documents(errors), errors)

#: One valid value per type, as the record service holds it after ``coerce``.
SAMPLES = {
    "string": "Acme 有限公司",
    "text": "line one\nline two",
    "email": "sales@example.com",
    "phone": "+86 138-0013-8000",
    "url": "https://example.com/a?b=1",
    "integer": 42,
    "decimal": Decimal("1234.5678"),
    "money": Decimal("99.90"),
    "percent": Decimal("12.50"),
    "boolean": True,
    "date": dt.date(2024, 2, 29),
    "datetime": dt.datetime(2024, 3, 1, 8, 30, tzinfo=UTC),
    "json": {"a": [1, 2], "b": "x"},
    "select": "won",
    "multiselect": ["vip", "partner"],
    "relation": 7,
    "many_to_many": [3, 5],
    "user": 9,
    "autonumber": "CT-2024-00001",
    "formula": Decimal("10.00"),
}

#: Keys a field of each type needs besides ``name`` and ``type``.
SPEC_KEYS = {
    "select": {"options": [{"value": "lead"}, {"value": "won"}]},
    "multiselect": {"options": [{"value": "vip"}, {"value": "partner"}]},
    "relation": {"target": "sample"},
    "many_to_many": {"target": "sample"},
    "autonumber": {"format": "CT-{YYYY}-{seq:5}"},
    "formula": {"expr": "10.0", "returns": "money"},
}


@pytest.fixture(scope="module")
def sample_model():
    fields = [{"name": f"f_{name}", "type": name, **SPEC_KEYS.get(name, {})}
              for name in registry.names()]
    return compile_specs({"entity": "sample", "label": "Sample", "fields": fields})


def _field(model, type_name: str):
    return model.entity("sample").field(f"f_{type_name}")


def test_every_registered_type_has_a_sample_value():
    assert sorted(SAMPLES) == registry.names()


@pytest.mark.parametrize("type_name", registry.names())
def test_type_answers_the_whole_contract(sample_model, type_name):
    field = _field(sample_model, type_name)
    ftype = field.type
    value = SAMPLES[type_name]
    assert registry.get(type_name) is ftype and ftype.name == type_name
    assert isinstance(ftype.widget, str) and ftype.widget
    assert ftype.required_keys <= ftype.keys

    # storage: a column of the entity's table, or a link table
    tables = build_tables(sample_model)
    if ftype.has_column:
        assert isinstance(ftype.column_type(field), sa.types.TypeEngine)
        assert field.name in tables.entity("sample").c
    else:
        assert field.name not in tables.entity("sample").c
        assert {"source_id", "target_id"} <= set(tables.link("sample", field.name).c.keys())
    assert ftype.from_db(field, ftype.to_db(field, value)) == value

    # values: coerce is idempotent on a valid value, which breaks no constraint
    assert ftype.coerce(field, value) == value
    assert list(ftype.check(field, value)) == []
    assert not ftype.is_empty(value)

    # API: the JSON form is valid against the type's schema and coerces back
    schema = ftype.json_schema(field)
    jsonschema.Draft202012Validator.check_schema(schema)
    as_json = json.loads(json.dumps(ftype.to_json(field, value)))
    jsonschema.Draft202012Validator(schema).validate(as_json)
    assert ftype.coerce(field, as_json) == value

    # CEL: the signature is one the wrapper knows, and a value goes there and back
    signature = ftype.cel_type(field)
    cel_type(signature)
    result = Environment({"v": signature}).compile("v").evaluate({"v": ftype.to_cel(field, value)})
    assert result is not UNKNOWN
    assert ftype.from_cel(field, result) == value


@pytest.mark.parametrize("type_name", registry.names())
def test_type_keys_are_in_the_metaschema(type_name):
    declared = set(metaschema("entity")["$defs"]["field"]["properties"])
    assert registry.get(type_name).keys <= declared


def test_metaschema_field_keys_all_belong_to_some_type():
    declared = set(metaschema("entity")["$defs"]["field"]["properties"])
    accepted = set(COMMON_FIELD_KEYS).union(*(t.keys for t in registry.all()))
    assert declared == accepted


def test_registry_refuses_a_duplicate_type():
    with pytest.raises(ValueError, match="'string' is already registered"):
        registry.register(StringType)
    fresh = FieldTypeRegistry()
    fresh.register(StringType)
    with pytest.raises(ValueError, match="already registered"):
        fresh.register(StringType)


def test_registry_refuses_a_type_without_a_name():
    class Nameless(FieldType):
        pass

    with pytest.raises(ValueError, match="has no name"):
        FieldTypeRegistry().register(Nameless)


def test_registry_miss_names_the_known_types():
    with pytest.raises(KeyError) as info:
        registry.get("moneyy")
    assert "unknown field type 'moneyy'; known: autonumber, boolean," in str(info.value)
    assert "moneyy" not in registry


# -- focused coercion and check cases ------------------------------------------

@pytest.fixture(scope="module")
def fields():
    model = compile_specs(
        {"presets": {"phone_cn": {"type": "phone", "pattern": r"^1[3-9]\d{9}$"}}},
        {"entity": "edge", "label": "Edge", "fields": [
            {"name": "amount", "type": "money", "precision": 7},
            {"name": "ratio", "type": "decimal"},
            {"name": "qty", "type": "integer", "min": 0, "max": 10},
            {"name": "big", "type": "integer"},
            {"name": "flag", "type": "boolean"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "datetime"},
            {"name": "mail", "type": "email"},
            {"name": "tel", "type": "phone"},
            {"name": "mobile", "preset": "phone_cn"},
            {"name": "site", "type": "url"},
            {"name": "tags", "type": "multiselect", "options": [{"value": "a"}, {"value": "b"}]},
            {"name": "stage", "type": "select", "options": [{"value": "lead"}, {"value": "won"}]},
            {"name": "title", "type": "string"},
            {"name": "body", "type": "text"},
            {"name": "data", "type": "json"},
            {"name": "account", "type": "relation", "target": "edge"},
            {"name": "floor", "type": "money", "min": "0.5", "max": 100},
        ]})
    return model.entity("edge")


def _ok(entity, name, value):
    f = entity.field(name)
    result = f.type.coerce(f, value)
    problems = list(f.type.check(f, result))
    assert problems == [], [p.message.get() for p in problems]
    return result


def _refused(entity, name, value) -> str:
    """The code of the first problem with ``value`` (coercion or constraint)."""
    f = entity.field(name)
    try:
        problems = list(f.type.check(f, f.type.coerce(f, value)))
    except FieldValueError as exc:
        problems = [exc]
    assert problems, f"{value!r} was accepted"
    assert problems[0].message.get("zh-CN") != problems[0].message.get("en")  # bilingual
    return problems[0].code


@pytest.mark.parametrize("value, expected", [
    ("1.50", Decimal("1.50")), (0.1, Decimal("0.10")), ("1,234.5", Decimal("1234.50")),
    (7, Decimal("7.00")), ("-0", Decimal("0.00")), (" 12 ", Decimal("12.00")),
])
def test_money_keeps_its_scale(fields, value, expected):
    result = _ok(fields, "amount", value)
    assert result == expected and result.as_tuple().exponent == -2


@pytest.mark.parametrize("value, code", [
    ("1.005", "scale"), ("1e-40", "scale"), ("123456", "precision"), ("1e30", "precision"),
    ("abc", "type"), ("NaN", "type"), ("Infinity", "type"), (True, "type"), ("9" * 200, "type"),
])
def test_money_refuses_what_it_cannot_store(fields, value, code):
    assert _refused(fields, "amount", value) == code


def test_decimal_uses_default_precision_and_scale(fields):
    assert _ok(fields, "ratio", "0.1234") == Decimal("0.1234")
    assert _refused(fields, "ratio", "0.12345") == "scale"
    assert _ok(fields, "ratio", "99999999999999.9999") == Decimal("99999999999999.9999")
    assert _refused(fields, "ratio", "100000000000000") == "precision"


def test_decimal_bounds_are_plain_numbers_in_the_json_schema(fields):
    f = fields.field("floor")
    assert f.min == Decimal("0.50") and f.max == Decimal("100.00")
    schema = f.type.json_schema(f)
    assert schema["minimum"] == 0.5 and schema["maximum"] == 100
    json.dumps(schema)
    assert _refused(fields, "floor", "0.49") == "min"


@pytest.mark.parametrize("value, expected", [(" -5 ", -5), (3.0, 3), (Decimal("4"), 4), ("+7", 7)])
def test_integer_accepts_whole_numbers(fields, value, expected):
    assert _ok(fields, "big", value) == expected


@pytest.mark.parametrize("value", ["1.0", 3.5, "1e3", "١٢", True, "9" * 5000, float("inf"), None])
def test_integer_refuses_anything_else(fields, value):
    f = fields.field("big")
    with pytest.raises(FieldValueError):
        f.type.coerce(f, value)


def test_integer_range_and_bounds(fields):
    assert _ok(fields, "big", 2**63 - 1) == 2**63 - 1
    assert _refused(fields, "big", 2**63) == "range"
    assert _refused(fields, "qty", -1) == "min"
    assert _refused(fields, "qty", 11) == "max"
    assert _ok(fields, "qty", 10) == 10


@pytest.mark.parametrize("value, expected", [
    ("yes", True), ("是", True), (" ON ", True), ("1", True), (1, True), (True, True),
    ("no", False), ("否", False), ("", False), ("off", False), (0, False), (False, False),
])
def test_boolean_reads_common_spellings(fields, value, expected):
    assert _ok(fields, "flag", value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, 1.0, None, []])
def test_boolean_refuses_other_values(fields, value):
    f = fields.field("flag")
    with pytest.raises(FieldValueError):
        f.type.coerce(f, value)


def test_dates(fields):
    assert _ok(fields, "day", "2024-02-29") == dt.date(2024, 2, 29)
    assert _ok(fields, "day", dt.datetime(2024, 5, 1, 23, 0)) == dt.date(2024, 5, 1)
    # A timestamp gives its own calendar date, not the UTC one.
    assert _ok(fields, "day", "2024-01-01T23:30:00+08:00") == dt.date(2024, 1, 1)
    for bad in ("2023-02-29", "2024-01-01garbage", "01/02/2024", 20240101):
        assert _refused(fields, "day", bad) == "type"


def test_datetimes_with_offsets_become_utc(fields):
    expected = dt.datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert _ok(fields, "at", "2024-03-01T08:00:00+08:00") == expected
    assert _ok(fields, "at", "2024-03-01T00:00:00Z") == expected
    assert _ok(fields, "at", "2024-03-01T00:00:00") == expected  # naive means UTC
    assert _ok(fields, "at", dt.date(2024, 3, 1)) == expected
    f = fields.field("at")
    assert f.type.to_db(f, expected) == dt.datetime(2024, 3, 1)  # stored naive UTC
    assert f.type.from_db(f, dt.datetime(2024, 3, 1)) == expected
    assert _refused(fields, "at", "9999-12-31T23:00:00-05:00") == "range"
    assert _refused(fields, "at", "tomorrow") == "type"


def test_email_format(fields):
    assert _ok(fields, "mail", "  li.lei@example.com.cn ") == "li.lei@example.com.cn"
    for bad in ("li.lei", "a@b", "a b@example.com", "@example.com"):
        assert _refused(fields, "mail", bad) == "format"


def test_phone_format(fields):
    assert _ok(fields, "tel", "+86 (0)10-1234 5678".replace("(0)", "")) == "+86 10-1234 5678"
    assert _ok(fields, "tel", 13800138000.0) == "13800138000"  # a spreadsheet cell
    for bad in ("12ab", "+", "phone"):
        assert _refused(fields, "tel", bad) == "format"


def test_phone_cn_preset_pattern_replaces_the_generic_format(fields):
    assert _ok(fields, "mobile", "13800138000") == "13800138000"
    for bad in ("12800138000", "1380013800", "+8613800138000"):
        assert _refused(fields, "mobile", bad) == "pattern"


def test_url_format(fields):
    assert _ok(fields, "site", "https://example.com/x?y=1") == "https://example.com/x?y=1"
    for bad in ("ftp://example.com", "example.com", "https://"):
        assert _refused(fields, "site", bad) == "format"


def test_multiselect_dedupes_and_checks_options(fields):
    assert _ok(fields, "tags", ["b", "a", "b"]) == ["b", "a"]
    assert _ok(fields, "tags", " a, b ,a ") == ["a", "b"]
    assert _ok(fields, "tags", []) == []
    assert _refused(fields, "tags", ["a", "c"]) == "choice"
    assert _refused(fields, "tags", [1]) == "type"


def test_select_checks_its_options(fields):
    assert _ok(fields, "stage", "won") == "won"
    f = fields.field("stage")
    (problem,) = f.type.check(f, "closed")
    assert problem.code == "choice" and "'closed' is not one of: lead, won" in problem.message.get()
    assert _refused(fields, "stage", 1) == "type"


def test_text_sizes(fields):
    assert _ok(fields, "title", "x" * DEFAULT_STRING_LENGTH)
    assert _refused(fields, "title", "x" * (DEFAULT_STRING_LENGTH + 1)) == "max_length"
    assert _ok(fields, "body", "x" * DEFAULT_TEXT_LENGTH)
    assert _refused(fields, "body", "x" * (DEFAULT_TEXT_LENGTH + 1)) == "max_length"
    assert _refused(fields, "title", "a\x00b") == "nul"
    assert _refused(fields, "title", ["x"]) == "type"


def test_json_values(fields):
    assert _ok(fields, "data", {"k": [1, None, "x"]}) == {"k": [1, None, "x"]}
    assert _refused(fields, "data", {"k": float("nan")}) == "type"
    assert _refused(fields, "data", "x" * MAX_JSON_CHARS) == "max_length"
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert _refused(fields, "data", deep) == "type"


@pytest.mark.parametrize("value, expected", [(12, 12), ("12", 12), ({"id": 3}, 3), (" 4 ", 4)])
def test_relation_ids(fields, value, expected):
    assert _ok(fields, "account", value) == expected


@pytest.mark.parametrize("value", [0, -1, True, 2**63, "9" * 100, "x", 1.5, {"name": 1}])
def test_relation_refuses_non_ids(fields, value):
    assert _refused(fields, "account", value) == "type"


def test_convert_goes_through_text_and_checks(fields):
    f = fields.field("qty")
    assert f.type.convert(f, "7") == 7
    assert f.type.convert(f, Decimal("3")) == 3
    with pytest.raises(FieldValueError):
        f.type.convert(f, "12")  # above max
    tags = fields.field("tags")
    assert tags.type.convert(tags, "a") == ["a"]


def test_standard_fields_cover_the_standard_columns_in_order():
    from engine.fields.standard import STANDARD_FIELDS
    from engine.model import STANDARD_COLUMNS

    assert tuple(STANDARD_FIELDS) == STANDARD_COLUMNS
    assert [n for n, f in STANDARD_FIELDS.items() if not f.read_only] == ["owner"]


@pytest.mark.parametrize(("result", "expected"), [
    (30000.125, "30000.13"),   # 120,000.50 x 25 %: half up, not half to even
    (1.005, "1.01"),           # 1.00499... in binary: the expression meant 1.005
    (2.675, "2.68"),
    (-2.675, "-2.68"),         # away from zero, as PostgreSQL rounds numeric
    (0.1 + 0.2, "0.30"),
])
def test_money_from_an_expression_rounds_half_up(sample_model, result, expected):
    field = _field(sample_model, "money")
    assert field.type.from_cel(field, result) == Decimal(expected)


def test_money_from_an_expression_too_large_is_a_precision_error_not_a_crash(sample_model):
    field = _field(sample_model, "money")
    with pytest.raises(FieldValueError) as caught:
        field.type.from_cel(field, 1e30)
    assert caught.value.code == "precision"
