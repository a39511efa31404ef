"""A person working for two companies switches between them from the navigation bar."""

from __future__ import annotations

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from crm.permissions import Role
from tests.browser.pages import expected_nav_keys, log_in, path_is, visible_nav_keys
from tests.conftest import TenantWorld
from tests.factories import MembershipFactory, TenantFactory

pytestmark = pytest.mark.browser


def role_label(role: Role) -> str:
    with translation.override("tr"):
        return str(role.label)


def test_switching_company_changes_the_name_and_the_menu(
    page: Page, world_a: TenantWorld, world_b: TenantWorld
) -> None:
    user = world_a.users[Role.MARKETING]
    MembershipFactory(tenant=world_b.tenant, user=user, role=Role.CALL_CENTRE, branch=None)
    company_a = f"/t/{world_a.tenant.slug}/"
    company_b = f"/t/{world_b.tenant.slug}/"

    log_in(page, user.email)
    # Two companies: the start page asks which one.
    expect(page.locator(f"#content a[href='{company_a}']")).to_be_visible()
    expect(page.locator(f"#content a[href='{company_b}']")).to_be_visible()
    page.locator(f"#content a[href='{company_a}']").click()

    expect(page).to_have_url(path_is(company_a))
    expect(page.locator("#content h1")).to_have_text(world_a.tenant.name)
    expect(page.locator("#content")).to_contain_text(role_label(Role.MARKETING))
    assert visible_nav_keys(page) == expected_nav_keys(Role.MARKETING)

    switch = page.get_by_test_id("tenant-switch")
    expect(switch).to_contain_text(world_a.tenant.name)
    switch.click()
    other = page.locator(f".dropdown-menu.show a.dropdown-item[href='{company_b}']")
    expect(other).to_be_visible()
    expect(other).to_contain_text(world_b.tenant.name)
    other.click()

    expect(page).to_have_url(path_is(company_b))
    expect(page.locator("#content h1")).to_have_text(world_b.tenant.name)
    expect(page.get_by_test_id("tenant-switch")).to_contain_text(world_b.tenant.name)
    expect(page.locator("#content")).to_contain_text(role_label(Role.CALL_CENTRE))
    assert visible_nav_keys(page) == expected_nav_keys(Role.CALL_CENTRE)


def test_a_company_the_user_does_not_belong_to_is_not_found(
    page: Page, world_a: TenantWorld
) -> None:
    stranger = TenantFactory.create(slug="gizli", name="Gizli Holding")
    user = world_a.users[Role.MARKETING]

    log_in(page, user.email)
    response = page.goto(f"/t/{stranger.slug}/")

    assert response is not None and response.status == 404
    expect(page.locator("#content .display-4")).to_have_text("404")
    expect(page.get_by_text(stranger.name)).to_have_count(0)
    # The user's own company is still one click away in the switcher.
    page.get_by_test_id("tenant-switch").click()
    expect(
        page.locator(f".dropdown-menu.show a[href='/t/{world_a.tenant.slug}/']")
    ).to_contain_text(world_a.tenant.name)
