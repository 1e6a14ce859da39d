"""A small CRM in metadata files in a temporary folder, migrated into a test database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from engine.config import Config, load_model
from engine.spec import FileSource
from engine.storage.migrate import apply_plan
from engine.storage.tables import build_tables

NOW = dt.datetime(2024, 1, 1, 12, 0)

ACCOUNT = {"entity": "account", "label": {"en": "Account", "zh-CN": "客户"},
           "fields": [{"name": "name", "type": "string", "required": True}]}
DEAL = {"entity": "deal", "label": "Deal",
        "fields": [{"name": "title", "type": "string", "required": True},
                   {"name": "amount", "type": "decimal", "precision": 12, "scale": 2},
                   {"name": "account", "type": "relation", "target": "account"}]}


class Crm:
    """The folder, the database and helpers to read what a change did."""

    def __init__(self, db, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self.config = Config(database_url=db.url, metadata_dirs=(folder,))

    @property
    def files(self) -> FileSource:
        return FileSource(self.folder)

    def write(self, name: str, spec: dict[str, Any]) -> None:
        (self.folder / f"{name}.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True),
                                                  encoding="utf-8")

    def load(self):
        """The model every process compiles: files plus stored documents."""
        return load_model(self.config, db=self.db)

    def insert(self, entity: str, *rows: dict[str, Any]) -> None:
        table = build_tables(self.load()).entity(entity)
        with self.db.write() as conn:
            for row in rows:
                conn.execute(table.insert().values(created_at=NOW, updated_at=NOW, **row))

    def scalar(self, sql: str) -> Any:
        with self.db.read() as conn:
            return conn.execute(sa.text(sql)).scalar()

    def columns(self, table: str) -> list[str]:
        with self.db.read() as conn:
            return [c["name"] for c in sa.inspect(conn).get_columns(table)]

    def stored(self) -> dict[str, Any]:
        with self.db.read() as conn:
            rows = conn.execute(sa.text("select name, body from loom_metadata")).all()
        return {name: json.loads(body) if isinstance(body, str) else body for name, body in rows}


def make_crm(db, tmp_path: Path) -> Crm:
    folder = tmp_path / "schemas"
    folder.mkdir()
    crm = Crm(db, folder)
    crm.write("account", ACCOUNT)
    crm.write("deal", DEAL)
    apply_plan(db, crm.load(), actor="setup")
    return crm
