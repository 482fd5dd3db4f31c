"""Roles and token scopes: who may do what.

A scope names one kind of request; each needs a least role. A token carries scopes, and it
works for a scope only while its account still holds a role that allows it, so demoting or
disabling an account also takes the power from its tokens.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


SCOPES: dict[str, Role] = {
    "actions:read": Role.viewer,
    "actions:report": Role.operator,
    "actions:write": Role.operator,
    "announcements:write": Role.operator,
    "replay:write": Role.admin,
}


def parse_role(text: str) -> Role:
    """The role named by text; ValueError lists the roles."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"role {text!r}: expected one of {', '.join(Role)}") from None


def check_scope(scope: str) -> str:
    """The scope itself when known; ValueError lists the scopes."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
    return scope


def allows(role: str, scope: str) -> bool:
    """Whether an account of this role may act in this scope."""
    return Role(role).rank >= SCOPES[scope].rank


def at_least(role: str, least: Role) -> bool:
    return Role(role).rank >= least.rank
