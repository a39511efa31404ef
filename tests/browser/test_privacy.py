"""A data-subject request from the register to the export, in a real browser."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from tests.browser.pages import log_in, log_out
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


@pytest.mark.django_db(transaction=True)
def test_notice_and_explicit_consent_published_then_recorded_at_the_counter(
    page: Page, world_a: TenantWorld, live_server: LiveServer
) -> None:
    with tenant_context(world_a.tenant):
        ayse = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(
                first_name="Ayşe", last_name="Yılmaz", phones=["05321112233"]
            ),
        )
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.get_by_test_id("role-navigation").locator("[data-nav=privacy_texts]").click()
    for kind, purpose, title, body in (
        ("notice", "customer_relationship", "Aydınlatma metni", "Verileriniz satış için işlenir."),
        ("explicit", "profiling", "Profilleme rızası", "Size özel teklifler için rıza."),
    ):
        page.get_by_test_id("new-text").click()
        form = page.get_by_test_id("text-form")
        form.locator("select[name=kind]").select_option(kind)
        form.locator("select[name=purpose]").select_option(purpose)
        form.get_by_label("Title").fill(title)
        form.get_by_label("Text").fill(body)
        form.locator("button").first.click()
        expect(page.get_by_test_id("text-body")).to_have_text(body)
        page.get_by_role("link", name="Notices & explicit consent").first.click()
    expect(page.get_by_test_id("texts-table")).to_contain_text("Profilleme rızası")

    # At the counter: the notice first, then the separate explicit consent.
    log_out(page)
    log_in(page, world_a.users[Role.BRANCH_STAFF].email)
    page.goto(f"{live_server.url}/t/{world_a.tenant.slug}/customers/{ayse.pk}/")
    panel = page.get_by_test_id("privacy-panel")
    row = panel.locator("tr[data-purpose=profiling]")
    row.get_by_test_id("explicit-accept").click()
    expect(panel.get_by_test_id("privacy-error")).to_contain_text("information notice first")
    panel.locator("#privacy_document_ref").fill("RZ-0042")
    panel.locator("tr[data-purpose=customer_relationship]").get_by_test_id("notice-shown").click()
    expect(panel.get_by_test_id("privacy-saved")).to_contain_text("Notice presented")
    panel.locator("tr[data-purpose=profiling]").get_by_test_id("explicit-accept").click()
    expect(panel.get_by_test_id("privacy-saved")).to_contain_text("Explicit consent given")
    expect(
        panel.locator("tr[data-purpose=profiling]").get_by_test_id("explicit-status")
    ).to_have_text("Explicit consent given")
    panel.get_by_test_id("privacy-history").locator("summary").click()
    expect(panel.get_by_test_id("privacy-history")).to_contain_text("RZ-0042")
