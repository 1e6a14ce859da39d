"""The shipped CRM's deterministic demo data set.

``seed_demo(service, scale=..., seed=...)`` fills an empty database through the record
service; ``create_demo_users(db, tables)`` creates the demo's users. Word lists live in
:mod:`engine.demo.words`. Nothing here runs at import time.
"""

from engine.demo.seed import seed_demo
from engine.demo.users import create_demo_users

__all__ = ["create_demo_users", "seed_demo"]
