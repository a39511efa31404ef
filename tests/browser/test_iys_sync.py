"""An owner sets up İYS, never sees the password again, and syncs with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from consent.iys import sync
from consent.iys.client import TURKEY
from consent.models import ConsentEvent, SyncStatus
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.browser.pages import log_in
from tests.conftest import TenantWorld
from tests.consent.fake_iys import (
    BRAND_CODE,
    IYS_CODE,
    PASSWORD,
    USERNAME,
    FakeIys,
    start_fake_iys,
)
from tests.factories import ConsentEventFactory

pytestmark = pytest.mark.browser
JOB_TIMEOUT_MS = 30_000


@pytest.fixture
def fast_iys() -> Iterator[FakeIys]:
    fake = start_fake_iys()
    sync._limiters.clear()
    try:
        with override_settings(
            IYS_BASE_URL=fake.url, IYS_RESULT_POLL_INTERVAL=0.05, IYS_RATE_LIMITS={}
        ):
            yield fake
    finally:
        fake.stop()


@pytest.mark.browser_locale("en-US")
def test_owner_sets_up_iys_and_syncs_now(
    page: Page,
    world_a: TenantWorld,
    fast_iys: FakeIys,
    celery_worker_thread: None,
    live_server: LiveServer,
) -> None:
    slug = world_a.tenant.slug
    ConsentEventFactory(
        tenant=world_a.tenant,
        recipient="+905321112233",
        consent_date=datetime.now(TURKEY) - timedelta(minutes=3),
    )
    # Pages are Turkish unless the user chose English (the language switch's cookie).
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.get_by_test_id("role-navigation").locator("[data-nav=iys_sync]").click()
    expect(page.get_by_role("heading", name="İYS sync")).to_be_visible()
    expect(page.get_by_test_id("iys-sync-now")).to_have_count(0)  # nothing set up yet

    form = page.locator(f"form[action='/t/{slug}/consent/iys/credentials/']")
    form.locator("input[name=iys_code]").fill(IYS_CODE)
    form.locator("input[name=brand_codes]").fill(BRAND_CODE)
    form.locator("input[name=username]").fill(USERNAME)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()

    expect(page.get_by_text("İYS settings saved.")).to_be_visible()
    expect(page.get_by_test_id("iys-secret-set")).to_contain_text("Password set on")
    expect(form.locator("input[name=password]")).to_have_value("")
    assert PASSWORD not in page.content()

    page.get_by_test_id("iys-sync-now").click()
    card = page.get_by_test_id("job-progress")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(card).to_contain_text("1 sent, 1 accepted, 0 rejected")

    page.reload()
    expect(page.get_by_test_id("iys-counts").locator("[data-state=accepted]")).to_have_text("1")
    last_runs = page.get_by_test_id("iys-last-runs").locator("dd")
    expect(last_runs.nth(0)).not_to_have_text("—")  # last push
    expect(last_runs.nth(1)).not_to_have_text("—")  # last pull
    expect(last_runs.nth(2)).to_have_text("—")  # reconciliation runs at night
    with tenant_context(world_a.tenant):
        event = ConsentEvent.objects.get(tenant=world_a.tenant, recipient="+905321112233")
    assert event.sync_status == SyncStatus.ACCEPTED
    assert fast_iys.current(BRAND_CODE, "+905321112233", "MESAJ") is not None
