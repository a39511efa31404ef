"""What a user does in the browser, as small helpers shared by the browser tests."""

from __future__ import annotations

import re
import time

import pyotp
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from crm.navigation import NAVIGATION
from crm.permissions import PERMISSION_MATRIX, Role

PASSWORD = "test-parola-123"
LOGIN_PATH = "/accounts/login/"
MFA_AUTHENTICATE_PATH = "/accounts/2fa/authenticate/"


def path_is(path: str) -> re.Pattern[str]:
    """A URL pattern matching ``path`` exactly (query string allowed)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


def path_starts_with(path: str) -> re.Pattern[str]:
    return re.compile(rf"^https?://[^/]+{re.escape(path)}")


def totp_code(secret: str) -> str:
    """The authenticator app's current code, never one about to expire.

    allauth accepts only the current 30-second step (no tolerance), so a code read
    in the last moments of a step would be stale by the time the form arrives.
    """
    totp = pyotp.TOTP(secret)
    remaining = totp.interval - time.time() % totp.interval
    if remaining < 3:
        time.sleep(remaining + 0.2)
    return totp.now()


def submit_login(page: Page, email: str, password: str = PASSWORD) -> None:
    if not re.search(r"/accounts/login/", page.url):
        page.goto(LOGIN_PATH)
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator(f"form[action='{LOGIN_PATH}'] button[type=submit]:not([form])").click()


def enter_mfa_code(page: Page, secret: str) -> None:
    expect(page).to_have_url(path_starts_with(MFA_AUTHENTICATE_PATH))
    page.locator("input[name=code]").fill(totp_code(secret))
    page.locator(f"form[action='{MFA_AUTHENTICATE_PATH}'] button[type=submit]:not([form])").click()


def log_in(page: Page, email: str, *, totp_secret: str | None = None) -> None:
    """Log in with e-mail and password, then the authenticator code when one is set up."""
    submit_login(page, email)
    if totp_secret is not None:
        enter_mfa_code(page, totp_secret)
    expect(page).not_to_have_url(path_starts_with("/accounts/"))


def log_out(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    logout = page.locator("form[action='/accounts/logout/'] button[type=submit]:not([form])")
    expect(logout).to_be_visible()
    logout.click()
    expect(page).to_have_url(path_starts_with(LOGIN_PATH))


def visible_nav_keys(page: Page) -> set[str]:
    links = page.get_by_test_id("role-navigation").locator("[data-nav]")
    expect(links.first).to_be_visible()
    return {
        key
        for link in links.all()
        if link.is_visible() and (key := link.get_attribute("data-nav")) is not None
    }


def expected_nav_keys(role: Role | str) -> set[str]:
    """The menu the permission matrix promises ``role``."""
    permissions = PERMISSION_MATRIX[Role(role)]
    return {entry.key for entry in NAVIGATION if entry.permission in permissions}


def translated(message: str, language: str) -> str:
    with translation.override(language):
        return gettext(message)


def overview_heading(page: Page) -> str:
    return page.locator("#content h1").first.inner_text().strip()
