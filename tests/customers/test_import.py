from __future__ import annotations

import gc
import io
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from crm import bulk, tables
from crm.models import Job
from crm.tenancy import tenant_context
from customers import activity_imports, imports, services
from customers.models import Customer, Email, Phone
from tests import factories
from tests.conftest import TenantWorld

HEADER = "Ad Soyad;GSM;E-posta;TC Kimlik No;Doğum Tarihi;İl;Adres;Not\n"
ROWS = [
    "Ayşe Gül Yılmaz;0532 123 45 67;ayse@example.com;10000000146;23.04.1985;İstanbul;Moda Cad. 1;",
    "MEHMET ÖZ;+90 (533) 222 33 44;;;1990-02-30;Ankara;;tarih yanlış",
    "Zeynep Kaya;12345;zeynep@example.com;12345678901;;;;telefon ve TCKN bozuk",
    ";;;;;;;sadece not",
    ";;;;;;;",
    "Ali Veli;05345556677;;;19800101;;;",
]


CUSTOMERS = activity_imports.IMPORT_KINDS["customers"]


def _table(text: str, name: str = "musteriler.csv", encoding: str = "cp1254") -> imports.Table:
    return tables.read_table(text.encode(encoding), name)


def _import(world: TenantWorld, text: str, **kwargs: object) -> imports.ImportResult:
    table = _table(text, **kwargs)  # type: ignore[arg-type]
    with tenant_context(world.tenant):
        mapping = activity_imports.mapping_for(
            tenant=world.tenant, kind=CUSTOMERS, headers=table.headers
        )
        return imports.customers_import(
            tenant=world.tenant, actor=world.owner, table=table, mapping=mapping
        )


def _existing(
    world: TenantWorld, first: str, last: str, phones: list[str], emails: list[str]
) -> Customer:
    """A customer entered at the counter before the import."""
    data = services.CustomerInput(first_name=first, last_name=last, phones=phones, emails=emails)
    with tenant_context(world.tenant):
        return services.customer_create(tenant=world.tenant, actor=world.owner, data=data)


@pytest.mark.django_db
def test_good_rows_go_in_bad_values_are_reported_and_nothing_is_lost(world_a: TenantWorld) -> None:
    result = _import(world_a, HEADER + "\n".join(ROWS) + "\n")
    assert result.as_dict() == {"rows": 5, "created": 4, "matched": 0, "rejected": 1, "warnings": 3}
    by_line = {(p.line, p.column): p for p in result.problems}
    assert by_line[(3, "Doğum Tarihi")].rejected is False
    assert {(4, "GSM"), (4, "TC Kimlik No")} <= set(by_line)
    assert by_line[(5, "Ad Soyad")].rejected is True
    with tenant_context(world_a.tenant):
        ayse = Customer.objects.get(tckn="10000000146")
        assert (ayse.first_name, ayse.last_name) == ("Ayşe Gül", "Yılmaz")
        assert ayse.addresses.get().province == "34"
        mehmet = Customer.objects.get(name_key="mehmet oz")
        assert mehmet.birth_date is None
        assert Phone.objects.get(customer=mehmet).e164 == "+905332223344"
        zeynep = Customer.objects.get(name_key="zeynep kaya")
        assert zeynep.tckn == "" and Email.objects.filter(customer=zeynep).exists()
        assert Customer.objects.get(name_key="ali veli").birth_date.isoformat() == "1980-01-01"
    with translation.override("en"):
        report = result.error_report_csv().decode("utf-8-sig").splitlines()
    assert report[0] == "line;column;value;problem;row"
    assert any(row.startswith("4;GSM;12345;") for row in report)


@pytest.mark.django_db
def test_reimporting_the_same_file_links_instead_of_duplicating(world_a: TenantWorld) -> None:
    text = HEADER + "\n".join(ROWS) + "\n"
    _import(world_a, text)
    again = _import(world_a, text.replace("0532 123 45 67", "5321234567"), encoding="utf-8")
    assert again.created == 0
    assert again.matched == 4
    with tenant_context(world_a.tenant):
        assert Customer.objects.count() == 4


@pytest.mark.django_db
def test_one_file_naming_a_person_twice_makes_one_customer_but_keeps_family_apart(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of two rows: the second mention of Ayşe arrives in a later chunk, the
    # mother sharing her phone in the same chunk as the first.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [
        "Ayşe Gül Yılmaz;0532 123 45 67;ayse@example.com;;23.04.1985;;;",
        "Fatma Yılmaz;0532 123 45 67;;;12.09.1958;;;annesi, aynı ev telefonu",
        "Ali Veli;05345556677;;;19800101;;;",
        "AYSE GUL YILMAZ;;ayse@example.com;;1985-04-23;;;ikinci kayıt, yeni numara yok",
        "Ayşe Yılmaz;05327654321;ayse@example.com;;23.04.1985;İstanbul;Moda Cad. 1;yeni numara",
    ]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.matched, result.rejected) == (3, 2, 0)
    ayse = result.customer_ids[0]
    assert result.customer_ids[3] == ayse
    assert result.customer_ids[1] != ayse
    with tenant_context(world_a.tenant):
        assert Customer.objects.count() == 3
        numbers = set(Phone.objects.filter(customer_id=ayse).values_list("e164", flat=True))
        assert numbers == {"+905321234567", "+905327654321"}
        assert Phone.objects.filter(customer_id=ayse, is_primary=True).count() == 1
        customer_numbers = list(Customer.objects.values_list("customer_number", flat=True))
        assert len(set(customer_numbers)) == 3
    assert result.customer_ids[4] == ayse


@pytest.mark.django_db
def test_a_number_an_existing_customer_gains_in_the_file_finds_them_later_in_it(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK_ROWS", 1)
    with tenant_context(world_a.tenant):
        existing = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(
                first_name="Can", last_name="Demir", emails=["can@example.com"]
            ),
        )
    rows = [
        "Can Demir;0532 111 22 33;can@example.com;;;;;bilinen e-posta, yeni numara",
        "CAN DEMİR;05321112233;can.demir@example.com;;;;;yalnız yeni numarasıyla bulunur",
        "Can Demir;;can.demir@example.com;;;;;yalnız yeni e-postasıyla bulunur",
    ]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.matched) == (0, 3)
    assert result.customer_ids == [existing.pk] * 3
    with tenant_context(world_a.tenant):
        assert set(existing.emails.values_list("address", flat=True)) == {
            "can@example.com",
            "can.demir@example.com",
        }


@pytest.mark.django_db
def test_a_phone_or_email_an_existing_customer_gains_is_primary_only_if_it_had_none(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import knows of an existing customer only the phones and e-mails that
    # share a key with the file's rows; whether one it adds is the customer's first
    # is the database's to say. One row a chunk: later chunks bring more of what
    # the customer has.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 1)
    can = _existing(world_a, "Can", "Demir", ["0532 111 22 33"], ["can@example.com"])
    ece = _existing(world_a, "Ece", "Tan", ["0532 444 55 66"], [])
    rows = [
        "Can Demir;0532 111 22 33;can.demir@ornek.com.tr;;;;;e-postası var, bilinmiyor",
        "Ece Tan;0532 444 55 66;ece@example.com;;;;;ilk e-postası",
        "Ece Tan;0532 777 88 99;ece@example.com;;;;;ikinci numarası",
        "Can Demir;;can@example.com;;;;;kayıtlı e-postası, yeniden eklenmez",
    ]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.matched, result.problems) == (0, 4, [])
    assert result.customer_ids == [can.pk, ece.pk, ece.pk, can.pk]
    with tenant_context(world_a.tenant):
        assert sorted(can.emails.values_list("address", "is_primary")) == [
            ("can.demir@ornek.com.tr", False),
            ("can@example.com", True),
        ]
        assert list(ece.emails.values_list("address", "is_primary")) == [("ece@example.com", True)]
        assert sorted(ece.phones.values_list("e164", "is_primary")) == [
            ("+905324445566", True),
            ("+905327778899", False),
        ]


@pytest.mark.django_db
def test_phones_a_customer_gains_twice_in_one_chunk_make_one_primary(
    world_a: TenantWorld,
) -> None:
    oya = _existing(world_a, "Oya", "Gün", ["0532 999 00 11"], ["oya@example.com"])
    nur = _existing(world_a, "Nur", "Su", [], ["nur@example.com"])
    rows = [
        "Oya Gün;0533 000 00 01;oya@example.com;;;;;",
        "Oya Gün;0533 000 00 02;oya@example.com;;;;;",
        "Nur Su;0533 000 00 03;nur@example.com;;;;;",
        "Nur Su;0533 000 00 04;nur@example.com;;;;;",
    ]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.matched) == (0, 4)
    with tenant_context(world_a.tenant):
        assert sorted(oya.phones.values_list("e164", "is_primary")) == [
            ("+905329990011", True),
            ("+905330000001", False),
            ("+905330000002", False),
        ]
        assert sorted(nur.phones.values_list("e164", "is_primary")) == [
            ("+905330000003", True),
            ("+905330000004", False),
        ]


@pytest.mark.django_db
def test_a_contact_persons_number_is_not_the_companys_own(world_a: TenantWorld) -> None:
    # The number leads the lookup to the company, but counts as shared only if it
    # is the company's own: a trade name alone is not enough to link the row.
    with tenant_context(world_a.tenant):
        company = factories.CompanyFactory.create(
            tenant=world_a.tenant, trade_name="Acar Makina A.Ş."
        )
        contact = factories.ContactPersonFactory.create(tenant=world_a.tenant, company=company)
        factories.PhoneFactory.create(
            tenant=world_a.tenant, customer=company, contact_person=contact, e164="+905321234567"
        )
        own = factories.CompanyFactory.create(tenant=world_a.tenant, trade_name="Acar Makina A.Ş.")
        factories.PhoneFactory.create(tenant=world_a.tenant, customer=own, e164="+905329876543")
    table = _table(
        "Unvan;Telefon\nAcar Makina A.Ş.;0532 123 45 67\nAcar Makina A.Ş.;0532 987 65 43\n"
    )
    with tenant_context(world_a.tenant):
        result = imports.customers_import(
            tenant=world_a.tenant,
            actor=world_a.owner,
            table=table,
            mapping={"Unvan": "trade_name", "Telefon": "phone"},
        )
    assert (result.created, result.matched) == (1, 1)
    assert result.customer_ids[1] == own.pk
    assert result.customer_ids[0] not in (company.pk, own.pk)
    with tenant_context(world_a.tenant):
        assert list(
            Phone.objects.filter(customer_id=result.customer_ids[0]).values_list(
                "e164", "contact_person", "is_primary"
            )
        ) == [("+905321234567", None, True)]


@pytest.mark.django_db
def test_imported_customers_are_numbered_from_the_tenants_counter(
    world_a: TenantWorld, world_b: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of two rows: each chunk's INSERT takes its numbers from the counter
    # (on PostgreSQL in the statement itself), after staff created one by hand.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    with tenant_context(world_a.tenant):
        first = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(first_name="Deniz", last_name="Ak"),
        )
    with tenant_context(world_b.tenant):
        services.customer_number_next(tenant=world_b.tenant)  # another tenant's counter
    rows = [f"Kişi{name} Yılmaz;0532 123 45 6{n};;;;;;" for n, name in enumerate("ABCDE")]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert result.created == 5
    with tenant_context(world_a.tenant):
        later = services.customer_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            data=services.CustomerInput(first_name="Ece", last_name="Ak"),
        )
        imported = [
            Customer.objects.get(pk=customer_id).customer_number
            for customer_id in result.customer_ids
        ]
    start = int(first.customer_number)
    assert imported == [str(start + n) for n in range(1, 6)]
    assert later.customer_number == str(start + 6)


@pytest.mark.django_db
def test_a_file_of_bad_values_has_its_garbage_collected_as_it_goes(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's collector is paused during an import; each problem leaves a cycle
    # (a ValidationError holds itself), so a file of bad values is collected as it
    # goes, not only at the end.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "PROBLEMS_PER_COLLECTION", 3)
    collections: list[int] = []
    monkeypatch.setattr(bulk, "collect_young", lambda: collections.append(1))
    rows = [f"Kişi{name} Yılmaz;12{n};;;;;;" for n, name in enumerate("ABCDEFGHIJ")]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.warnings) == (10, 10)
    assert len(collections) >= 2
    assert gc.isenabled()


@pytest.mark.django_db
def test_an_import_leaves_its_state_to_reference_counting_not_to_the_collector(
    world_a: TenantWorld,
) -> None:
    # A caught ValidationError refers to itself, and its traceback to every frame up
    # the stack: the import's whole state stayed garbage until a cycle collection
    # (300,000 objects, 0.3 s after 20,000 rows), or for good through a cached error.
    rows = [f"Ayşe Yılmaz;12{n};posta{n}@;;31.02.1990;;;" for n in range(200)]
    rows += [f"Kişi{n} Yılmaz;0532 123 45 {n:02d};;;;;;" for n in range(50)]
    text = HEADER + "\n".join(rows) + "\n"
    _import(world_a, text, encoding="utf-8")  # imports and caches run once
    gc.collect()
    gc.disable()
    try:
        result = _import(world_a, text.replace("Ayşe", "Zeynep"), encoding="utf-8")
        garbage = gc.collect()
    finally:
        gc.enable()
    assert (result.created, result.rejected, result.warnings) == (200, 50, 600)
    assert garbage < 10 * len(result.problems), garbage


@pytest.mark.django_db
def test_an_impossible_full_name_rejects_its_row_and_the_rest_go_in(world_a: TenantWorld) -> None:
    rows = ["Ayşe Yılmaz;05321234567;;;;;;", "Kişi2 Yılmaz;05321234568;;;;;;", "Ali Veli;;;;;;;"]
    with translation.override("en"):
        result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.rejected) == (2, 1)
    [problem] = result.problems
    assert (problem.line, problem.column, problem.value, problem.rejected) == (
        3,
        "Ad Soyad",
        "Kişi2 Yılmaz",
        True,
    )
    assert "letters" in problem.reason


@pytest.mark.django_db
def test_a_huge_cell_is_reported_and_the_row_kept(world_a: TenantWorld) -> None:
    text = HEADER + "Deniz Ak;05321110000;;;;;" + "x" * 10_000_000 + ";\n"
    with translation.override("en"):
        result = _import(world_a, text, encoding="utf-8")
    assert result.created == 1
    [problem] = result.problems
    assert (problem.column, problem.rejected) == ("Adres", False)
    assert problem.reason.startswith("Too long (10000000 characters)")


@pytest.mark.django_db
def test_xlsx_with_excel_dates(world_a: TenantWorld) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Adı", "Soyadı", "Telefon", "Doğum Tarihi"])
    sheet.append(["Elif", "Şahin", 5321239876, 31000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = tables.read_table(buffer.getvalue(), "liste.xlsx")
    with tenant_context(world_a.tenant):
        mapping = activity_imports.mapping_for(
            tenant=world_a.tenant, kind=CUSTOMERS, headers=table.headers
        )
        assert mapping == {
            "Adı": "first_name",
            "Soyadı": "last_name",
            "Telefon": "phone",
            "Doğum Tarihi": "birth_date",
        }
        result = imports.customers_import(
            tenant=world_a.tenant, actor=None, table=table, mapping=mapping
        )
        assert result.created == 1
        elif_ = Customer.objects.get(name_key="elif sahin")
        assert elif_.birth_date.isoformat() == "1984-11-14"


def test_a_broken_mapping_is_explained() -> None:
    with translation.override("en"), pytest.raises(imports.ImportFileError, match="COLUMN=FIELD"):
        activity_imports.parse_mapping(CUSTOMERS, "Ad=isim")


@pytest.mark.django_db
def test_the_command_uses_the_same_path(world_a: TenantWorld, tmp_path: Path) -> None:
    path = tmp_path / "liste.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    out = io.StringIO()
    call_command(
        "import_customers",
        str(path),
        "--tenant",
        world_a.tenant.slug,
        "--map",
        "Ad Soyad=full_name,GSM=phone,TC Kimlik No=tckn",
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["created"] == 4 and summary["rejected"] == 1
    assert Path(summary["problem_report"]).exists()


@pytest.mark.django_db(transaction=True)
def test_upload_map_preview_and_run_as_a_job(
    world_a: TenantWorld, celery_worker_thread: None
) -> None:
    client = Client()
    client.force_login(world_a.owner)
    upload = client.post(
        reverse("customers:import", kwargs={"tenant_slug": "alfa"}),
        {"file": SimpleUploadedFile("liste.csv", (HEADER + "\n".join(ROWS)).encode("cp1254"))},
    )
    assert upload.status_code == 302
    mapping_url = upload["Location"]
    page = client.get(mapping_url)
    assert page.status_code == 200
    assert "+905321234567" in page.content.decode()  # the preview shows normalised values
    fields = {
        f"col_{i}": v
        for i, v in enumerate(
            ["full_name", "phone", "email", "tckn", "birth_date", "province", "address", ""]
        )
    }
    started = client.post(mapping_url, {**fields, "start": "1"})
    assert started.status_code == 302
    job_id = int(started["Location"].rstrip("/").split("/")[-1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with tenant_context(world_a.tenant):
            job = Job.objects.get(pk=job_id)
        if job.is_finished:
            break
        time.sleep(0.3)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["created"] == 4 and job.result["rejected"] == 1
    assert job.output_name == "customer-import-problems.csv"
    # The mapping is remembered for the next file with the same columns.
    again = client.post(
        reverse("customers:import", kwargs={"tenant_slug": "alfa"}),
        {"file": SimpleUploadedFile("liste2.csv", HEADER.encode("utf-8"))},
    )
    remembered = client.get(again["Location"]).content.decode()
    assert 'value="tckn" selected' in remembered


@pytest.mark.django_db
def test_a_value_the_customer_record_cannot_hold_rejects_the_row_with_the_models_message(
    world_a: TenantWorld,
) -> None:
    # The import checks fields without building a Customer per row; the row is still
    # refused with the message Customer.clean_fields gives, under the file's column.
    text = "Unvan;Vergi Dairesi\nAk Ltd;" + "K" * 150 + "\nBe Ltd;Kadıköy\n"
    table = _table(text, encoding="utf-8")
    with translation.override("en"), tenant_context(world_a.tenant):
        result = imports.customers_import(
            tenant=world_a.tenant,
            actor=world_a.owner,
            table=table,
            mapping={"Unvan": "trade_name", "Vergi Dairesi": "tax_office"},
        )
        probe = Customer(kind=Customer.Kind.COMPANY, trade_name="Ak Ltd", tax_office="K" * 150)
        with pytest.raises(ValidationError) as expected:
            probe.clean_fields(exclude=["name_key", "customer_number", "tenant", "home_branch"])
        expected_reason = " ".join(expected.value.message_dict["tax_office"])
        assert Customer.objects.filter(trade_name="Be Ltd").exists()
        assert not Customer.objects.filter(trade_name="Ak Ltd").exists()
    assert (result.created, result.rejected) == (1, 1)
    [problem] = result.problems
    assert (problem.line, problem.column, problem.rejected) == (2, "Vergi Dairesi", True)
    assert problem.reason == expected_reason


def test_the_field_checks_match_clean_fields_for_values_it_refuses() -> None:
    data = imports.services.CustomerInput(
        kind=Customer.Kind.PERSON, first_name="Ayşe", last_name="Kaya", gender="x"
    )
    with pytest.raises(ValidationError) as ours:
        imports._customer_fields(data)
    fields = imports.services.customer_normalize(data).fields
    fields.pop("home_branch", None)
    with pytest.raises(ValidationError) as django_s:
        Customer(**fields).clean_fields(exclude=list(imports._UNCHECKED_FIELDS))
    assert ours.value.message_dict == django_s.value.message_dict


ADDRESS_HEADER = "Ad Soyad;GSM;İl;İlçe;Adres;Posta Kodu\n"


@pytest.mark.django_db
def test_addresses_are_kept_with_what_can_be_told_of_their_province(world_a: TenantWorld) -> None:
    rows = [
        # No province column value: read from the end of the line.
        "Ayşe Kaya;05321000001;;;Caferağa Mh. Moda Cad. No:1 Kadıköy/İSTANBUL;",
        # A province that is none: reported, the address kept without one.
        "Can Demir;05321000002;Gotham;;Bağdat Cad. 5;",
        # Only the province (and district): kept, no line.
        "Efe Ak;05321000003;Ankara;Çankaya;;",
        # The postal code's plate digits tell the province.
        "Nur Su;05321000004;;;Kordon Boyu 7;35220",
        # A district alone is no address: reported.
        "Ece Tan;05321000005;;Konak;;",
        # A bad postal code and district: reported, the rest kept.
        "Ali Er;05321000006;İzmir;K@nak!;Kıbrıs Şehitleri Cad. 3;3522",
        # An address line longer than the record holds: reported, not cut.
        "Oya Gün;05321000007;Bursa;;" + "Uzun Sokak " * 40 + ";",
    ]
    with translation.override("en"):
        result = _import(world_a, ADDRESS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert (result.created, result.rejected) == (7, 0)
    problems = {(p.line, p.column): p for p in result.problems}
    assert set(problems) == {
        (3, "İl"),
        (6, "İlçe"),
        (7, "İlçe"),
        (7, "Posta Kodu"),
        (8, "Adres"),
    }
    assert not any(p.rejected for p in result.problems)
    assert "not imported" in problems[(8, "Adres")].reason
    with tenant_context(world_a.tenant):

        def address(phone: str) -> tuple[str, str, str, str, bool] | None:
            customer = Phone.objects.get(e164=phone).customer
            found = [
                (a.line, a.province, a.district, a.postal_code, a.is_primary)
                for a in customer.addresses.all()
            ]
            assert len(found) <= 1
            return found[0] if found else None

        assert address("+905321000001") == (
            "Caferağa Mh. Moda Cad. No:1 Kadıköy/İSTANBUL",
            "34",
            "Kadıköy",
            "",
            True,
        )
        assert address("+905321000002") == ("Bağdat Cad. 5", "", "", "", True)
        assert address("+905321000003") == ("", "06", "Çankaya", "", True)
        assert address("+905321000004") == ("Kordon Boyu 7", "35", "", "35220", True)
        assert address("+905321000005") is None
        assert address("+905321000006") == ("Kıbrıs Şehitleri Cad. 3", "35", "", "", True)
        assert address("+905321000007") == ("", "16", "", "", True)


@pytest.mark.django_db
def test_reimported_addresses_are_not_doubled_and_a_new_one_is_added(world_a: TenantWorld) -> None:
    first = ADDRESS_HEADER + "Ayşe Kaya;05321000001;İstanbul;Kadıköy;Moda Cad. 1;34710\n"
    _import(world_a, first, encoding="utf-8")
    again = first.replace("Moda Cad. 1", "MODA CAD.  1")
    moved = ADDRESS_HEADER + "Ayşe Kaya;05321000001;Ankara;;Atatürk Blv. 9;\n"
    assert _import(world_a, again, encoding="utf-8").matched == 1
    assert _import(world_a, moved, encoding="utf-8").matched == 1
    with tenant_context(world_a.tenant):
        customer = Phone.objects.get(e164="+905321000001").customer
        stored = sorted((a.line, a.province, a.is_primary) for a in customer.addresses.all())
    assert stored == [("Atatürk Blv. 9", "06", False), ("Moda Cad. 1", "34", True)]


@pytest.mark.django_db
def test_a_chunked_import_reports_in_file_order_in_the_users_language_with_progress(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of two rows; some problems (an address too long, a district alone) are
    # only found when a chunk is written, after its rows were parsed.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    rows = [
        "Ayşe Kaya;05321000001;;;Moda Cad. 1 Kadıköy/İSTANBUL;",
        "Can Demir;05321000002;Gotham;;Bağdat Cad. 5;",
        "Efe Ak;05321000003;Ankara;Çankaya;;",
        "Ece Tan;05321000005;;Konak;;",
        "Ali Er;05321000006;İzmir;K@nak!;Kıbrıs Şehitleri Cad. 3;3522",
        "Oya Gün;05321000007;Bursa;;" + "Uzun Sokak " * 40 + ";",
        "Nur Su;05321000004;;;Kordon Boyu 7;35220",
    ]
    table = _table(ADDRESS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    mapping = {
        "Ad Soyad": "full_name",
        "GSM": "phone",
        "İl": "province",
        "İlçe": "district",
        "Adres": "address",
        "Posta Kodu": "postal_code",
    }
    positions: list[tuple[int, int]] = []
    with translation.override("tr"), tenant_context(world_a.tenant):
        result = imports.customers_import(
            tenant=world_a.tenant,
            actor=world_a.owner,
            table=table,
            mapping=mapping,
            progress=lambda done, total: positions.append((done, total)),
        )
    assert (result.rows, result.created, result.rejected) == (7, 7, 0)
    assert [(p.line, p.column) for p in result.problems] == [
        (3, "İl"),
        (5, "İlçe"),
        (6, "İlçe"),
        (6, "Posta Kodu"),
        (7, "Adres"),
    ]
    # Messages of the parsing and of the writing speak the user's language.
    reasons = {(p.line, p.column): p.reason for p in result.problems}
    assert reasons[(3, "İl")].startswith("Gotham Türkiye'deki bir il değil")
    assert reasons[(7, "Adres")].startswith("Bir adres en fazla")
    assert positions == [(2, 7), (4, 7), (6, 7), (7, 7)]
    with tenant_context(world_a.tenant):
        owner_of = dict(Phone.objects.values_list("e164", "customer_id"))
    phones = ["+90" + row.split(";")[1][1:] for row in rows]
    assert result.customer_ids == [owner_of[phone] for phone in phones]
    assert len(set(result.customer_ids)) == 7


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_candidate_lookup_reads_indexes_for_a_chunk_of_any_size(world_a: TenantWorld) -> None:
    # A chunk names hundreds of identifiers; past 100 values the planner cannot
    # prove a partial index's predicate from the list, and a condition that needs
    # one read every customer of the tenant for every chunk.
    rows: list[Any] = [
        SimpleNamespace(
            incoming=SimpleNamespace(
                tckn=f"{10_000_000_000 + 7919 * n}",
                tax_id=f"{1_000_000_000 + n}",
                phones=[f"+90532{n:07d}"],
                email_keys=[f"kisi{n}@example.com"],
            )
        )
        for n in range(300)
    ]
    with tenant_context(world_a.tenant), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + imports._known_rows_sql(world_a.tenant, rows))
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "customer_tckn_unique_per_tenant" in plan
    # A candidate's numbers and e-mails come from the probes by key, not read again
    # from its own (which index the probes use depends on the table's size).
    assert "once_per_owner" not in plan, plan


SURNAMES = ["Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Aydın"]


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_warmers_are_offered_each_later_chunks_lookup(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a warmer runs counts the lookup's rows (crm.bulk.ReadAhead.counted).
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    offered: list[list[str]] = []
    monkeypatch.setattr(
        bulk.ReadAhead, "offer", lambda self, statements: offered.append(list(statements))
    )
    for n, surname in enumerate(SURNAMES):
        _existing(world_a, "Ada", surname, [f"0532 100 00 0{n}"], [])
    rows = [f"Ada {surname};0532 100 00 0{n};;;;;;" for n, surname in enumerate(SURNAMES)]
    result = _import(world_a, HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert result.matched == 6
    assert len(offered) == 2  # the second and third chunks; the first is looked up at once
    with tenant_context(world_a.tenant), connection.cursor() as cursor:
        for statements in offered:
            for statement in bulk.ReadAhead.counted(statements):
                cursor.execute(statement)
            assert cursor.fetchall() == [(2,)]  # one row: the chunk's two candidates
