"""Merging duplicate customers and undoing it: services, survivorship and screens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ForeignKey
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from consent.models import ConsentReach, ConsentReachBuild, ConsentReachDirty
from crm.models import PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context, tenant_owned_models
from customers import merge, selectors, services
from customers.merge import DROP, KEEP, customer_merge, customer_unmerge
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    CustomerNameWord,
    Email,
    Interaction,
    MergeLog,
    Phone,
    Purchase,
    PurchaseLine,
    RiskFlag,
)
from tests.conftest import TenantWorld
from tests.factories import (
    AddressFactory,
    CompanyFactory,
    ComplaintFactory,
    ContactPersonFactory,
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    PersonalDataAccessFactory,
    PhoneFactory,
    PurchaseLineFactory,
    RiskFlagFactory,
)

OWNER_FIELD = {
    Phone: "customer_id",
    Email: "customer_id",
    Address: "customer_id",
    ContactPerson: "company_id",
    Purchase: "customer_id",
    # The line's copy of its receipt's customer (the segment rule counts by it).
    PurchaseLine: "customer_id",
    Interaction: "customer_id",
    Complaint: "customer_id",
    RiskFlag: "customer_id",
}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are asserted in English; the product's default language is Turkish.
    with translation.override("en"):
        yield


def tckn(first_nine: str) -> str:
    """A T.C. identity number with valid check digits."""
    digits = [int(d) for d in first_nine]
    tenth = ((sum(digits[0:9:2]) * 7) - sum(digits[1:8:2])) % 10
    eleventh = (sum(digits) + tenth) % 10
    return f"{first_nine}{tenth}{eleventh}"


def _create(world: TenantWorld, **fields: Any) -> Customer:
    with tenant_context(world.tenant):
        return services.customer_create(
            tenant=world.tenant, actor=world.owner, data=services.CustomerInput(**fields)
        )


def _merge(world: TenantWorld, keep: Customer, drop: Customer, **choices: str) -> MergeLog:
    with tenant_context(world.tenant):
        return customer_merge(
            tenant=world.tenant, actor=world.owner, keep=keep, drop=drop, choices=choices
        )


def _unmerge(world: TenantWorld, log: MergeLog) -> tuple[Customer, Customer]:
    with tenant_context(world.tenant):
        return customer_unmerge(tenant=world.tenant, actor=world.owner, merge_log=log)


def _customer(world: TenantWorld, **fields: Any) -> Customer:
    customer: Customer = CustomerFactory.create(tenant=world.tenant, **fields)
    return customer


def _company(world: TenantWorld, **fields: Any) -> Customer:
    company: Customer = CompanyFactory.create(tenant=world.tenant, **fields)
    return company


def _refresh(world: TenantWorld, obj: Any) -> None:
    with tenant_context(world.tenant):
        obj.refresh_from_db()


def _fields(customer: Customer) -> dict[str, Any]:
    with tenant_context(customer.tenant_id):
        fresh = Customer.objects.get(pk=customer.pk)
    return {f.attname: getattr(fresh, f.attname) for f in Customer._meta.concrete_fields}


def _owners(world: TenantWorld) -> dict[str, dict[int, int]]:
    with tenant_context(world.tenant):
        return {
            model.__name__: dict(
                model._default_manager.filter(tenant=world.tenant).values_list("pk", field)
            )
            for model, field in OWNER_FIELD.items()
        }


def _totals(world: TenantWorld) -> dict[str, int]:
    with tenant_context(world.tenant):
        return {
            model.__name__: model._default_manager.filter(tenant=world.tenant).count()
            for model in tenant_owned_models()
            # Trigger-kept derived rows: the search index of name words follows the
            # surviving name, and the consent reach marks every customer a merge touches.
            if model not in (CustomerNameWord, ConsentReach, ConsentReachBuild, ConsentReachDirty)
        }


def _flags(world: TenantWorld) -> dict[str, dict[int, tuple[bool, bool]]]:
    with tenant_context(world.tenant):
        return {
            model.__name__: {
                pk: (primary, verified)
                for pk, primary, verified in model._default_manager.filter(
                    tenant=world.tenant
                ).values_list("pk", "is_primary", "is_verified")
            }
            for model in (Phone, Email, Address)
        }


def _with_history(world: TenantWorld, customer: Customer) -> None:
    tenant = world.tenant
    person = ContactPersonFactory(tenant=tenant, company=customer)
    PhoneFactory(tenant=tenant, customer=customer, contact_person=person)
    EmailFactory(tenant=tenant, customer=customer, contact_person=person)
    PhoneFactory(tenant=tenant, customer=customer, is_primary=True)
    EmailFactory(tenant=tenant, customer=customer, is_primary=True)
    AddressFactory(tenant=tenant, customer=customer, line=f"Sokak {customer.pk}")
    PurchaseLineFactory.create_batch(2, tenant=tenant, purchase__customer=customer)
    InteractionFactory.create_batch(2, tenant=tenant, customer=customer)
    ComplaintFactory(tenant=tenant, customer=customer)
    RiskFlagFactory(tenant=tenant, customer=customer)
    PersonalDataAccessFactory(tenant=tenant, subject_id=customer.pk)


@pytest.mark.django_db
def test_merge_moves_every_related_row_and_undo_puts_each_back(world_a: TenantWorld) -> None:
    keep = _company(world_a, trade_name="Yıldız Tekstil A.Ş.")
    drop = _company(world_a, trade_name="Yildiz Tekstil")
    _with_history(world_a, keep)
    _with_history(world_a, drop)
    totals, owners, flags = _totals(world_a), _owners(world_a), _flags(world_a)
    keep_before, drop_before = _fields(keep), _fields(drop)

    log = _merge(world_a, keep, drop)

    after = _totals(world_a)
    assert after == totals | {"MergeLog": totals["MergeLog"] + 1}
    for table, rows in _owners(world_a).items():
        assert set(rows.values()) == {keep.pk}, f"{table} still has rows of the dropped record"
    with tenant_context(world_a.tenant):
        merged = Customer.objects.get(pk=drop.pk)
        assert merged.merged_into_id == keep.pk
        # The access log is not re-pointed: it says whose data was seen.
        assert PersonalDataAccess.objects.filter(subject_id=drop.pk).count() == 1
        for model in (Phone, Email, Address):
            own = model._default_manager.filter(customer=keep)
            if model is not Address:
                own = own.filter(contact_person__isnull=True)
            assert own.filter(is_primary=True).count() == 1, model.__name__
    assert set(log.snapshot["moved"]["purchase"]) == {
        pk for pk, owner in owners["Purchase"].items() if owner == drop.pk
    }

    kept, dropped = _unmerge(world_a, log)

    assert _owners(world_a) == owners
    assert _flags(world_a) == flags
    assert _fields(kept) == keep_before
    assert _fields(dropped) == drop_before
    assert _totals(world_a) == after
    _refresh(world_a, log)
    assert log.undone_at is not None and log.undone_by == world_a.owner


@pytest.mark.django_db
def test_survivorship_defaults_filled_then_recent_and_user_choices_win(
    world_a: TenantWorld,
) -> None:
    keep = _create(world_a, first_name="Ayşe", last_name="Yılmaz", phones=["0532 111 22 33"])
    drop = _create(
        world_a,
        first_name="Ayşe Gül",
        last_name="Yılmaz",
        birth_date="23.04.1985",
        gender="f",
        preferred_channel="sms",
        phones=["0532 111 22 33"],
    )
    with tenant_context(world_a.tenant):
        Customer.objects.filter(pk=keep.pk).update(
            updated_at=timezone.now() - timedelta(days=30), preferred_channel="email"
        )
        keep.refresh_from_db()
        defaults = merge.merge_defaults(keep=keep, drop=drop)
    assert defaults["birth_date"] == DROP  # filled beats empty
    assert defaults["gender"] == DROP
    assert defaults["last_name"] == KEEP  # the same on both sides
    assert defaults["tckn"] == KEEP  # empty on both sides
    assert defaults["first_name"] == DROP  # both filled: the more recent record wins
    assert defaults["preferred_channel"] == DROP

    log = _merge(world_a, keep, drop, first_name=KEEP)

    _refresh(world_a, keep)
    assert keep.first_name == "Ayşe"
    assert keep.birth_date == date(1985, 4, 23)
    assert keep.gender == "f"
    assert keep.preferred_channel == "sms"
    assert keep.name_key == "ayse yilmaz"
    assert log.field_choices["first_name"] == KEEP and log.user_choices == {"first_name": KEEP}
    assert log.field_choices["birth_date"] == DROP


@pytest.mark.django_db
def test_unknown_fields_or_sides_are_refused(world_a: TenantWorld) -> None:
    keep = _customer(world_a)
    drop = _customer(world_a)
    with pytest.raises(ValidationError):
        _merge(world_a, keep, drop, customer_number=DROP)
    with pytest.raises(ValidationError):
        _merge(world_a, keep, drop, first_name="both")
    assert _fields(drop)["merged_into_id"] is None


@pytest.mark.django_db
def test_contact_points_are_deduplicated_with_one_primary_per_kind(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    keep, drop = _customer(world_a), _customer(world_a)
    shared: Phone = PhoneFactory.create(
        tenant=tenant, customer=keep, e164="+905321112233", is_primary=True
    )
    twin: Phone = PhoneFactory.create(
        tenant=tenant, customer=drop, e164="+905321112233", is_primary=False, is_verified=True
    )
    other: Phone = PhoneFactory.create(
        tenant=tenant, customer=drop, e164="+905329998877", is_primary=True
    )
    EmailFactory(tenant=tenant, customer=drop, address="a@example.com", is_primary=True)
    EmailFactory(tenant=tenant, customer=drop, address="b@example.com", is_primary=False)
    AddressFactory(tenant=tenant, customer=keep, line="Moda Cad. 1", is_primary=True)
    AddressFactory(tenant=tenant, customer=drop, line="MODA CAD.  1", is_primary=True)
    flags = _flags(world_a)

    log = _merge(world_a, keep, drop)

    with tenant_context(tenant):
        phones = {p.e164: p for p in Phone.objects.filter(customer=keep)}
        assert set(phones) == {"+905321112233", "+905329998877"}
        # The kept twin learnt that the number was verified and stays primary.
        assert phones["+905321112233"].is_verified and phones["+905321112233"].is_primary
        assert not phones["+905329998877"].is_primary
        assert Phone.objects.get(pk=twin.pk).customer_id == drop.pk  # duplicate not moved
        assert Email.objects.filter(customer=keep).count() == 2
        assert Email.objects.filter(customer=keep, is_primary=True).count() == 1
        assert Address.objects.filter(customer=keep).count() == 1
        assert Address.objects.filter(customer=keep, is_primary=True).count() == 1
    assert log.snapshot["moved"]["phone"] == [other.pk]

    _unmerge(world_a, log)
    assert _flags(world_a) == flags
    with tenant_context(tenant):
        assert Phone.objects.get(pk=shared.pk).is_verified is False


@pytest.mark.django_db
def test_tckn_moves_to_the_kept_record_without_breaking_uniqueness(world_a: TenantWorld) -> None:
    number = tckn("123456789")
    keep = _create(world_a, first_name="Mehmet", last_name="Kaya")
    drop = _create(world_a, first_name="Mehmet", last_name="Kaya", tckn=number)

    log = _merge(world_a, keep, drop)

    _refresh(world_a, keep)
    assert keep.tckn == number
    assert _fields(drop)["tckn"] == number  # the dropped record is left as it was
    with tenant_context(world_a.tenant):
        assert [c.pk for c in selectors.customer_search(tenant=world_a.tenant, query=number)] == [
            keep.pk
        ]
    kept, dropped = _unmerge(world_a, log)
    assert (kept.tckn, dropped.tckn, dropped.merged_into_id) == ("", number, None)


@pytest.mark.django_db
def test_user_may_take_the_dropped_records_tckn_over_the_kept_one(world_a: TenantWorld) -> None:
    first, second = tckn("234567891"), tckn("345678912")
    keep = _create(world_a, first_name="Ali", last_name="Demir", tckn=first)
    drop = _create(world_a, first_name="Ali", last_name="Demir", tckn=second)
    log = _merge(world_a, keep, drop, tckn=DROP)
    _refresh(world_a, keep)
    assert keep.tckn == second
    kept, dropped = _unmerge(world_a, log)
    assert (kept.tckn, dropped.tckn) == (first, second)


@pytest.mark.django_db
def test_undo_is_refused_when_the_dropped_tckn_was_reused(world_a: TenantWorld) -> None:
    first, second = tckn("456789123"), tckn("567891234")
    keep = _create(world_a, first_name="Ali", last_name="Demir", tckn=first)
    drop = _create(world_a, first_name="Ali", last_name="Demir", tckn=second)
    log = _merge(world_a, keep, drop, tckn=KEEP)
    newcomer = _create(world_a, first_name="Veli", last_name="Demir", tckn=second)
    with pytest.raises(ValidationError) as refused:
        _unmerge(world_a, log)
    assert newcomer.customer_number in " ".join(refused.value.messages)
    assert _fields(drop)["merged_into_id"] == keep.pk


@pytest.mark.django_db
def test_double_undo_is_refused(world_a: TenantWorld) -> None:
    keep, drop = _customer(world_a), _customer(world_a)
    log = _merge(world_a, keep, drop)
    _unmerge(world_a, log)
    with pytest.raises(ValidationError, match="already undone"):
        _unmerge(world_a, log)


@pytest.mark.django_db
def test_a_later_merge_must_be_undone_first(world_a: TenantWorld) -> None:
    a, b, c = [_customer(world_a) for _ in range(3)]
    PurchaseLineFactory(tenant=world_a.tenant, purchase__customer=a)
    owners = _owners(world_a)
    first = _merge(world_a, b, a)  # a into b
    second = _merge(world_a, c, b)  # then b into c: a's purchase is now c's
    with tenant_context(world_a.tenant):
        assert Customer.objects.get(pk=a.pk).merged_into_id == c.pk
        assert Purchase.objects.get().customer_id == c.pk
    with pytest.raises(ValidationError, match="Undo that later merge first"):
        _unmerge(world_a, first)
    _unmerge(world_a, second)
    assert _fields(a)["merged_into_id"] == b.pk
    _unmerge(world_a, first)
    assert _owners(world_a) == owners
    assert {_fields(x)["merged_into_id"] for x in (a, b, c)} == {None}


@pytest.mark.django_db
def test_a_later_merge_into_the_same_kept_record_blocks_undo(world_a: TenantWorld) -> None:
    a, b, c = [_customer(world_a) for _ in range(3)]
    first = _merge(world_a, b, a)
    _merge(world_a, b, c)
    with pytest.raises(ValidationError, match="Undo that later merge first"):
        _unmerge(world_a, first)


@pytest.mark.django_db
def test_self_merge_merged_records_and_mixed_kinds_are_refused(world_a: TenantWorld) -> None:
    keep, drop = [_customer(world_a) for _ in range(2)]
    company = _company(world_a)
    with pytest.raises(ValidationError, match="itself"):
        _merge(world_a, keep, keep)
    with pytest.raises(ValidationError, match="company"):
        _merge(world_a, keep, company)
    _merge(world_a, keep, drop)
    _refresh(world_a, drop)
    other = _customer(world_a)
    with pytest.raises(ValidationError, match="already merged"):
        _merge(world_a, other, drop)
    with pytest.raises(ValidationError, match="already merged"):
        _merge(world_a, drop, other)


@pytest.mark.django_db
def test_other_tenants_objects_are_refused(world_a: TenantWorld, world_b: TenantWorld) -> None:
    mine = _customer(world_a)
    theirs = _customer(world_b)
    with pytest.raises(PermissionDenied):
        _merge(world_a, mine, theirs)
    with pytest.raises(PermissionDenied):
        _merge(world_a, theirs, mine)
    their_log = _merge(world_b, _customer(world_b), theirs)
    with pytest.raises(PermissionDenied):
        _unmerge(world_a, their_log)
    assert _fields(theirs)["merged_into_id"] is not None


@pytest.mark.django_db
def test_the_merged_record_disappears_from_search(world_a: TenantWorld) -> None:
    keep = _create(world_a, first_name="Zeynep", last_name="Arslan", phones=["05321234500"])
    drop = _create(world_a, first_name="Zeynep", last_name="Arslan", emails=["z@example.com"])

    def found(query: str) -> set[int]:
        with tenant_context(world_a.tenant):
            return {c.pk for c in selectors.customer_search(tenant=world_a.tenant, query=query)}

    assert found("zeynep arslan") == {keep.pk, drop.pk}
    log = _merge(world_a, keep, drop)
    assert found("zeynep arslan") == {keep.pk}
    assert found("z@example.com") == {keep.pk}  # the e-mail moved with the record
    _unmerge(world_a, log)
    assert found("zeynep arslan") == {keep.pk, drop.pk}


def test_every_foreign_key_to_customer_is_handled_by_merge() -> None:
    handled = {(model, fk) for model, fk in merge.REPOINTED.values()} | merge.NOT_REPOINTED
    for related in Customer._meta.related_objects:
        if isinstance(related.field, ForeignKey):
            key = (related.related_model, related.field.name)
            assert key in handled, f"decide whether merge re-points {key}"


# --- Screens -----------------------------------------------------------------------------


def _client(world: TenantWorld, role: Role = Role.OWNER) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(world.users[role])
    return client


def _url(name: str, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"tenant_slug": "alfa", **kwargs})


@pytest.mark.django_db
def test_merge_screens_compare_merge_and_undo(world_a: TenantWorld) -> None:
    keep = _create(world_a, first_name="Ayşe", last_name="Yılmaz", phones=["0532 111 22 33"])
    drop = _create(
        world_a,
        first_name="Ayşe",
        last_name="Yılmaz",
        phones=["0532 111 22 33"],
        birth_date="01.02.1990",
    )
    InteractionFactory(tenant=world_a.tenant, customer=drop)
    client = _client(world_a)

    detail = client.get(_url("detail", customer_id=keep.pk)).content.decode()
    assert 'data-testid="merge-button"' in detail
    search = client.get(_url("merge", customer_id=keep.pk), {"q": "ayse yilmaz"})
    assert search.status_code == 200
    assert f"?other={drop.pk}" in search.content.decode()
    assert f"?other={keep.pk}" not in search.content.decode()

    compare = client.get(_url("merge", customer_id=keep.pk), {"other": drop.pk})
    assert compare.status_code == 200
    page = compare.content.decode()
    assert "same phone" in page and "same first name" in page
    assert 'name="choice_birth_date" id="choice_birth_date_drop" value="drop" checked' in page
    counts = {row.table: (row.keep, row.drop) for row in compare.context["preview"].counts}
    assert counts["interaction"] == (0, 1) and counts["phone"] == (1, 1)

    merged = client.post(
        _url("merge", customer_id=keep.pk),
        {"other": drop.pk, "choice_birth_date": "keep", "choice_first_name": "drop"},
    )
    assert merged.status_code == 302
    assert merged["Location"] == _url("detail", customer_id=keep.pk)
    with tenant_context(world_a.tenant):
        keep.refresh_from_db()
        assert keep.birth_date is None  # the user's choice beat "filled beats empty"
        assert Customer.objects.get(pk=drop.pk).merged_into_id == keep.pk
        assert Interaction.objects.get().customer_id == keep.pk
        log = MergeLog.objects.get()

    log_page = client.get(_url("merge_log"))
    assert log_page.status_code == 200
    assert _url("merge_undo", mergelog_id=log.pk) in log_page.content.decode()
    undone = client.post(_url("merge_undo", mergelog_id=log.pk))
    assert undone.status_code == 302
    assert _fields(drop)["merged_into_id"] is None
    again = client.post(_url("merge_undo", mergelog_id=log.pk), follow=True)
    assert "already undone" in again.content.decode()


@pytest.mark.django_db
def test_merge_screen_refuses_a_merged_record_and_other_tenants_ids(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    keep, drop = [_customer(world_a) for _ in range(2)]
    _merge(world_a, keep, drop)
    client = _client(world_a)
    compare = client.get(_url("merge", customer_id=keep.pk), {"other": drop.pk})
    assert compare.status_code == 200
    assert 'data-testid="merge-problem"' in compare.content.decode()
    assert 'data-testid="merge-submit"' not in compare.content.decode()
    theirs = _customer(world_b)
    assert client.get(_url("merge", customer_id=keep.pk), {"other": theirs.pk}).status_code == 404
    response = client.post(_url("merge", customer_id=keep.pk), {"other": theirs.pk})
    assert response.status_code == 404
    assert _fields(theirs)["merged_into_id"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.BRANCH_STAFF, Role.CALL_CENTRE, Role.MARKETING])
def test_roles_without_merge_permission_get_403_and_see_no_button(
    world_a: TenantWorld, role: Role
) -> None:
    keep, drop = [_customer(world_a) for _ in range(2)]
    log = _merge(world_a, keep, drop)
    client = _client(world_a, role)
    compare = _url("merge", customer_id=keep.pk)
    assert client.get(compare, {"other": drop.pk}).status_code == 403
    assert client.post(compare, {"other": drop.pk}).status_code == 403
    assert client.get(_url("merge_log")).status_code == 403
    assert client.post(_url("merge_undo", mergelog_id=log.pk)).status_code == 403
    assert _fields(drop)["merged_into_id"] == keep.pk
    detail = client.get(_url("detail", customer_id=keep.pk)).content.decode()
    assert 'data-testid="merge-button"' not in detail
    listing = client.get(_url("list")).content.decode()
    assert 'data-testid="merge-log-link"' not in listing
