"""The customer screens as the front line uses them: search, create, quick actions, merge."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import ngettext
from playwright.sync_api import Page, Request, expect

from crm.models import Tenant
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import Complaint, Customer, Interaction, MergeLog, RiskFlag
from tests.browser.pages import log_in, path_is, path_starts_with, translated
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser

# Set on the page before typing; a full page load would wipe it.
NO_RELOAD = "window.__noReload"


def add_customer(world: TenantWorld, first_name: str, last_name: str, *phones: str) -> Customer:
    with tenant_context(world.tenant):
        return services.customer_create(
            tenant=world.tenant,
            actor=None,
            data=services.CustomerInput(
                first_name=first_name,
                last_name=last_name,
                home_branch=world.branch,
                phones=list(phones),
            ),
        )


def customers_path(tenant: Tenant, rest: str = "") -> str:
    return f"/t/{tenant.slug}/customers/{rest}"


def customer_path(customer: Customer) -> str:
    return customers_path(customer.tenant, f"{customer.pk}/")


def mark_page(page: Page) -> None:
    page.evaluate(f"{NO_RELOAD} = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(f"{NO_RELOAD} === true"), "the page was reloaded"


def test_branch_staff_finds_a_customer_as_they_type(page: Page, world_a: TenantWorld) -> None:
    ayse = add_customer(world_a, "Ayşe Gül", "Yılmaz", "0532 123 45 67")
    add_customer(world_a, "Ayşe", "Demir", "0533 000 11 22")
    add_customer(world_a, "Mehmet", "Yıldız", "0544 999 88 77")
    log_in(page, world_a.users[Role.BRANCH_STAFF].email)
    page.goto(customers_path(world_a.tenant))

    search = page.get_by_test_id("customer-search")
    expect(search).to_be_focused()
    mark_page(page)
    # Without Turkish letters, as people type on any keyboard.
    search.press_sequentially("ayse yil", delay=30)

    results = page.get_by_test_id("search-results")
    expect(results).to_contain_text("Ayşe Gül Yılmaz")
    expect(results.locator("a")).to_have_count(1)
    expect(results).not_to_contain_text("Ayşe Demir")
    expect(results).not_to_contain_text("Mehmet Yıldız")
    assert_not_reloaded(page)
    expect(page).to_have_url(re.compile(r"[?&]q=ayse(\+|%20)yil"))  # hx-push-url

    results.get_by_role("link", name=re.compile("Ayşe Gül Yılmaz")).click()
    expect(page).to_have_url(path_is(customer_path(ayse)))
    expect(page.get_by_test_id("customer-name")).to_have_text("Ayşe Gül Yılmaz")

    # By the phone, written the way customers say it.
    page.goto(customers_path(world_a.tenant))
    mark_page(page)
    page.get_by_test_id("customer-search").press_sequentially("0532 123 45 67", delay=30)
    results = page.get_by_test_id("search-results")
    expect(results).to_contain_text("+905321234567")
    expect(results.locator("a")).to_have_count(1)
    expect(results).to_contain_text("Ayşe Gül Yılmaz")
    assert_not_reloaded(page)
    results.locator("a").click()
    expect(page).to_have_url(path_is(customer_path(ayse)))


def test_new_customer_warns_about_a_duplicate_before_it_is_created(
    page: Page, world_a: TenantWorld
) -> None:
    existing = add_customer(world_a, "Can", "Kara", "05427654321")
    log_in(page, world_a.users[Role.BRANCH_STAFF].email)
    page.goto(customers_path(world_a.tenant, "new/"))
    checks: list[str] = []

    def count_checks(request: Request) -> None:
        if "/customers/duplicate-check/" in request.url:
            checks.append(request.url)

    page.on("request", count_checks)
    mark_page(page)
    form = page.locator("#customer-form")
    form.locator("input[name=first_name]").fill("can")
    form.locator("input[name=last_name]").fill("KARA")
    form.locator("input[name=phone]").fill("+90 542 765 43 21")

    # Live, before anything is submitted.
    candidates = page.get_by_test_id("duplicate-candidates")
    expect(candidates).to_contain_text("Can Kara")
    expect(candidates).to_contain_text(f"#{existing.customer_number}")
    expect(candidates).to_contain_text(translated("same phone", "tr"))
    expect(candidates).to_contain_text(translated("same last name", "tr"))
    expect(candidates.locator(f"a[href='{customer_path(existing)}']")).to_be_visible()
    assert checks, "the duplicate panel was filled without asking the server"
    assert_not_reloaded(page)
    expect(page).to_have_url(path_is(customers_path(world_a.tenant, "new/")))

    # Submitting without confirming: the form comes back with an error, nothing is created.
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(path_is(customers_path(world_a.tenant, "new/")))
    error = translated(
        "This customer may already exist. Open the existing "
        "record, or confirm that this is someone else.",
        "tr",
    )
    expect(page.locator("#customer-form")).to_contain_text(error)
    expect(page.get_by_test_id("duplicate-candidates")).to_contain_text("Can Kara")
    with tenant_context(world_a.tenant):
        assert Customer.objects.filter(tenant=world_a.tenant).count() == 1

    # The typed values are still there; confirming creates the second record.
    form = page.locator("#customer-form")
    expect(form.locator("input[name=phone]")).to_have_value("+90 542 765 43 21")
    form.locator("input[name=confirm_not_duplicate]").check()
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(rf"{customers_path(world_a.tenant)}\d+/$"))
    expect(page.get_by_test_id("customer-name")).to_have_text("Can Kara")
    created_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    assert created_id != existing.pk
    with tenant_context(world_a.tenant):
        created = Customer.objects.get(tenant=world_a.tenant, pk=created_id)
        assert (created.first_name, created.last_name) == ("Can", "Kara")
        assert list(created.phones.values_list("e164", flat=True)) == ["+905427654321"]
        assert Customer.objects.filter(tenant=world_a.tenant).count() == 2


def open_quick_action(page: Page, target: str) -> None:
    page.locator(f"button[data-bs-target='#{target}']").click()
    # Wait for the collapse animation to end: a click during it can miss the button.
    expect(page.locator(f"#{target}")).to_have_class(re.compile(r"\bcollapse\b.*\bshow\b"))


def test_call_centre_logs_a_contact_opens_a_complaint_and_flags_a_risk(
    page: Page, world_a: TenantWorld
) -> None:
    customer = add_customer(world_a, "Zeynep", "Arslan", "0535 222 33 44")
    log_in(page, world_a.users[Role.CALL_CENTRE].email)
    page.goto(customer_path(customer))
    expect(page.get_by_test_id("customer-name")).to_have_text("Zeynep Arslan")

    # Log the call.
    open_quick_action(page, "log-interaction")
    contact = page.locator("#log-interaction form")
    contact.locator("select[name=touchpoint]").select_option("call_in")
    contact.locator("input[name=subject]").fill("Kargo gecikmesi soruldu")
    contact.locator("textarea[name=notes]").fill("Siparişin yarın teslim edileceği söylendi.")
    contact.locator("select[name=outcome]").select_option("informed")
    with page.expect_navigation():
        contact.locator("> button").click()

    expect(page).to_have_url(path_starts_with(customer_path(customer)))
    # Back on the page, the contact history tab is already open at the new entry.
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_be_visible()
    expect(timeline).to_contain_text("Kargo gecikmesi soruldu")
    expect(timeline).to_contain_text("Siparişin yarın teslim edileceği söylendi.")
    expect(timeline).to_contain_text(world_a.users[Role.CALL_CENTRE].display_name)

    # Open a complaint: the page warns about it from then on.
    open_quick_action(page, "open-complaint")
    complaint = page.locator("#open-complaint form")
    complaint.locator("input[name=subject]").fill("Ürün hasarlı geldi")
    complaint.locator("textarea[name=description]").fill("Kutu ezik, cam kırık.")
    with page.expect_navigation():
        complaint.locator("> button").click()

    expect(page).to_have_url(path_starts_with(customer_path(customer)))
    with translation.override("tr"):
        warning_text = ngettext("%(counter)s open complaint", "%(counter)s open complaints", 1) % {
            "counter": 1
        }
    warning = page.locator("#content .alert-warning").filter(
        has=page.locator(".bi-exclamation-octagon")
    )
    expect(warning).to_contain_text(warning_text)
    page.locator("button[data-bs-target='#complaints']").click()
    expect(page.locator("#complaints")).to_contain_text("Ürün hasarlı geldi")

    # Add a risk flag, then clear it.
    expect(page.get_by_test_id("risk-flag")).to_have_count(0)
    open_quick_action(page, "add-risk")
    risk = page.locator("#add-risk form")
    risk.locator("select[name=kind]").select_option("overdue_payment")
    risk.locator("input[name=note]").fill("Mart taksidi ödenmedi")
    with page.expect_navigation():
        risk.locator("> button").click()

    flag = page.get_by_test_id("risk-flag")
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("Mart taksidi ödenmedi")
    flag.locator("button").click()
    expect(page.get_by_test_id("risk-flag")).to_have_count(0)
    expect(page).to_have_url(path_is(customer_path(customer)))

    with tenant_context(world_a.tenant):
        # The complaint is logged in the timeline too.
        interaction = Interaction.objects.get(customer=customer, touchpoint="call_in")
        assert interaction.outcome == "informed"
        assert interaction.staff == world_a.users[Role.CALL_CENTRE]
        opened = Complaint.objects.get(customer=customer)
        assert opened.status == Complaint.Status.OPEN
        assert opened.due_on is not None
        cleared = RiskFlag.objects.get(customer=customer)
        assert cleared.cleared_at is not None
        assert cleared.cleared_by == world_a.users[Role.CALL_CENTRE]


def test_owner_merges_a_duplicate_and_undoes_it_from_the_merge_log(
    page: Page, world_a: TenantWorld
) -> None:
    # The duplicate first, so the record that stays is the newer one and wins by default.
    drop = add_customer(world_a, "Mehmet Ali", "Demir", "0533 444 55 66")
    keep = add_customer(world_a, "Mehmet", "Demir", "0532 111 22 33")
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.goto(customer_path(keep))

    page.get_by_test_id("merge-button").click()
    merge_path = customers_path(world_a.tenant, f"{keep.pk}/merge/")
    expect(page).to_have_url(path_is(merge_path))
    search = page.get_by_test_id("merge-search")
    search.fill("mehmet dem")
    search.press("Enter")
    results = page.get_by_test_id("merge-search-results")
    expect(results.locator("a")).to_have_count(1)  # never the record itself
    expect(results).to_contain_text("Mehmet Ali Demir")
    results.locator("a").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(merge_path)}\?other={drop.pk}$"))
    expect(page.get_by_test_id("match-evidence")).to_contain_text(
        translated("same last name", "tr")
    )
    expect(page.get_by_test_id("merge-problem")).to_have_count(0)
    expect(page.locator("#choice_first_name_keep")).to_be_checked()
    # The fuller first name is on the other record: take it from there.
    page.locator("label[for=choice_first_name_drop]").click()
    expect(page.locator("#choice_first_name_drop")).to_be_checked()
    page.get_by_test_id("merge-submit").click()

    expect(page).to_have_url(path_is(customer_path(keep)))
    expect(page.get_by_test_id("customer-name")).to_have_text("Mehmet Ali Demir")
    phones = page.get_by_test_id("contact-points")
    expect(phones).to_contain_text("+905321112233")
    expect(phones).to_contain_text("+905334445566")
    expect(page.get_by_test_id("merge-button")).to_be_visible()
    with tenant_context(world_a.tenant):
        drop.refresh_from_db()
        assert drop.merged_into_id == keep.pk

    # Undo from the merge log.
    page.goto(f"/t/{world_a.tenant.slug}/merges/")
    log = page.get_by_test_id("merge-log")
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text(f"#{drop.customer_number}")
    log.get_by_test_id("merge-undo").click()

    expect(page).to_have_url(path_is(f"/t/{world_a.tenant.slug}/merges/"))
    expect(page.get_by_test_id("merge-undo")).to_have_count(0)
    expect(page.get_by_test_id("merge-log")).to_contain_text(translated("undone", "tr"))

    with tenant_context(world_a.tenant):
        kept = Customer.objects.get(pk=keep.pk)
        dropped = Customer.objects.get(pk=drop.pk)
        assert dropped.merged_into_id is None
        assert (kept.first_name, kept.last_name) == ("Mehmet", "Demir")
        assert (dropped.first_name, dropped.last_name) == ("Mehmet Ali", "Demir")
        assert list(kept.phones.values_list("e164", flat=True)) == ["+905321112233"]
        assert list(dropped.phones.values_list("e164", flat=True)) == ["+905334445566"]
        merge_log = MergeLog.objects.get(tenant=world_a.tenant)
        assert merge_log.undone_at is not None
        assert merge_log.undone_by == world_a.owner

    # Both are found again as separate records.
    page.goto(customer_path(keep))
    expect(page.get_by_test_id("customer-name")).to_have_text("Mehmet Demir")
    expect(page.get_by_test_id("contact-points")).not_to_contain_text("+905334445566")
