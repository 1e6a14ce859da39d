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


def lower_first(label: str) -> str:
    """A label as a word inside an English sentence: ``Service case`` -> ``service case``
    (an abbreviation such as ``SKU`` or ``VIP plan`` stays as it is)."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def entity_words(entity: str, label: Text | None) -> Text:
    """How a message names an entity: its label (lower case inside English), else its name."""
    if label is None:
        return Text.of(entity)
    return Text.of({"en": lower_first(label.get("en")), "zh-CN": label.get("zh-CN")})


NO_REASON = Text.of("")


class EntityError(RecordError):
    """An error about an entity, named in its message by its label in each language.

    ``label`` (the entity's :class:`~engine.model.Text` label) is given where the error
    is raised with the model at hand; without it the message names the entity by its
    name, and :meth:`message_for` lets a caller holding the model name it properly
    (the web layer does, for errors raised outside the record service).
    """

    entity: str
    label: Text | None

    @property
    def message(self) -> Text:
        """The message in every language (see :meth:`message_for`)."""
        return self.message_for(self.label)

    def message_for(self, label: Text | None) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError


class VersionConflict(EntityError):
    """Optimistic locking: the record's version is not the one the caller read."""

    def __init__(self, entity: str, record_id: int, expected: int | None,
                 actual: int | None, *, label: Text | None = None) -> None:
        self.entity, self.record_id, self.label = entity, record_id, label
        self.expected, self.actual = expected, actual
        super().__init__(self.message.get())

    def message_for(self, label: Text | None) -> Text:
        name = Text.of(self.entity) if label is None else label
        return text(
            f"{name.get('en')} {self.record_id} was changed by someone else (you had version "
            f"{self.expected}, it is now {self.actual}); reload and try again",
            f"{name.get('zh-CN')} {self.record_id} 已被他人修改（您的版本 {self.expected}，"
            f"当前版本 {self.actual}），请刷新后重试")


class RecordNotFound(EntityError):
    """No record with that id, or none the actor may see (the two are not told apart)."""

    def __init__(self, entity: str, record_id: Any, *, label: Text | None = None) -> None:
        self.entity, self.record_id, self.label = entity, record_id, label
        super().__init__(self.message.get())

    def message_for(self, label: Text | None) -> Text:
        words = entity_words(self.entity, label)
        zh = words.get("zh-CN") if label is not None else f" {self.entity} "
        return text(f"no {words.get('en')} record with id {self.record_id}",
                    f"不存在 ID 为 {self.record_id} 的{zh}记录")


class PermissionDenied(EntityError):
    """The permission policy refuses ``action`` on ``entity`` (or on one record).

    ``reason`` ends the message in each language (`` outside your own scope`` /
    ``（超出您的数据范围）``); a plain string is used for both.
    """

    def __init__(self, entity: str, action: str, reason: Text | str = "", *,
                 label: Text | None = None) -> None:
        self.entity, self.action, self.label = entity, action, label
        self.reason = Text.of(reason)
        super().__init__(self.message.get())

    def message_for(self, label: Text | None) -> Text:
        words = entity_words(self.entity, label)
        zh = words.get("zh-CN") if label is not None else f" {self.entity} "
        return text(f"you may not {self.action} {words.get('en')} records{self.reason.get('en')}",
                    f"您无权{ACTION_ZH.get(self.action, self.action)}{zh}记录"
                    f"{self.reason.get('zh-CN')}")


#: Actions in Chinese, as messages name them.
ACTION_ZH = {"create": "创建", "read": "查看", "update": "修改", "delete": "删除"}

#: The ends of :class:`PermissionDenied` messages that the record service gives.
OUTSIDE_SCOPE = text(" outside your own scope", "（超出您的数据范围）")
