"""A privacy handler sets retention periods and runs the destruction by hand."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from consent.kvkk.models import DataKind, DestructionRun
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.browser.pages import log_in
from tests.conftest import TenantWorld


@pytest.mark.browser_locale("en-US")
def test_owner_sets_periods_and_runs_the_destruction(
    page: Page, world_a: TenantWorld, celery_worker_thread: None, live_server: LiveServer
) -> None:
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.get_by_test_id("role-navigation").locator("[data-nav=retention]").click()
    form = page.get_by_test_id("retention-form")
    expect(form.locator(f"#id_{DataKind.ACCESS_LOG}")).to_have_value("24")
    # Under the legal minimum: refused with the reason, nothing saved.
    form.locator(f"#id_{DataKind.CONSENT_EVIDENCE}").fill("6")
    form.locator(f"#id_{DataKind.CONSENT_EVIDENCE}").evaluate("e => e.removeAttribute('min')")
    form.locator("button").click()
    expect(page.get_by_test_id("retention-form")).to_contain_text("36")
    form = page.get_by_test_id("retention-form")
    form.locator(f"#id_{DataKind.CONSENT_EVIDENCE}").fill("48")
    form.locator(f"#id_{DataKind.ACCESS_LOG}").fill("30")
    form.locator("button").click()
    expect(page.get_by_text("Retention periods saved.")).to_be_visible()
    expect(
        page.get_by_test_id("retention-form").locator(f"#id_{DataKind.ACCESS_LOG}")
    ).to_have_value("30")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("run-destruction").click()
    expect(page.get_by_text("Destruction started")).to_be_visible()
    # The worker runs it; the page shows the log as it stands when loaded.
    runs = page.get_by_test_id("destruction-runs")
    for _attempt in range(40):
        if "nothing was due" in runs.inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(runs).to_contain_text("nothing was due")
    expect(runs).to_contain_text("Started by hand")
    with tenant_context(world_a.tenant):
        run = DestructionRun.objects.get(tenant=world_a.tenant)
    assert run.actor == world_a.owner
    assert run.rules[DataKind.ACCESS_LOG] == 30 and run.rules[DataKind.CONSENT_EVIDENCE] == 48
