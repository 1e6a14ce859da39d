"""Users, passwords, roles, teams, API tokens and login throttling.

Everything here reads and writes Loom's own tables (``loom_users``,
``loom_credentials``, ``loom_user_roles``, ``loom_teams``, ``loom_team_members``,
``loom_tokens``, ``loom_sessions``, ``loom_login_attempts``); users are not an entity, so none of it
goes through the record service. Every function takes the database and the
model's tables and commits in one place. Never imports Flask.
"""

from engine.accounts.actors import actor_for, team_tree
from engine.accounts.errors import AccountError, PasswordTooWeak
from engine.accounts.teams import (
                                   add_member,
                                   create_team,
                                   list_teams,
                                   remove_member,
                                   set_manager,
                                   set_parent,
)
from engine.accounts.throttle import LoginThrottle
from engine.accounts.sessions import (
                                      SessionUser,
                                      end_other_sessions,
                                      end_session,
                                      list_sessions,
                                      session_user,
                                      start_session,
)
from engine.accounts.tokens import (create_token, list_tokens, revoke_token, token_user,
                                    verify_token)
from engine.accounts.users import (
                                   authenticate,
                                   create_user,
                                   deactivate_user,
                                   find_user,
                                   get_user,
                                   grant_role,
                                   list_users,
                                   reactivate_user,
                                   revoke_role,
                                   search_users,
                                   set_lang,
                                   set_password,
                                   set_time_zone,
                                   update_user,
                                   user_id,
)

__all__ = [
    "AccountError", "LoginThrottle", "PasswordTooWeak", "SessionUser", "end_other_sessions",
    "end_session", "list_sessions", "session_user", "start_session", "token_user", "actor_for", "add_member", "authenticate",
    "create_team", "create_token", "create_user", "deactivate_user", "find_user", "get_user",
    "grant_role", "list_teams", "list_tokens", "list_users", "reactivate_user", "remove_member",
    "revoke_role",
    "revoke_token", "search_users", "set_lang", "set_manager", "set_parent", "set_password", "set_time_zone",
    "team_tree", "update_user", "user_id",
    "verify_token",
]
