"""Owners set up their authenticator app before they reach the company, then use it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from crm.permissions import Role
from tests.browser.pages import (
    PASSWORD,
    enter_mfa_code,
    log_out,
    path_is,
    path_starts_with,
    submit_login,
    totp_code,
)
from tests.conftest import make_world

pytestmark = pytest.mark.browser

BASE32 = re.compile(r"^[A-Z2-7]{16,}=*$")


def test_owner_sets_up_totp_on_first_login_and_then_needs_the_code(
    page: Page, transactional_db: None
) -> None:
    world = make_world("gama", "Gama Yapı", with_totp=False)
    owner = world.users[Role.OWNER]
    company = f"/t/{world.tenant.slug}/"
    activate = reverse("mfa_activate_totp")

    # Password only: the company is out of reach until two-factor is set up.
    submit_login(page, owner.email)
    expect(page.locator(".alert-warning")).to_be_visible()
    # allauth asks for the password once more before an authenticator is added.
    reauthenticate = reverse("account_reauthenticate")
    expect(page).to_have_url(re.compile(f"({re.escape(activate)}|{re.escape(reauthenticate)})"))
    if reauthenticate in page.url:
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator(f"form[action='{reauthenticate}'] button[type=submit]:not([form])").click()
    expect(page).to_have_url(path_starts_with(activate))

    secret_field = page.locator("#authenticator_secret")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value().strip()
    assert BASE32.match(secret), f"not a base32 secret: {secret!r}"

    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator(f"form[action='{activate}'] button[type=submit]:not([form])").click()
    expect(page).not_to_have_url(path_starts_with(activate))

    # allauth shows the recovery codes next, with a way back to where the owner was going.
    page.get_by_test_id("after-two-factor").get_by_role("link").click()
    expect(page).to_have_url(path_is(company))
    expect(page.locator("#content h1")).to_have_text(world.tenant.name)

    # Next time the password alone is not enough.
    log_out(page)
    submit_login(page, owner.email)
    expect(page).to_have_url(path_starts_with(reverse("mfa_authenticate")))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    enter_mfa_code(page, secret)

    expect(page).to_have_url(path_is(company))
    expect(page.locator("#content h1")).to_have_text(world.tenant.name)
