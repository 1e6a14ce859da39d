"""What the record service raises. The web layer maps each to a response; none is a traceback.

- :class:`ValidationFailed` (422): every problem of one call at once, each a
  :class:`FieldError` with a bilingual message; nothing was written.
- :class:`VersionConflict` (409): the record changed since the caller read it.
- :class:`RecordNotFound` (404): no such record, or not one the actor may see.
- :class:`PermissionDenied` (403): the policy refuses the action.

No database access and no Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.model import Text


@dataclass(frozen=True)
class FieldError:
    """One problem: a field's (``field``), a rule's (``rule``) or the record's (neither).

    ``row`` is the index of the input row in :meth:`RecordService.bulk_create`.
    """

    field: str | None
    code: str
    message: Text
    rule: str | None = None
    row: int | None = None

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        """JSON-safe form; ``lang`` picks one language, ``None`` keeps them all."""
        message: Any = self.message.as_dict() if lang is None else self.message.get(lang)
        out: dict[str, Any] = {"field": self.field, "code": self.code, "message": message}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.row is not None:
            out["row"] = self.row
        return out

    def __str__(self) -> str:
        where = f"row {self.row}: " if self.row is not None else ""
        what = self.field or (f"rule {self.rule}" if self.rule else "record")
        return f"{where}{what}: {self.message.get()}"


def text(en: str, zh: str) -> Text:
    """A bilingual message."""
    return Text.of({"en": en, "zh-CN": zh})


class RecordError(Exception):
    """Base class of the record service's errors."""


class ValidationFailed(RecordError):
    """Input the record service refused; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:10])
        more = f" (and {len(self.errors) - 10} more)" if len(self.errors) > 10 else ""
        super().__init__(f"{len(self.errors)} problem(s): {shown}{more}")

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        """``{"message": ..., "errors": [{field, code, message, rule?, row?}, ...]}``."""
        summary = text(f"{len(self.errors)} problem(s) found; nothing was saved",
                       f"发现 {len(self.errors)} 个问题，未保存任何内容")
        return {"message": summary.as_dict() if lang is None else summary.get(lang),
                "errors": [e.as_dict(lang) for e in self.errors]}

    def codes(self) -> dict[str | None, list[str]]:
        """``{field or None: [code, ...]}`` (handy in tests and logs)."""
        out: dict[str | None, list[str]] = {}
        for e in self.errors:
            out.setdefault(e.field, []).append(e.code)
        return out


class VersionConflict(RecordError):
    """Optimistic locking: the record's version is not the one the caller read."""

    def __init__(self, entity: str, record_id: int, expected: int | None,
                 actual: int | None) -> None:
        self.entity, self.record_id = entity, record_id
        self.expected, self.actual = expected, actual
        self.message = text(
            f"{entity} {record_id} was changed by someone else (you had version {expected}, "
            f"it is now {actual}); reload and try again",
            f"{entity} {record_id} 已被他人修改（您的版本 {expected}，当前版本 {actual}），请刷新后重试")
        super().__init__(self.message.get())


class RecordNotFound(RecordError):
    """No record with that id, or none the actor may see (the two are not told apart)."""

    def __init__(self, entity: str, record_id: Any) -> None:
        self.entity, self.record_id = entity, record_id
        self.message = text(f"no {entity} record with id {record_id}",
                            f"不存在 ID 为 {record_id} 的 {entity} 记录")
        super().__init__(self.message.get())


class PermissionDenied(RecordError):
    """The permission policy refuses ``action`` on ``entity`` (or on one record)."""

    def __init__(self, entity: str, action: str, detail: str = "") -> None:
        self.entity, self.action = entity, action
        self.message = text(f"you may not {action} {entity} records{detail}",
                            f"您无权{_ACTION_ZH.get(action, action)} {entity} 记录{detail}")
        super().__init__(self.message.get())


_ACTION_ZH = {"create": "创建", "read": "查看", "update": "修改", "delete": "删除"}
