"""Logging in and out with e-mail and password, as branch staff do every day."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.permissions import Role
from tests.browser.pages import (
    LOGIN_PATH,
    log_in,
    log_out,
    path_is,
    path_starts_with,
    submit_login,
    translated,
)
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser


def test_branch_staff_logs_in_to_their_company_and_logs_out(
    page: Page, world_a: TenantWorld
) -> None:
    user = world_a.users[Role.BRANCH_STAFF]
    company = f"/t/{world_a.tenant.slug}/"

    log_in(page, user.email)

    expect(page).to_have_url(path_is(company))
    expect(page.locator("#content h1")).to_have_text(world_a.tenant.name)
    expect(page.get_by_test_id("tenant-switch")).to_contain_text(world_a.tenant.name)
    expect(page.get_by_test_id("user-menu")).to_contain_text(user.display_name)

    log_out(page)

    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    page.goto(company)
    expect(page).to_have_url(path_starts_with(LOGIN_PATH))


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page: Page, world_a: TenantWorld
) -> None:
    user = world_a.users[Role.BRANCH_STAFF]

    submit_login(page, user.email, "yanlis-parola")

    expect(page).to_have_url(path_starts_with(LOGIN_PATH))
    error = translated("The email address and/or password you specified are not correct.", "tr")
    expect(page.locator("form .alert-danger")).to_contain_text(error)
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
