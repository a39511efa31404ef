"""Turkish by default; English (and back) with the language button in the navigation bar."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.permissions import Role
from tests.browser.pages import log_in, path_is, translated
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser


def switch_language(page: Page, code: str) -> None:
    button = page.get_by_test_id("language-switch").locator(f"button[name=language][value={code}]")
    expect(button).to_be_visible()
    button.click()


@pytest.mark.parametrize(
    "browser_language",
    [
        pytest.param("tr-TR", marks=pytest.mark.browser_locale("tr-TR"), id="turkish-browser"),
        # Many Turkish staff browse with an English browser: the product is still Turkish.
        pytest.param("en-US", marks=pytest.mark.browser_locale("en-US"), id="english-browser"),
    ],
)
def test_language_switch_between_turkish_and_english(
    page: Page, world_a: TenantWorld, browser_language: str
) -> None:
    company = f"/t/{world_a.tenant.slug}/"
    html = page.locator("html")
    overview = page.get_by_test_id("role-navigation").locator("[data-nav=home]")

    # The login page already speaks Turkish, whatever the browser's language.
    page.goto("/accounts/login/")
    assert page.evaluate("navigator.language") == browser_language
    expect(html).to_have_attribute("lang", "tr")
    expect(page.locator("#content h1")).to_have_text(translated("Sign In", "tr"))
    assert translated("Sign In", "tr") != "Sign In"

    log_in(page, world_a.users[Role.CALL_CENTRE].email)
    expect(page).to_have_url(path_is(company))
    expect(html).to_have_attribute("lang", "tr")
    assert translated("Overview", "tr") != "Overview", "the Turkish catalogue lacks 'Overview'"
    expect(overview).to_have_text(translated("Overview", "tr"))

    switch_language(page, "en")
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(path_is(company))  # stays on the same page
    expect(overview).to_have_text("Overview")
    expect(page.locator("#content h1")).to_have_text(world_a.tenant.name)

    # The choice sticks across pages.
    page.goto(f"{company}jobs/")
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("role-navigation").locator("[data-nav=jobs]")).to_have_text(
        "Background jobs"
    )

    switch_language(page, "tr")
    expect(html).to_have_attribute("lang", "tr")
    expect(page).to_have_url(path_is(f"{company}jobs/"))
    expect(overview).to_have_text(translated("Overview", "tr"))
    expect(page.get_by_test_id("language-switch").locator("button[value=en]")).to_be_visible()
