"""A data-subject request from the register to the export, in a real browser."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from tests.browser.pages import log_in
from tests.conftest import TenantWorld


@pytest.mark.django_db(transaction=True)
def test_a_request_from_register_to_export(
    page: Page, world_a: TenantWorld, live_server: LiveServer
) -> None:
    with tenant_context(world_a.tenant):
        ayse = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(
                first_name="Ayşe", last_name="Yılmaz", tckn="10000000146", phones=["05321112233"]
            ),
        )
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.get_by_test_id("role-navigation").locator("[data-nav=kvkk_requests]").click()
    page.get_by_test_id("new-request").click()
    form = page.get_by_test_id("request-form")
    form.get_by_label("Customer number").fill(ayse.customer_number)
    form.locator("select[name=kind]").select_option("access")
    form.get_by_label("Received via").fill("KEP")
    form.locator("button[type=submit]").click()

    expect(page.get_by_text("Request registered")).to_be_visible()
    expect(page.get_by_test_id("identity")).to_contain_text("not yet")
    page.get_by_test_id("identity-form").get_by_label("Identity checked by").select_option(
        "e_signature"
    )
    page.get_by_test_id("identity-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("request-status")).to_have_text("In progress")

    page.get_by_test_id("export-html").click()
    expect(page.get_by_test_id("export-section-customer")).to_contain_text("10000000146")
    expect(page.get_by_test_id("export-section-contact_points")).to_contain_text("+905321112233")
    # Opening the export is itself in the access log, shown in the export of next time.
    page.reload()
    expect(page.get_by_test_id("export-section-access_log")).to_contain_text("export")
