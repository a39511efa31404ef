"""Each role sees exactly the menu its permissions allow, and is refused the rest."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from crm.navigation import NAVIGATION
from crm.permissions import PERMISSION_MATRIX, Role
from tests.browser.pages import expected_nav_keys, log_in, path_is, visible_nav_keys
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_menu_matches_the_role_and_other_pages_are_refused(
    page: Page, world_a: TenantWorld, role: Role
) -> None:
    slug = world_a.tenant.slug
    user = world_a.users[role]

    log_in(page, user.email, totp_secret=world_a.totp_secrets.get(role))

    expect(page).to_have_url(path_is(f"/t/{slug}/"))
    expect(page.locator("#content h1")).to_have_text(world_a.tenant.name)
    expected = expected_nav_keys(role)
    assert visible_nav_keys(page) == expected

    # Every link in the menu opens.
    for entry in NAVIGATION:
        if entry.key not in expected:
            continue
        link = page.get_by_test_id("role-navigation").locator(f"[data-nav={entry.key}]")
        with page.expect_response(lambda r: r.request.resource_type == "document") as info:
            link.click()
        assert info.value.status == 200, f"{entry.key}: {info.value.status}"
        expect(link).to_have_attribute("aria-current", "page")

    # Pages outside the role answer 403 with an explanation, not a stack trace.
    permissions = PERMISSION_MATRIX[role]
    refused = [entry for entry in NAVIGATION if entry.permission not in permissions]
    for entry in refused:
        response = page.goto(reverse(entry.url_name, kwargs={"tenant_slug": slug}))
        assert response is not None and response.status == 403, entry.url_name
        expect(page.locator("#content .display-4")).to_have_text("403")
        # The menu is still the role's own menu on the refusal page.
        assert visible_nav_keys(page) == expected
    if role == Role.BRANCH_STAFF:
        assert {"members", "settings", "branches"} <= {entry.key for entry in refused}
