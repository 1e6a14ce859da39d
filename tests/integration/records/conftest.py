"""Fixtures for the record service: the small CRM of ``records_support.py`` on every backend."""

from __future__ import annotations

import pytest
from records_support import ALICE, BOB, compile_crm, install

from engine.records import Actor, RecordService


@pytest.fixture(scope="session")
def crm_model():
    return compile_crm()


@pytest.fixture
def tables(database, crm_model):
    return install(database, crm_model)


@pytest.fixture
def svc(database, crm_model, tables):
    return RecordService(database, crm_model, tables)


@pytest.fixture
def alice():
    return Actor(ALICE, roles=("sales",))


@pytest.fixture
def bob():
    return Actor(BOB, roles=("sales",))


@pytest.fixture
def system():
    return Actor.system()
