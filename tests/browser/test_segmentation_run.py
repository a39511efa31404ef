"""A marketing manager starts a segmentation run, watches it finish, reads the counts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm.permissions import Role
from crm.tenancy import tenant_context
from segmentation.models import SegmentationRun
from tests.browser.pages import log_in
from tests.conftest import TenantWorld
from tests.segmentation.test_pipeline import Shop, _populate

pytestmark = pytest.mark.browser
RUN_TIMEOUT_MS = 90_000


def test_start_a_run_and_see_segment_counts(
    page: Page, world_a: TenantWorld, celery_worker_thread: None
) -> None:
    with tenant_context(world_a.tenant):
        _populate(Shop(world_a.tenant, world_a.branch), 30)
    slug = world_a.tenant.slug
    log_in(page, world_a.users[Role.MARKETING].email)
    page.goto(f"/t/{slug}/")
    page.locator(f"a[href='/t/{slug}/segmentation/runs/']").first.click()
    expect(page.get_by_test_id("segmentation-runs")).to_be_visible()

    page.get_by_test_id("segmentation-start").click()
    card = page.get_by_test_id("job-progress")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-status", "succeeded", timeout=RUN_TIMEOUT_MS)
    expect(card.locator(".progress-bar")).to_have_text("100%")

    page.reload()
    with tenant_context(world_a.tenant):
        run = SegmentationRun.objects.get()
    rows = page.get_by_test_id("segmentation-runs").locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator(f"a[href='/t/{slug}/segmentation/runs/{run.pk}/']").click()
    expect(page.get_by_test_id("run-customers")).to_have_text("30")
    table = page.get_by_test_id("rfm-segments")
    counts = table.locator("td[data-segment]").all_inner_texts()
    assert sum(int(re.sub(r"\D", "", c) or 0) for c in counts) == 30
    expect(page.get_by_test_id("clusters").locator(".card")).not_to_have_count(0)
