"""Loom's engine: metadata -> compiled model -> tables, migrations, the record service.

Rules of this package (see docs/architecture.md): it imports no Flask, and
nothing runs at import time beyond defining classes and registering field types.
"""

__version__ = "0.1.0"
