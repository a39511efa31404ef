"""A marketing manager builds a segment with two conditions, watches the live count,
saves it with an owner and finds it in the list and on its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from tests.browser.pages import log_in
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, CustomerScoreFactory, SegmentationRunFactory

pytestmark = pytest.mark.browser


def test_build_save_and_find_a_segment(page: Page, world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        run = SegmentationRunFactory.create(tenant=world_a.tenant)
        for i, seg in enumerate(["loyal", "loyal", "loyal", "lost"]):
            kind = Customer.Kind.COMPANY if i == 0 else Customer.Kind.PERSON
            customer = CustomerFactory.create(tenant=world_a.tenant, kind=kind)
            CustomerScoreFactory.create(
                tenant=world_a.tenant, run=run, customer=customer, rfm_segment=seg
            )
    slug = world_a.tenant.slug
    log_in(page, world_a.users[Role.MARKETING].email)
    page.goto(f"/t/{slug}/segments/")
    page.get_by_test_id("segment-new").click()
    total = page.get_by_test_id("segment-count-total")
    expect(total).to_have_text("4")

    page.get_by_test_id("segment-add-field").select_option("rfm_segment")
    page.get_by_test_id("segment-add").click()
    first = page.get_by_test_id("segment-condition").nth(0)
    first.locator("select[data-part='values']").select_option(["loyal"])
    expect(total).to_have_text("3")

    page.get_by_test_id("segment-add-field").select_option("kind")
    page.get_by_test_id("segment-add").click()
    second = page.get_by_test_id("segment-condition").nth(1)
    second.locator("select[data-part='values']").select_option(["person"])
    expect(total).to_have_text("2")

    page.locator("#id_name").fill("Sadık bireyler")
    owner = world_a.users[Role.OWNER]
    page.locator("#id_owner").select_option(str(owner.pk))
    page.get_by_test_id("segment-save").click()

    expect(page.get_by_test_id("segment-name")).to_contain_text("Sadık bireyler")
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    expect(page.get_by_test_id("segment-owner")).to_contain_text(owner.display_name)
    page.goto(f"/t/{slug}/segments/")
    expect(page.get_by_test_id("segment-list")).to_contain_text("Sadık bireyler")


def test_nested_group_any_inside_all_with_not(page: Page, world_a: TenantWorld) -> None:
    from segmentation.segment_models import SavedSegment

    with tenant_context(world_a.tenant):
        run = SegmentationRunFactory.create(tenant=world_a.tenant)
        for i, seg in enumerate(["loyal", "loyal", "loyal", "lost"]):
            kind = Customer.Kind.COMPANY if i == 0 else Customer.Kind.PERSON
            customer = CustomerFactory.create(tenant=world_a.tenant, kind=kind)
            CustomerScoreFactory.create(
                tenant=world_a.tenant, run=run, customer=customer, rfm_segment=seg
            )
    slug = world_a.tenant.slug
    log_in(page, world_a.users[Role.MARKETING].email)
    page.goto(f"/t/{slug}/segments/new/")
    total = page.get_by_test_id("segment-count-total")
    expect(total).to_have_text("4")
    # (lost OR company): two customers.
    page.get_by_test_id("segment-add-group").click()
    group = page.get_by_test_id("segment-group").nth(0)
    expect(group.get_by_test_id("segment-group-match")).to_have_value("any")
    group.get_by_test_id("segment-group-add-field").select_option("rfm_segment")
    group.get_by_test_id("segment-group-add").click()
    group.get_by_test_id("segment-condition").nth(0).locator(
        "select[data-part='values']"
    ).select_option(["lost"])
    expect(total).to_have_text("1")
    group.get_by_test_id("segment-group-add-field").select_option("kind")
    group.get_by_test_id("segment-group-add").click()
    group.get_by_test_id("segment-condition").nth(1).locator(
        "select[data-part='values']"
    ).select_option(["company"])
    expect(total).to_have_text("2")
    # NOT (lost OR company): the other two.
    group.locator(".group-negate").check()
    expect(total).to_have_text("2")
    group.get_by_test_id("segment-group-match").select_option("all")
    expect(total).to_have_text("4")  # NOT (lost AND company): nobody is both
    group.get_by_test_id("segment-group-match").select_option("any")
    page.locator("#id_name").fill("Ne kayıp ne kurumsal")
    page.locator("#id_owner").select_option(str(world_a.users[Role.OWNER].pk))
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    with tenant_context(world_a.tenant):
        saved = SavedSegment.objects.get(tenant=world_a.tenant, name="Ne kayıp ne kurumsal")
    assert saved.rule["conditions"][0]["negate"] is True
    assert saved.rule["conditions"][0]["match"] == "any"
    # The group comes back as it was saved.
    page.goto(f"/t/{slug}/segments/{saved.pk}/edit/")
    reopened = page.get_by_test_id("segment-group")
    expect(reopened).to_have_count(1)
    expect(reopened.get_by_test_id("segment-condition")).to_have_count(2)
    expect(total).to_have_text("2")
