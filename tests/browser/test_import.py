"""An importer brings in a customer list, then the till's receipts for those customers."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer, Purchase
from tests.browser.pages import log_in
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 30_000

CUSTOMERS_CSV = (
    "Ad Soyad;GSM;E-posta;Not\n"
    "Ayşe Gül Yılmaz;0532 123 45 67;ayse@example.com;\n"
    "Mehmet Öz;0533 222 33 44;;\n"
    "Deniz Ak;12345;deniz@example.com;telefon bozuk\n"
    ";;;sadece not\n"
)

PURCHASES_CSV = (
    "Fiş No;GSM;Tarih;Tutar;Ürün Kodu;Adet;Birim Fiyat\n"
    "F-1;0532 123 45 67;15.03.2024 14:30;1.250,00;SKU-1;2;500,00\n"
    "F-1;0532 123 45 67;15.03.2024 14:30;1.250,00;SKU-2;1;250,00\n"
    "F-2;0555 000 00 00;16.03.2024;10,00;;;\n"
)


def upload(page: Page, slug: str, name: str, data: str, kind_label: str) -> None:
    page.goto(f"/t/{slug}/customers/")
    page.locator(f"a[href='/t/{slug}/customers/import/']").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/customers/import/$"))
    page.get_by_label(kind_label, exact=True).check()
    payload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": data.encode("cp1254")}
    page.locator("input[name=file]").set_input_files(files=payload)
    page.get_by_role("button", name=re.compile("Continue to column matching")).click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/customers/import/\d+/$"))


def start_and_wait(page: Page, slug: str) -> None:
    page.get_by_role("button", name=re.compile("Start the import")).click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/jobs/\d+/$"))
    card = page.get_by_test_id("job-progress")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(card.locator(".progress-bar")).to_have_text("100%")


def test_importer_brings_in_customers_then_their_receipts(
    page: Page, world_a: TenantWorld, celery_worker_thread: None
) -> None:
    slug = world_a.tenant.slug
    log_in(page, world_a.users[Role.ADMIN].email, totp_secret=world_a.totp_secrets[Role.ADMIN])
    page.goto(f"/t/{slug}/customers/")
    page.get_by_test_id("language-switch").locator("button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # Customers: the columns are guessed from their Turkish titles; the importer maps
    # the one left over and checks the preview before starting.
    upload(page, slug, "musteriler.csv", CUSTOMERS_CSV, "Customers")
    expect(page.get_by_test_id("import-kind")).to_have_text("Customers")
    mapping = page.get_by_test_id("import-mapping")
    expect(mapping.get_by_label("GSM")).to_have_value("phone")
    mapping.get_by_label("E-posta").select_option("email")
    page.get_by_role("button", name=re.compile("Update the preview")).click()
    preview = page.get_by_test_id("import-preview")
    expect(preview).to_contain_text("+905321234567")  # normalised as it will be stored
    expect(preview).to_contain_text("ayse@example.com")
    expect(preview.locator(".text-danger")).not_to_have_count(0)  # Deniz's broken phone
    start_and_wait(page, slug)
    card = page.get_by_test_id("job-progress")
    expect(card).to_contain_text(re.compile(r"\b3 new\b"))
    expect(card).to_contain_text(re.compile(r"\b1 rejected\b"))

    report_link = card.get_by_role("link", name=re.compile("customer-import-problems.csv"))
    with page.expect_download() as downloading:
        report_link.click()
    download = downloading.value
    assert download.suggested_filename == "customer-import-problems.csv"
    report = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "12345" in report and "rejected" in report

    # Receipts for those customers: the preview says whose each one is.
    upload(page, slug, "fisler.csv", PURCHASES_CSV, "Purchases (receipts)")
    expect(page.get_by_test_id("import-kind")).to_have_text("Purchases (receipts)")
    mapping = page.get_by_test_id("import-mapping")
    expect(mapping.get_by_label("Fiş No")).to_have_value("receipt_number")
    expect(mapping.get_by_label("Tutar")).to_have_value("total_amount")
    customers = page.get_by_test_id("preview-customer")
    expect(customers.nth(0)).to_contain_text("Ayşe Gül Yılmaz")
    expect(customers.nth(2)).to_contain_text("No customer has this")
    start_and_wait(page, slug)
    card = page.get_by_test_id("job-progress")
    expect(card).to_contain_text(re.compile(r"\b1 purchases recorded\b"))
    expect(card).to_contain_text(re.compile(r"\b1 rows rejected\b"))
    expect(
        card.get_by_role("link", name=re.compile("purchase-import-problems.csv"))
    ).to_be_visible()

    with tenant_context(world_a.tenant):
        ayse = Customer.objects.get(name_key="ayse gul yilmaz")
        purchase = Purchase.objects.get()
        assert (purchase.customer_id, purchase.external_ref) == (ayse.pk, "F-1")
        assert purchase.total_amount == Decimal("1250.00")
        assert purchase.lines.count() == 2
