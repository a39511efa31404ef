"""Purchases and interactions imported from files, matched to the customers they name."""

from __future__ import annotations

import io
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from crm import tables
from crm.models import Job
from crm.tenancy import tenant_context
from customers import activity_imports, merge, normalize, services
from customers.models import Customer, Interaction, Product, Purchase, PurchaseLine, Touchpoint
from tests.conftest import TenantWorld

PURCHASES = activity_imports.IMPORT_KINDS["purchases"]
INTERACTIONS = activity_imports.IMPORT_KINDS["interactions"]


def _customer(world: TenantWorld, first: str, last: str, **kwargs: object) -> Customer:
    with tenant_context(world.tenant):
        return services.customer_create(
            tenant=world.tenant,
            actor=None,
            data=services.CustomerInput(first_name=first, last_name=last, **kwargs),  # type: ignore[arg-type]
        )


@pytest.fixture
def people(world_a: TenantWorld) -> dict[str, Customer]:
    return {
        "ayse": _customer(
            world_a, "Ayşe", "Yılmaz", phones=["0532 123 45 67"], emails=["ayse@example.com"]
        ),
        "mehmet": _customer(world_a, "Mehmet", "Öz", tckn="10000000146"),
        "zeynep": _customer(world_a, "Zeynep", "Kaya", phones=["0533 222 33 44"]),
    }


def _run(
    world: TenantWorld,
    kind: activity_imports.ImportKind,
    text: str,
    *,
    encoding: str = "utf-8",
    name: str = "dosya.csv",
) -> activity_imports.ActivityImportResult:
    table = tables.read_table(text.encode(encoding), name)
    with tenant_context(world.tenant):
        mapping = activity_imports.mapping_for(
            tenant=world.tenant, kind=kind, headers=table.headers
        )
        result = kind.run(tenant=world.tenant, actor=world.owner, table=table, mapping=mapping)
    assert isinstance(result, activity_imports.ActivityImportResult)
    return result


def test_turkish_and_english_amounts_parse_alike() -> None:
    for text in ("1.234,56", "1234,56", "1234.56", "1,234.56", "₺1.234,56", "1.234,56 TL"):
        assert normalize.parse_amount(text) == Decimal("1234.56"), text
    assert normalize.parse_amount("-12,50") == Decimal("-12.50")
    assert normalize.parse_amount("12.500") == Decimal("12500.00")
    assert normalize.parse_amount("0,5", places=3) == Decimal("0.500")
    for bad in ("abc", "1.2.3", "12,34,5", "1,2.3"):
        with pytest.raises(ValidationError):
            normalize.parse_amount(bad)


def test_receipt_times_keep_the_time_of_day() -> None:
    local = timezone.get_current_timezone()
    cases = {
        "2024-03-15 14:30": (2024, 3, 15, 14, 30),
        "15.03.2024 14:30:05": (2024, 3, 15, 14, 30),
        "15/03/2024": (2024, 3, 15, 0, 0),
        "20240315": (2024, 3, 15, 0, 0),
        "45000.5": (2023, 3, 15, 12, 0),
    }
    for text, expected in cases.items():
        moment = normalize.parse_datetime(text).astimezone(local)
        assert (moment.year, moment.month, moment.day, moment.hour, moment.minute) == expected
    with pytest.raises(ValidationError):
        normalize.parse_datetime("31.02.2024 10:00")


PURCHASE_HEADER = (
    "Fiş No;Müşteri No;GSM;E-posta;Tarih;Şube;Tutar;İndirim;Ürün Kodu;Adet;Birim Fiyat\n"
)


def _purchase_file(people: dict[str, Customer]) -> str:
    number = people["mehmet"].customer_number
    return PURCHASE_HEADER + "\n".join(
        [
            # One receipt in three lines, the customer named by phone.
            "F-1001;;0532 123 45 67;;15.03.2024 14:30;ALF-01;1.234,56;10,00;SKU-1;2;500,00",
            "F-1001;;0532 123 45 67;;15.03.2024 14:30;ALF-01;1.234,56;10,00;SKU-2;1;200,00",
            "F-1001;;0532 123 45 67;;15.03.2024 14:30;ALF-01;1.234,56;10,00;SKU-3;1,5;23,04",
            # By customer number, English decimals.
            f"F-1002;{number};;;2024-03-16;;99.90;;;;",
            # By e-mail (another spelling of the same address), no receipt number.
            ";;;AYSE@Example.com;16/03/2024 10:00;;45,5;;;;",
            # Nobody has this phone.
            "F-1003;;0555 000 00 00;;17.03.2024;;10,00;;;;",
            # An amount nobody can read, a date that does not exist.
            "F-1004;;0533 222 33 44;;17.03.2024;;on lira;;;;",
            "F-1005;;0533 222 33 44;;31.02.2024;;10,00;;;;",
            ";;;;;;;;;;",
        ]
    )


@pytest.mark.django_db
def test_purchases_are_matched_by_number_phone_and_email(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    with translation.override("en"):
        result = _run(world_a, PURCHASES, _purchase_file(people))
    assert result.as_dict() == {
        "rows": 8,
        "created": 3,
        "skipped": 0,
        "rejected": 3,
        "warnings": 0,
    }
    with tenant_context(world_a.tenant):
        receipt = Purchase.objects.get(external_ref="F-1001")
        assert receipt.customer_id == people["ayse"].pk
        assert receipt.total_amount == Decimal("1234.56")
        assert receipt.discount_amount == Decimal("10.00")
        assert receipt.branch == world_a.branch
        local = timezone.localtime(receipt.purchased_at)
        assert (local.day, local.hour, local.minute) == (15, 14, 30)
        lines = {line.product.sku: line for line in PurchaseLine.objects.filter(purchase=receipt)}
        assert set(lines) == {"SKU-1", "SKU-2", "SKU-3"}
        assert lines["SKU-1"].line_total == Decimal("1000.00")
        assert lines["SKU-3"].quantity == Decimal("1.500")
        assert Product.objects.filter(sku__startswith="SKU-").count() == 3
        by_number = Purchase.objects.get(external_ref="F-1002")
        assert (by_number.customer_id, by_number.total_amount) == (
            people["mehmet"].pk,
            Decimal("99.90"),
        )
        by_email = Purchase.objects.exclude(external_ref__startswith="F-").get()
        assert by_email.customer_id == people["ayse"].pk
        assert by_email.total_amount == Decimal("45.50")
    problems = {p.line: p for p in result.problems}
    assert set(problems) == {7, 8, 9}
    assert all(p.rejected for p in problems.values())
    assert (problems[7].column, problems[7].value) == ("GSM", "0555 000 00 00")
    assert "No customer has this value (Customer's phone)" in problems[7].reason
    assert problems[8].column == "Tutar" and "amount" in problems[8].reason
    assert problems[9].column == "Tarih" and "does not exist" in problems[9].reason


@pytest.mark.django_db
def test_importing_the_same_purchases_again_records_nothing_new(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    text = _purchase_file(people)
    _run(world_a, PURCHASES, text)
    again = _run(world_a, PURCHASES, text, encoding="cp1254")
    assert (again.created, again.skipped, again.rejected) == (0, 3, 3)
    with tenant_context(world_a.tenant):
        assert Purchase.objects.count() == 3
        assert PurchaseLine.objects.count() == 3


@pytest.mark.django_db
def test_a_merged_away_customer_s_purchases_go_to_the_survivor(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    twin = _customer(world_a, "Ayşe", "Yılmaz", phones=["0544 111 22 33"])
    with tenant_context(world_a.tenant):
        merge.customer_merge(
            tenant=world_a.tenant, actor=world_a.owner, keep=people["ayse"], drop=twin, choices={}
        )
    result = _run(
        world_a,
        PURCHASES,
        f"Müşteri No;Tarih;Tutar\n{twin.customer_number};2024-04-01 09:00;50\n",
    )
    assert result.created == 1
    with tenant_context(world_a.tenant):
        assert Purchase.objects.get().customer_id == people["ayse"].pk


@pytest.mark.django_db
def test_windows_1254_semicolon_file_with_turkish_decimals(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    text = (
        "TC Kimlik No;İşlem Tarihi;Toplam Tutar;Ürün Adı;Ürün Kodu;Miktar;Birim Fiyat\n"
        "10000000146;01.02.2024 18:45;2.500,75;Çay bardağı şişesi;ÇAY-01;3;833,58\n"
    )
    result = _run(world_a, PURCHASES, text, encoding="cp1254")
    assert (result.created, result.rejected) == (1, 0)
    with tenant_context(world_a.tenant):
        purchase = Purchase.objects.get()
        assert purchase.customer_id == people["mehmet"].pk
        assert purchase.total_amount == Decimal("2500.75")
        assert purchase.external_ref.startswith(activity_imports.DERIVED_REF_PREFIX)
        product = Product.objects.get(sku="ÇAY-01")
        assert product.name == "Çay bardağı şişesi"
    assert _run(world_a, PURCHASES, text, encoding="cp1254").skipped == 1


@pytest.mark.django_db
def test_a_shared_phone_is_not_guessed(world_a: TenantWorld, people: dict[str, Customer]) -> None:
    _customer(world_a, "Fatma", "Yılmaz", phones=["0532 123 45 67"])
    with translation.override("en"):
        result = _run(world_a, PURCHASES, "GSM;Tarih;Tutar\n05321234567;2024-01-01;10\n")
    [problem] = result.problems
    assert problem.rejected and "customer number" in problem.reason


INTERACTION_HEADER = "Telefon;Tarih;Tür;Konu;Not;Sonuç;Şube;Takip Tarihi\n"


@pytest.mark.django_db
def test_interactions_map_turkish_and_english_kinds_and_do_not_repeat(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    text = INTERACTION_HEADER + "\n".join(
        [
            "0532 123 45 67;15.03.2024 10:15;Gelen arama;Kargo nerede?;Takip no verildi;"
            "Bilgi verildi;ALF-01;20.03.2024",
            "0533 222 33 44;2024-03-16 11:00;Branch visit;Deneme;;Sale;;",
            "0533 222 33 44;2024-03-17;e-posta;;;bilinmiyor;YOK-99;sonra",
            "0555 000 00 00;2024-03-17;Toplantı;Yok;;;;",
            "0532 123 45 67;dün;Toplantı;Tarihsiz;;;;",
        ]
    )
    with translation.override("en"):
        result = _run(world_a, INTERACTIONS, text)
    assert result.as_dict() == {
        "rows": 5,
        "created": 3,
        "skipped": 0,
        "rejected": 2,
        "warnings": 3,
    }
    with tenant_context(world_a.tenant):
        call = Interaction.objects.get(customer=people["ayse"])
        assert (call.touchpoint, call.outcome, call.branch) == (
            Touchpoint.CALL_IN,
            Interaction.Outcome.INFORMED,
            world_a.branch,
        )
        assert call.follow_up_on.isoformat() == "2024-03-20"
        assert call.staff is None
        zeynep = {i.touchpoint: i for i in Interaction.objects.filter(customer=people["zeynep"])}
        assert zeynep[Touchpoint.BRANCH_VISIT].outcome == Interaction.Outcome.SOLD
        assert zeynep[Touchpoint.EMAIL].subject == "E-posta"  # no subject: the kind's name
    rejected = sorted(p.line for p in result.problems if p.rejected)
    assert rejected == [5, 6]
    warned = {p.column for p in result.problems if not p.rejected}
    assert warned == {"Sonuç", "Şube", "Takip Tarihi"}
    again = _run(world_a, INTERACTIONS, text)
    assert (again.created, again.skipped) == (0, 3)
    with tenant_context(world_a.tenant):
        assert Interaction.objects.count() == 3


@pytest.mark.django_db
def test_the_problem_report_defuses_formulas(world_a: TenantWorld) -> None:
    with translation.override("en"):
        result = _run(world_a, PURCHASES, "GSM;Tarih;Tutar\n=HYPERLINK(1);2024-01-01;10\n")
    report = result.error_report_csv().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in report
    assert "\n2;GSM;=" not in report


@pytest.mark.django_db
def test_the_commands_print_a_json_summary(
    world_a: TenantWorld, people: dict[str, Customer], tmp_path: Path
) -> None:
    path = tmp_path / "fisler.csv"
    path.write_bytes(_purchase_file(people).encode("cp1254"))
    out = io.StringIO()
    call_command(
        "import_purchases",
        str(path),
        "--tenant",
        world_a.tenant.slug,
        "--map",
        "Fiş No=receipt_number,Müşteri No=customer_number,GSM=phone,E-posta=email,"
        "Tarih=purchased_at,Tutar=total_amount,Ürün Kodu=sku,Adet=quantity,"
        "Birim Fiyat=unit_price",
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert (summary["created"], summary["skipped"], summary["rejected"]) == (3, 0, 3)
    assert Path(summary["problem_report"]).exists()

    interactions = tmp_path / "gorusmeler.csv"
    interactions.write_text(
        f"Müşteri No;Tarih;Konu\n{people['mehmet'].customer_number};2024-05-05 12:00;Ziyaret\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import_interactions", str(interactions), "--tenant", "alfa", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["created"], summary["rejected"], summary["problem_report"]) == (1, 0, None)


@pytest.mark.django_db(transaction=True)
def test_upload_a_purchases_file_map_preview_and_run_as_a_job(
    world_a: TenantWorld, people: dict[str, Customer], celery_worker_thread: None
) -> None:
    client = Client()
    client.force_login(world_a.owner)
    text = _purchase_file(people)
    upload = client.post(
        reverse("customers:import", kwargs={"tenant_slug": "alfa"}),
        {"kind": "purchases", "file": SimpleUploadedFile("fisler.csv", text.encode("cp1254"))},
    )
    assert upload.status_code == 302
    mapping_url = upload["Location"]
    page = client.get(mapping_url).content.decode()
    assert 'value="receipt_number" selected' in page  # guessed from "Fiş No"
    assert people["ayse"].customer_number in page  # the preview names the customer
    chosen = [
        *("receipt_number", "customer_number", "phone", "email", "purchased_at", "branch_code"),
        *("total_amount", "discount_amount", "sku", "quantity", "unit_price"),
    ]
    fields = dict(enumerate(chosen))
    started = client.post(mapping_url, {**{f"col_{i}": v for i, v in fields.items()}, "start": "1"})
    assert started.status_code == 302
    job_id = int(started["Location"].rstrip("/").split("/")[-1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with tenant_context(world_a.tenant):
            job = Job.objects.get(pk=job_id)
        if job.is_finished:
            break
        time.sleep(0.3)
    assert job.kind == "customers.import_purchases"
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.result["created"], job.result["rejected"]) == (3, 3)
    assert job.output_name == "purchase-import-problems.csv"
    download = client.get(
        reverse("crm:job_download", kwargs={"tenant_slug": "alfa", "job_id": job_id})
    )
    assert b"0555 000 00 00" in download.content
    # The mapping is remembered for purchase files, not offered for customer files.
    again = client.post(
        reverse("customers:import", kwargs={"tenant_slug": "alfa"}),
        {"kind": "customers", "file": SimpleUploadedFile("x.csv", PURCHASE_HEADER.encode())},
    )
    assert "receipt_number" not in client.get(again["Location"]).content.decode()


@pytest.mark.django_db
def test_a_purchase_mapping_needs_customer_date_and_amount(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.owner)
    upload = client.post(
        reverse("customers:import", kwargs={"tenant_slug": "alfa"}),
        {"kind": "purchases", "file": SimpleUploadedFile("f.csv", b"GSM;Tarih;Tutar\n")},
    )
    with translation.override("en"):
        page = client.post(
            upload["Location"],
            {"col_0": "phone", "col_1": "purchased_at", "col_2": "", "start": "1"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert page.status_code == 200
    with tenant_context(world_a.tenant):
        assert Job.objects.get().status == Job.Status.DRAFT


@pytest.mark.django_db
def test_xlsx_receipts_keep_their_time_and_numbers(
    world_a: TenantWorld, people: dict[str, Customer]
) -> None:
    from datetime import datetime as naive_datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Müşteri No", "Tarih", "Tutar", "Kanal"])
    sheet.append(
        [people["zeynep"].customer_number, naive_datetime(2024, 5, 6, 17, 45), 12.345, "Web"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = tables.read_table(buffer.getvalue(), "fisler.xlsx")
    with tenant_context(world_a.tenant):
        mapping = activity_imports.mapping_for(
            tenant=world_a.tenant, kind=PURCHASES, headers=table.headers
        )
        assert mapping == {
            "Müşteri No": "customer_number",
            "Tarih": "purchased_at",
            "Tutar": "total_amount",
            "Kanal": "touchpoint",
        }
        result = activity_imports.purchases_import(
            tenant=world_a.tenant, actor=None, table=table, mapping=mapping
        )
        assert (result.created, result.problems) == (1, [])
        purchase = Purchase.objects.get()
        assert timezone.localtime(purchase.purchased_at).strftime("%H:%M") == "17:45"
        # A number cell is never a Turkish thousands grouping (not 12,345 TL).
        assert purchase.total_amount == Decimal("12.35")
        assert purchase.touchpoint == Touchpoint.ECOMMERCE
