"""Scalar field types: text, numbers, booleans, contact strings, JSON (dates: ``temporal``)."""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterator, Mapping

import sqlalchemy as sa

from engine.fields.base import FieldType, FieldValueError, register
from engine.model import Field

#: Length limit of a ``string`` field that declares none.
DEFAULT_STRING_LENGTH = 255
#: Length limit of a ``text`` field that declares none (refuses oversized payloads).
DEFAULT_TEXT_LENGTH = 100_000
#: Largest JSON document a ``json`` field stores, in characters of its encoding.
MAX_JSON_CHARS = 65_536
#: Precision and scale of ``decimal``, ``money`` and ``percent`` when not declared.
DEFAULT_DECIMAL = (18, 4)
DEFAULT_MONEY = (18, 2)
DEFAULT_PERCENT = (7, 2)
DEFAULT_CURRENCY = "CNY"

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{3,30}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
#: A decimal number written as a string in the API (``"1234.50"``).
DECIMAL_PATTERN = r"^\s*[-+]?[0-9]+(\.[0-9]+)?\s*$"
#: An optionally signed whole number in ASCII digits (``\d`` would accept other scripts' digits).
INTEGER_RE = re.compile(r"\s*[-+]?[0-9]+\s*")
#: Longest digit string parsed as a number. Python refuses to parse much longer
#: ones (CVE-2020-10735 limit) and no column holds them anyway.
MAX_NUMBER_CHARS = 100


def _type_error(expected_en: str, expected_zh: str) -> FieldValueError:
    return FieldValueError("type", f"must be {expected_en}", f"必须是{expected_zh}")


class _Textual(FieldType):
    textual = True
    keys = frozenset({"max_length", "min_length", "pattern"})
    default_length: int | None = DEFAULT_STRING_LENGTH

    def max_len(self, field: Field) -> int | None:
        return field.max_length if field.max_length is not None else self.default_length

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.String(self.max_len(field))

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise _type_error("text", "文本")
        if isinstance(value, float) and value.is_integer():
            # A phone number or code read from a spreadsheet cell arrives as 13800138000.0.
            value = int(value)
        text = value if isinstance(value, str) else str(value)
        if "\x00" in text:
            # PostgreSQL refuses NUL in text; refuse it here with a message, not a 500.
            raise FieldValueError("nul", "must not contain NUL characters", "不能包含 NUL 字符")
        return text

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        limit = self.max_len(field)
        if limit is not None and len(value) > limit:
            yield FieldValueError("max_length", f"must be at most {limit} characters",
                                  f"不能超过 {limit} 个字符")
        if field.min_length is not None and len(value) < field.min_length:
            yield FieldValueError("min_length", f"must be at least {field.min_length} characters",
                                  f"至少需要 {field.min_length} 个字符")
        if field.pattern and not re.search(field.pattern, value):
            yield FieldValueError("pattern", "has an invalid format", "格式不正确")

    def cel_type(self, field: Field) -> str:
        return "string"

    def json_schema(self, field: Field) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.max_len(field) is not None:
            schema["maxLength"] = self.max_len(field)
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.pattern:
            schema["pattern"] = field.pattern
        return schema

    def convert(self, field: Field, value: Any) -> Any:
        return super().convert(field, value)


@register
class StringType(_Textual):
    name = "string"
    widens_from = frozenset({"email", "phone", "url", "select", "autonumber"})
    titles = True


@register
class TextType(_Textual):
    name = "text"
    long_values = True
    widget = "textarea"
    default_length = DEFAULT_TEXT_LENGTH
    widens_from = frozenset({"string", "email", "phone", "url", "select", "autonumber"})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.Text()




class _FormattedString(_Textual):
    regex: re.Pattern[str]
    what_en = ""
    what_zh = ""

    def coerce(self, field: Field, value: Any) -> Any:
        # Addresses and numbers pasted from elsewhere often carry spaces at either end.
        return super().coerce(field, value).strip()

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        yield from super().check(field, value)
        if not field.pattern and not self.regex.match(value):
            yield FieldValueError("format", f"is not a valid {self.what_en}",
                                  f"不是有效的{self.what_zh}")


@register
class EmailType(_FormattedString):
    name = "email"
    display = "email"
    widget = "email"
    default_length = 254
    regex = EMAIL_RE
    what_en, what_zh = "email address", "电子邮箱"


@register
class PhoneType(_FormattedString):
    name = "phone"
    display = "phone"
    widget = "tel"
    default_length = 32
    regex = PHONE_RE
    what_en, what_zh = "phone number", "电话号码"


@register
class UrlType(_FormattedString):
    name = "url"
    display = "url"
    widget = "url"
    default_length = 2048
    regex = URL_RE
    what_en, what_zh = "URL (http or https)", "网址（http 或 https）"


class _Number(FieldType):
    numeric = True
    keys = frozenset({"min", "max"})

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        if field.min is not None and value < field.min:
            yield FieldValueError("min", f"must be at least {field.min}", f"不能小于 {field.min}")
        if field.max is not None and value > field.max:
            yield FieldValueError("max", f"must be at most {field.max}", f"不能大于 {field.max}")

    def json_schema(self, field: Field) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        if field.min is not None:
            schema["minimum"] = field.min
        if field.max is not None:
            schema["maximum"] = field.max
        return schema


@register
class IntegerType(_Number):
    name = "integer"
    display = "integer"
    list_filter = "number"
    widget = "number"
    #: Bounds of a 64-bit column; larger values are refused rather than overflowing.
    LIMIT = 2**63 - 1

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, bool):
            raise _type_error("a whole number", "整数")
        if isinstance(value, int):
            result = value
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        elif isinstance(value, Decimal) and value == value.to_integral_value():
            result = int(value)
        elif isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS and INTEGER_RE.fullmatch(value):
            result = int(value)
        else:
            raise _type_error("a whole number", "整数")
        if abs(result) > self.LIMIT:
            raise FieldValueError("range", "is out of range", "超出范围")
        return result

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        yield from super().check(field, value)

    def cel_type(self, field: Field) -> str:
        return "int"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "integer", **super().json_schema(field)}


@register
class DecimalType(_Number):
    name = "decimal"
    display = "decimal"
    list_filter = "number"
    widget = "decimal"
    keys = frozenset({"min", "max", "precision", "scale"})
    defaults = DEFAULT_DECIMAL
    widens_from = frozenset({"integer"})

    def dims(self, field: Field) -> tuple[int, int]:
        return (field.precision or self.defaults[0],
                field.scale if field.scale is not None else self.defaults[1])

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        precision, scale = self.dims(field)
        # SQLite has no decimal storage: keep floats there and quantize on read,
        # which also avoids SQLAlchemy's "no native Decimal" warning.
        return sa.Numeric(precision, scale).with_variant(
            sa.Numeric(precision, scale, asdecimal=False), "sqlite")

    def from_db(self, field: Field, value: Any) -> Any:
        if value is None:
            return None
        _, scale = self.dims(field)
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-scale))

    def to_db(self, field: Field, value: Any) -> Any:
        return value

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, bool):
            raise _type_error("a number", "数字")
        try:
            if isinstance(value, float):
                number = Decimal(repr(value))
            elif isinstance(value, (int, Decimal)):
                number = Decimal(value)
            elif isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS:
                number = Decimal(value.strip().replace(",", ""))
            else:
                raise InvalidOperation
        except InvalidOperation:
            raise _type_error("a number", "数字") from None
        if not number.is_finite():
            raise _type_error("a finite number", "有限数字")
        precision, scale = self.dims(field)
        # Trap: check the magnitude before quantize(), which raises InvalidOperation
        # itself once the result needs more digits than the decimal context holds.
        if number != 0 and number.adjusted() >= precision - scale:
            raise FieldValueError("precision", f"must have at most {precision - scale} digits "
                                  "before the decimal point", f"整数部分最多 {precision - scale} 位")
        step = Decimal(1).scaleb(-scale)
        if number != 0 and number.adjusted() < -scale:
            raise FieldValueError("scale", f"must have at most {scale} decimal places",
                                  f"最多 {scale} 位小数")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale and number != number.quantize(step):
            raise FieldValueError("scale", f"must have at most {scale} decimal places",
                                  f"最多 {scale} 位小数")
        return number.quantize(step)

    def spec_problems(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        precision = spec.get("precision", self.defaults[0])
        scale = spec.get("scale", self.defaults[1])
        if isinstance(precision, int) and isinstance(scale, int) and scale > precision:
            yield ("scale", f"scale {scale} is greater than precision {precision}")

    def check(self, field: Field, value: Any) -> Iterator[FieldValueError]:
        yield from super().check(field, value)

    def cel_type(self, field: Field) -> str:
        return "double"

    def to_cel(self, field: Field, value: Any) -> Any:
        return float(value)

    def from_cel(self, field: Field, value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value):
            # Round half up (四舍五入), as people round money: 30,000.125 -> 30,000.13.
            # ``round()`` rounds the binary value half to even (30,000.12), and 1.005 is
            # 1.00499... in binary; the shortest decimal text of the double (``repr``) is
            # what the expression meant.
            number, (precision, scale) = Decimal(repr(value)), self.dims(field)
            if number.adjusted() < precision - scale:  # else coerce names the overflow
                number = number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
            return self.coerce(field, number)
        return self.coerce(field, value)

    def to_json(self, field: Field, value: Any) -> Any:
        return None if value is None else str(value)

    def json_schema(self, field: Field) -> dict[str, Any]:
        precision, scale = self.dims(field)
        # Bounds are Decimals in the model; JSON Schema wants plain numbers.
        bounds = {k: _json_number(v) for k, v in super().json_schema(field).items()}
        # Sent as a string to keep every digit; the pattern applies to strings only.
        return {"type": ["number", "string"], "format": "decimal", "pattern": DECIMAL_PATTERN,
                "x-precision": precision, "x-scale": scale, **bounds}


def _json_number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@register
class MoneyType(DecimalType):
    name = "money"
    display = "money"
    widget = "money"
    keys = frozenset({"min", "max", "precision", "scale", "currency"})
    defaults = DEFAULT_MONEY
    widens_from = frozenset({"integer", "decimal"})

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {**super().json_schema(field), "x-currency": field.currency or DEFAULT_CURRENCY}


@register
class PercentType(DecimalType):
    name = "percent"
    display = "percent"
    widget = "percent"
    defaults = DEFAULT_PERCENT
    widens_from = frozenset({"integer"})


@register
class BooleanType(FieldType):
    name = "boolean"
    display = "boolean"
    list_filter = "boolean"
    widget = "checkbox"
    TRUE = frozenset({"true", "1", "yes", "on", "y", "是"})
    FALSE = frozenset({"false", "0", "no", "off", "n", "否", ""})

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.Boolean(create_constraint=False)

    def coerce(self, field: Field, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            # JSON clients and spreadsheets send 1 and 0.
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in self.TRUE:
            return True
        if isinstance(value, str) and value.strip().lower() in self.FALSE:
            return False
        raise _type_error("true or false", "是或否")

    def is_empty(self, value: Any) -> bool:
        return value is None

    def cel_type(self, field: Field) -> str:
        return "bool"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {"type": "boolean"}


@register
class JsonType(FieldType):
    name = "json"
    display = "json"
    list_filter = None
    long_values = True
    widget = "json"
    indexable = False

    def column_type(self, field: Field) -> sa.types.TypeEngine:
        return sa.JSON()

    def coerce(self, field: Field, value: Any) -> Any:
        try:
            encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise _type_error("JSON", "JSON") from None
        if len(encoded) > MAX_JSON_CHARS:
            raise FieldValueError("max_length", f"must be at most {MAX_JSON_CHARS} characters "
                                  "as JSON", f"JSON 不能超过 {MAX_JSON_CHARS} 个字符")
        return value

    def is_empty(self, value: Any) -> bool:
        return value is None

    def cel_type(self, field: Field) -> str:
        return "dyn"

    def json_schema(self, field: Field) -> dict[str, Any]:
        return {}

    def convert(self, field: Field, value: Any) -> Any:
        return self.coerce(field, value)
