"""Errors of account operations. Their messages are safe to show to the user."""

from __future__ import annotations


class AccountError(ValueError):
    """An account operation was refused (unknown user, duplicate name, bad value)."""


class PasswordTooWeak(AccountError):
    """The new password does not meet the minimum requirements."""
