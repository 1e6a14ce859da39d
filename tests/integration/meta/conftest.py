"""Fixture: a database migrated to a small CRM read from metadata files in a temporary folder."""

from __future__ import annotations

import pytest
from meta_crm import make_crm


@pytest.fixture
def crm(database, tmp_path):
    return make_crm(database, tmp_path)
