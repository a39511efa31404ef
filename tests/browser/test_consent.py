"""Consent at the counter, and the public opt-out page a message links to."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from consent import services
from consent.models import ConsentEvent, ConsentStatus, ConsentType, SyncStatus
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from tests.browser.pages import log_in, translated
from tests.conftest import TenantWorld
from tests.consent.test_flows import _customer, _onay

pytestmark = pytest.mark.browser

PHONE = "+905321112233"


def test_branch_staff_records_a_signed_consent_at_the_counter(
    page: Page, world_a: TenantWorld
) -> None:
    customer: Customer = _customer(world_a, first_name="Ayşe", last_name="Yılmaz")
    log_in(page, world_a.users[Role.BRANCH_STAFF].email)
    page.goto(f"/t/{world_a.tenant.slug}/customers/{customer.pk}/")

    panel = page.get_by_test_id("consent-panel")
    sms_row = panel.locator(f"tr[data-channel=MESAJ][data-recipient='{PHONE}']")
    expect(sms_row).to_contain_text(translated("nothing recorded", "tr"))
    expect(sms_row.get_by_test_id("consent-decision")).to_contain_text(translated("no", "tr"))

    panel.get_by_test_id("record-consent-button").click()
    form = panel.get_by_test_id("consent-form")
    expect(form).to_be_visible()
    form.locator("#consent_consent_type").select_option(ConsentType.MESAJ)
    form.locator("#consent_status_0").check()  # ONAY
    form.locator("#consent_source").select_option("HS_ISLAK_IMZA")
    form.locator("#consent_document_ref").fill("FORM-117")
    form.get_by_role("button").click()

    expect(panel.get_by_test_id("consent-saved")).to_be_visible()
    expect(sms_row.get_by_test_id("consent-decision")).to_contain_text(translated("yes", "tr"))
    expect(sms_row).to_contain_text("HS_ISLAK_IMZA")
    with tenant_context(world_a.tenant):
        event = ConsentEvent.objects.get(recipient=PHONE)
    assert (event.status, event.sync_status, event.document_ref) == (
        ConsentStatus.ONAY,
        SyncStatus.PENDING,
        "FORM-117",
    )
    assert event.recorded_by_id == world_a.users[Role.BRANCH_STAFF].pk

    # The same decision again is refused with İYS's rule, shown in the open form.
    panel.get_by_test_id("record-consent-button").click()
    form = panel.get_by_test_id("consent-form")
    expect(form).to_be_visible()
    form.locator("#consent_consent_type").select_option(ConsentType.MESAJ)
    form.locator("#consent_status_0").check()
    form.locator("#consent_source").select_option("HS_ISLAK_IMZA")
    form.get_by_role("button").click()
    expect(panel.get_by_test_id("consent-form")).to_be_visible()
    expect(panel.get_by_test_id("consent-form")).to_contain_text("ONAY")
    with tenant_context(world_a.tenant):
        assert ConsentEvent.objects.filter(recipient=PHONE).count() == 1


def test_a_person_opts_out_of_sms_from_the_link_in_english(
    page: Page, world_a: TenantWorld
) -> None:
    _customer(world_a)
    _onay(world_a)
    _onay(world_a, consent_type=ConsentType.ARAMA)

    page.goto(services.opt_out_url(world_a.tenant, PHONE))
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    opt_out = page.get_by_test_id("opt-out")
    expect(opt_out).to_contain_text(world_a.tenant.name)
    expect(opt_out).not_to_contain_text(PHONE)  # masked

    page.get_by_test_id("language-switch").locator("button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    opt_out = page.get_by_test_id("opt-out")
    opt_out.get_by_label("Phone call").uncheck()
    expect(opt_out.get_by_label("SMS / message")).to_be_checked()
    opt_out.get_by_test_id("opt-out-submit").click()

    done = page.get_by_test_id("opt-out-done")
    expect(done).to_contain_text("will no longer send you these messages")
    with tenant_context(world_a.tenant):
        sms = services.may_send(tenant=world_a.tenant, channel_type="MESAJ", recipient=PHONE)
        call = services.may_send(tenant=world_a.tenant, channel_type="ARAMA", recipient=PHONE)
    assert (sms.reason, call.reason) == (services.Reason.RET, services.Reason.ONAY)

    token = services.opt_out_token(tenant=world_a.tenant, recipient=PHONE)
    page.goto(f"/optout/{token[:-2]}xx/")
    expect(page.get_by_test_id("opt-out-invalid")).to_be_visible()
