"""Access control from ``kind: role`` metadata: which actor may do what to which records.

:class:`RolePolicy` implements :class:`engine.permissions.PermissionPolicy` over the
compiled model's roles; the record service asks it on every call path. Builds SQL
conditions only; never runs queries and never imports Flask.
"""

from engine.access.policy import RolePolicy, is_admin

__all__ = ["RolePolicy", "is_admin"]
