"""load_model: metadata files plus the documents the metadata API stored, files alone otherwise."""

from __future__ import annotations

import sqlalchemy as sa

from engine.config import Config, load_model
from engine.meta import create_entity
from engine.storage.documents import METADATA_TABLE, save_document
from engine.spec.errors import MetadataInvalid

TICKET = {"entity": "ticket", "label": "Ticket", "fields": [{"name": "subject", "type": "string"}]}


def test_missing_sqlite_file_gives_the_files_alone_and_creates_nothing(crm, tmp_path):
    where = tmp_path / "nowhere" / "loom.db"
    model = load_model(Config(database_url=f"sqlite:///{where}", metadata_dirs=(crm.folder,)))
    assert set(model.entities) == {"account", "deal"}
    assert not where.parent.exists()


def test_unreachable_server_gives_the_files_alone(crm):
    config = Config(database_url="postgresql://loom@127.0.0.1:1/none", metadata_dirs=(crm.folder,))
    assert set(load_model(config).entities) == {"account", "deal"}


def test_database_without_the_table_gives_the_files_alone(crm):
    with crm.db.write() as conn:
        conn.execute(sa.text(f"DROP TABLE {METADATA_TABLE}"))
    assert set(crm.load().entities) == {"account", "deal"}


def test_stored_documents_join_the_files(crm):
    create_entity(crm.db, crm.files, TICKET, actor="admin")
    assert set(crm.load().entities) == {"account", "deal", "ticket"}


def test_a_broken_stored_document_is_reported_under_its_name(crm):
    with crm.db.write() as conn:
        save_document(conn, "extends", "deal", {"extends": "deal", "fields": [{"type": "text"}]},
                      "tester")
    try:
        crm.load()
    except MetadataInvalid as error:
        assert {e.file for e in error.errors} == {"db:extends/deal"}
    else:
        raise AssertionError("the broken document was not reported")
