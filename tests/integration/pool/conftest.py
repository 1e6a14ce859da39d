"""Fixtures for the pool use cases: the shipped CRM with a few pools, on every backend."""

from __future__ import annotations

import pytest
from pool_support import build_world


@pytest.fixture
def world(database):
    return build_world(database)
