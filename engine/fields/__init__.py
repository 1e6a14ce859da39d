"""Field types: one class per type, all in one registry.

Importing this package registers the built-in types (class definitions only;
no I/O). Look types up with ``registry.get(name)``.
"""

from engine.fields import choice, computed, reference, scalar, temporal  # noqa: F401  (registers)
from engine.fields.base import FieldType, FieldTypeRegistry, FieldValueError, register, registry

__all__ = ["FieldType", "FieldTypeRegistry", "FieldValueError", "register", "registry"]
