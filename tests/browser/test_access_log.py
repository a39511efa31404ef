"""The personal-data access log, as an owner reads it in a real browser."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from crm.models import PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.browser.pages import log_in
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory


@pytest.mark.django_db(transaction=True)
def test_an_owner_finds_who_opened_a_customer(
    page: Page, world_a: TenantWorld, live_server: LiveServer
) -> None:
    with tenant_context(world_a.tenant):
        ayse = CustomerFactory.create(tenant=world_a.tenant)
        other = CustomerFactory.create(tenant=world_a.tenant)
        for customer, role in ((ayse, Role.CALL_CENTRE), (other, Role.BRANCH_STAFF)):
            PersonalDataAccess.objects.create(
                tenant=world_a.tenant, user=world_a.users[role], subject_type="customer",
                subject_id=customer.pk, action=PersonalDataAccess.Action.VIEW,
            )  # fmt: skip
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.get_by_test_id("role-navigation").locator("[data-nav=access_log]").click()
    log = page.get_by_test_id("access-log")
    expect(log.locator("tbody tr")).to_have_count(2)
    filters = page.get_by_test_id("access-log-filters")
    filters.locator("input[name=customer_number]").fill(ayse.customer_number)
    filters.locator("button[type=submit]").click()
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text(f"#{ayse.pk}")
    expect(log).to_contain_text(world_a.users[Role.CALL_CENTRE].display_name)
