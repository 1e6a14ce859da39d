"""Metadata errors: each names its file, JSON path and line; all are reported together."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from engine.model import json_path


@dataclass(frozen=True)
class MetadataError:
    """One mistake in a metadata file."""

    file: str
    path: tuple[str | int, ...]
    message: str
    line: int | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {json_path(self.path)}: {self.message}"

    @property
    def json_path(self) -> str:
        return json_path(self.path)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.json_path,
                "code": self.code, "message": self.message}


class MetadataInvalid(Exception):
    """Raised once with every error found in the metadata."""

    def __init__(self, errors: list[MetadataError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line or 0, e.json_path))
        count = len(self.errors)
        super().__init__(f"{count} metadata error{'s' if count != 1 else ''}:\n"
                         + "\n".join(f"  {e}" for e in self.errors))


def suggest(word: str, known: "list[str] | set[str] | frozenset[str]") -> str:
    """`` (did you mean 'label'?)`` when ``word`` looks like a typo of a known name, else ``""``."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
