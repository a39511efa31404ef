from __future__ import annotations

import pytest

from crm.permissions import (
    PERMISSION_MATRIX,
    ROLES_REQUIRING_TWO_FACTOR,
    Perm,
    Role,
    assignable_roles,
    role_has_permission,
)


def test_every_role_has_an_entry_in_the_matrix() -> None:
    assert set(PERMISSION_MATRIX) == set(Role)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.OWNER, Perm.MANAGE_MEMBERS, True),
        (Role.ADMIN, Perm.MANAGE_SETTINGS, True),
        (Role.MARKETING, Perm.MANAGE_CAMPAIGNS, True),
        (Role.MARKETING, Perm.MANAGE_MEMBERS, False),
        (Role.MARKETING, Perm.EDIT_CUSTOMERS, False),
        (Role.BRANCH_STAFF, Perm.EDIT_CUSTOMERS, True),
        (Role.BRANCH_STAFF, Perm.EXPORT_DATA, False),
        (Role.BRANCH_STAFF, Perm.MANAGE_BRANCHES, False),
        (Role.CALL_CENTRE, Perm.RECORD_CONSENT, True),
        (Role.CALL_CENTRE, Perm.VIEW_DASHBOARDS, False),
        (Role.CALL_CENTRE, Perm.APPROVE_CAMPAIGNS, False),
    ],
)
def test_matrix(role: Role, permission: Perm, allowed: bool) -> None:
    assert role_has_permission(role, permission) is allowed


def test_unknown_role_has_nothing() -> None:
    assert not role_has_permission("janitor", Perm.VIEW_HOME)


def test_only_owners_can_make_owners() -> None:
    assert Role.OWNER in assignable_roles(Role.OWNER)
    assert Role.OWNER not in assignable_roles(Role.ADMIN)
    assert assignable_roles(Role.MARKETING) == []


def test_owners_and_admins_need_two_factor() -> None:
    assert {Role.OWNER, Role.ADMIN} == ROLES_REQUIRING_TWO_FACTOR
