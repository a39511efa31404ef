"""The reach table (consent.reach) answers exactly what "may I send?" decides.

``customers_allowed`` reads ConsentReach, kept by triggers and refreshed before each
read; the law stays ``may_send_bulk`` over the whole tenant. The property test
applies random sequences of everything that can change an answer — consents, RETs
and İYS rejections, phones and e-mails added, removed, moved and renumbered,
merges and their undoing, customers turned into companies, the TACIR policy — and
after each change compares the two for every channel.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from typing import Any

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import reach, services
from consent.kvkk.services import customer_anonymise
from consent.models import (
    ConsentEvent,
    ConsentReach,
    ConsentReachBuild,
    ConsentReachDirty,
    ConsentStatus,
    ConsentType,
    RecipientType,
    SyncStatus,
    TacirPolicy,
)
from consent.rules import TURKEY
from consent.tasks import reach_rebuild_all, reach_rebuild_task
from crm import bulk
from crm.models import Tenant
from crm.tenancy import tenant_context
from customers.merge import customer_merge, customer_unmerge
from customers.models import Customer, Email, MergeLog, Phone
from segmentation import saved_segments
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHANNELS = (ConsentType.MESAJ, ConsentType.ARAMA, ConsentType.EPOSTA)
PHONES = [f"+90534{n:07d}" for n in range(4)]
EMAILS = [f"kisi{n}@ornek.com.tr" for n in range(3)]
CUSTOMERS = 5
# Later than any real clock the tests run under: the opt-outs (dated now) stay older.
START = dt.datetime(2027, 1, 4, 10, 0, tzinfo=TURKEY)
_tenants = itertools.count(1)


def exact(tenant: Tenant, channel: str) -> set[int]:
    """The law: customers with an allowed recipient, decided over the whole tenant."""
    return {
        row.customer_id
        for row in services.may_send_bulk(tenant=tenant, channel_type=channel)
        if row.allowed
    }


def allowed(tenant: Tenant, channel: str) -> set[int]:
    return set(
        services.customers_allowed(tenant=tenant, channel_type=channel).values_list("pk", flat=True)
    )


def assert_reach_exact(tenant: Tenant) -> None:
    for channel in CHANNELS:
        assert allowed(tenant, channel) == exact(tenant, channel), channel


# --- the property --------------------------------------------------------------------

recipients = st.one_of(
    st.tuples(st.sampled_from([ConsentType.MESAJ, ConsentType.ARAMA]), st.sampled_from(PHONES)),
    st.tuples(st.just(ConsentType.EPOSTA), st.sampled_from(EMAILS)),
)
who = st.integers(0, CUSTOMERS - 1)
change = st.one_of(
    # Consents are the commonest change: listed twice to be drawn more often.
    *[
        st.tuples(
            st.just("consent"),
            recipients,
            st.sampled_from(list(RecipientType)),
            st.sampled_from([ConsentStatus.ONAY, ConsentStatus.ONAY, ConsentStatus.RET]),
        )
    ]
    * 3,
    st.tuples(st.just("opt_out"), recipients),
    st.tuples(st.just("iys_rejects"), recipients),
    st.tuples(st.just("add"), who, st.booleans(), st.integers(0, len(PHONES) - 1)),
    st.tuples(st.just("remove"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("move"), st.integers(0, 20), who, st.booleans()),
    st.tuples(st.just("renumber"), st.integers(0, 20), st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("merge"), who, who),
    st.tuples(st.just("unmerge")),
    st.tuples(st.just("kind"), who, st.booleans()),
    st.tuples(st.just("policy"), st.sampled_from(list(TacirPolicy))),
)


class Shop:
    """A fresh tenant per example, so that examples never see each other's rows."""

    def __init__(self, people: list[tuple[bool, set[int], set[int]]]) -> None:
        self.tenant: Tenant = TenantFactory.create(slug=f"reach-{next(_tenants)}")
        self.now = START
        self.customers = []
        for company, phones, emails in people:
            customer = CustomerFactory.create(
                tenant=self.tenant,
                kind=Customer.Kind.COMPANY if company else Customer.Kind.PERSON,
            )
            self.customers.append(customer)
            for n in phones:
                PhoneFactory.create(tenant=self.tenant, customer=customer, e164=PHONES[n])
            for n in emails:
                EmailFactory.create(
                    tenant=self.tenant, customer=customer, address=EMAILS[n], match_key=EMAILS[n]
                )

    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(days=1, minutes=1)
        return self.now

    def customer(self, index: int) -> Customer:
        return Customer.objects.get(pk=self.customers[index].pk)

    def points(self, phone: bool) -> Any:
        return Phone.objects.all() if phone else Email.objects.all()

    def apply(self, op: tuple[Any, ...]) -> None:
        # İYS or the merge rules may refuse it: then nothing changed.
        with contextlib.suppress(ValidationError):
            getattr(self, f"do_{op[0]}")(*op[1:])

    def do_consent(self, recipient: tuple[str, str], recipient_type: str, status: str) -> None:
        channel, address = recipient
        now = self.tick()
        services.consent_record(
            tenant=self.tenant,
            actor=None,
            recipient=address,
            consent_type=channel,
            status=status,
            source="HS_WEB",
            consent_date=now,
            recipient_type=recipient_type,
            now=now,
        )

    def do_opt_out(self, recipient: tuple[str, str]) -> None:
        channel, address = recipient
        services.consent_opt_out(
            tenant=self.tenant, recipient=address, consent_types=[channel], origin="opt_out_link"
        )

    def do_iys_rejects(self, recipient: tuple[str, str]) -> None:
        # İYS refuses the latest ONAY: the state falls back to the one before it.
        channel, address = recipient
        event = (
            ConsentEvent.objects.filter(recipient=address, type=channel, status=ConsentStatus.ONAY)
            .exclude(sync_status=SyncStatus.REJECTED)
            .order_by("-pk")
            .first()
        )
        if event is not None:
            services.consent_sync_update(
                tenant=self.tenant, event=event, sync_status=SyncStatus.REJECTED
            )

    def do_add(self, index: int, phone: bool, value: int) -> None:
        customer = self.customer(index)
        if phone:
            if not Phone.objects.filter(customer=customer, e164=PHONES[value]).exists():
                PhoneFactory.create(tenant=self.tenant, customer=customer, e164=PHONES[value])
        else:
            address = EMAILS[value % len(EMAILS)]
            if not Email.objects.filter(customer=customer, address=address).exists():
                EmailFactory.create(
                    tenant=self.tenant, customer=customer, address=address, match_key=address
                )

    def point(self, phone: bool, index: int) -> Any:
        """The index-th point of the tenant (modulo their number): always one that exists."""
        points = list(self.points(phone).order_by("pk"))
        return points[index % len(points)] if points else None

    def do_remove(self, index: int, phone: bool) -> None:
        point = self.point(phone, index)
        if point is not None:
            self.points(phone).filter(pk=point.pk).delete()

    def do_move(self, index: int, target: int, phone: bool) -> None:
        point = self.point(phone, index)
        field = "e164" if phone else "address"
        if point is None or self.points(phone).filter(
            customer=self.customers[target], **{field: getattr(point, field)}
        ):
            return
        self.points(phone).filter(pk=point.pk).update(customer=self.customers[target])

    def do_renumber(self, index: int, phone: bool, value: int) -> None:
        field = "e164" if phone else "address"
        values = PHONES if phone else EMAILS
        new = values[value % len(values)]
        point = self.point(phone, index)
        if point is None or self.points(phone).filter(customer=point.customer_id, **{field: new}):
            return
        self.points(phone).filter(pk=point.pk).update(**{field: new})

    def do_merge(self, keep: int, drop: int) -> None:
        customer_merge(
            tenant=self.tenant,
            actor=None,
            keep=self.customer(keep),
            drop=self.customer(drop),
            choices={},
        )

    def do_unmerge(self) -> None:
        log = MergeLog.objects.filter(undone_at__isnull=True).order_by("-pk").first()
        if log is not None:
            customer_unmerge(tenant=self.tenant, actor=None, merge_log=log)

    def do_kind(self, index: int, company: bool) -> None:
        kind = Customer.Kind.COMPANY if company else Customer.Kind.PERSON
        Customer.objects.filter(pk=self.customers[index].pk).update(kind=kind)

    def do_policy(self, policy: str) -> None:
        services.consent_settings_update(tenant=self.tenant, tacir_policy=policy)


# Few numbers among several customers: shared numbers (families, firms) are the
# case where one customer's change moves another's answer.
people = st.lists(
    st.tuples(
        st.booleans(),
        st.sets(st.integers(0, len(PHONES) - 1), min_size=1, max_size=3),
        st.sets(st.integers(0, len(EMAILS) - 1), min_size=1, max_size=2),
    ),
    min_size=CUSTOMERS,
    max_size=CUSTOMERS,
)
# The starting consents: ONAY, or ONAY then RET (a first RET is an opt-out).
consents = st.dictionaries(
    st.tuples(recipients, st.sampled_from(list(RecipientType))),
    st.sampled_from([ConsentStatus.ONAY, ConsentStatus.ONAY, ConsentStatus.RET]),
    min_size=2,
    max_size=8,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=people,
    consents=consents,
    changes=st.lists(change, min_size=1, max_size=10),
)
def test_reach_equals_the_exact_decision_after_any_changes(
    db: None,
    people: list[tuple[bool, set[int], set[int]]],
    consents: dict[tuple[tuple[str, str], str], str],
    changes: list[tuple[Any, ...]],
) -> None:
    shop = Shop(people)
    with tenant_context(shop.tenant):
        for (recipient, recipient_type), status in consents.items():
            shop.apply(("consent", recipient, recipient_type, ConsentStatus.ONAY))
            if status == ConsentStatus.RET:
                shop.apply(("consent", recipient, recipient_type, ConsentStatus.RET))
        assert_reach_exact(shop.tenant)  # the first read builds every channel
        policy = services.consent_settings_get(tenant=shop.tenant).tacir_policy
        for op in changes:
            shop.apply(op)
            if op[0] != "policy" or op[1] == policy:
                # Kept up to date by the marks alone, not rebuilt.
                assert not reach.reach_refresh(tenant=shop.tenant).built
            policy = services.consent_settings_get(tenant=shop.tenant).tacir_policy
            assert_reach_exact(shop.tenant)


# --- paths by hand -------------------------------------------------------------------


def _phone(world: TenantWorld, e164: str, *, kind: str = Customer.Kind.PERSON) -> Customer:
    customer: Customer = CustomerFactory.create(tenant=world.tenant, kind=kind)
    PhoneFactory.create(tenant=world.tenant, customer=customer, e164=e164)
    return customer


def _onay(tenant: Tenant, e164: str, channel: str = ConsentType.MESAJ) -> None:
    services.consent_record(
        tenant=tenant,
        actor=None,
        recipient=e164,
        consent_type=channel,
        status=ConsentStatus.ONAY,
        source="HS_WEB",
        consent_date=dt.datetime.now(TURKEY),
    )


def test_a_refusal_on_a_shared_number_reaches_the_co_holders_other_numbers(
    world_a: TenantWorld,
) -> None:
    """Two hops: the RET of A's second number blocks the number A shares with B."""
    tenant = world_a.tenant
    a = _phone(world_a, "+905340000001")
    b = _phone(world_a, "+905340000002")
    with tenant_context(tenant):
        PhoneFactory.create(tenant=tenant, customer=a, e164="+905340000002")
        PhoneFactory.create(tenant=tenant, customer=a, e164="+905340000003")
        for number in ("+905340000001", "+905340000002", "+905340000003"):
            _onay(tenant, number)
        assert allowed(tenant, ConsentType.MESAJ) == {a.pk, b.pk}
        services.consent_opt_out(
            tenant=tenant,
            recipient="+905340000003",
            consent_types=[ConsentType.MESAJ],
            origin="opt_out_link",
        )
        assert allowed(tenant, ConsentType.MESAJ) == set() == exact(tenant, ConsentType.MESAJ)


def test_nothing_changed_means_no_work(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    _phone(world_a, "+905340000011")
    with tenant_context(tenant):
        _onay(tenant, "+905340000011")
        allowed(tenant, ConsentType.MESAJ)
        assert not ConsentReachDirty.objects.exists()
        assert reach.reach_refresh(tenant=tenant, channel_type=ConsentType.MESAJ).seconds == 0


def test_a_policy_change_rebuilds_the_channel(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    company = _phone(world_a, "+905340000021", kind=Customer.Kind.COMPANY)
    with tenant_context(tenant):
        assert allowed(tenant, ConsentType.MESAJ) == {company.pk}  # TACIR: RET only
        services.consent_settings_update(tenant=tenant, tacir_policy=TacirPolicy.REQUIRE_ONAY)
        done = reach.reach_refresh(tenant=tenant, channel_type=ConsentType.MESAJ)
        assert done.built == {ConsentType.MESAJ: 0}
        assert allowed(tenant, ConsentType.MESAJ) == set()


def test_anonymising_a_customer_leaves_the_reach_exact(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    ayse = _phone(world_a, "+905340000031")
    other = _phone(world_a, "+905340000032")
    with tenant_context(tenant):
        PhoneFactory.create(tenant=tenant, customer=other, e164="+905340000031")
        _onay(tenant, "+905340000031")
        assert allowed(tenant, ConsentType.MESAJ) == {ayse.pk, other.pk}
        customer_anonymise(tenant=tenant, actor=world_a.owner, customer=ayse, reason="KVKK talebi")
        assert allowed(tenant, ConsentType.MESAJ) == {other.pk} == exact(tenant, ConsentType.MESAJ)


def test_the_segment_builders_consent_count_is_the_exact_count(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        people = [_phone(world_a, f"+9053400001{n:02d}") for n in range(12)]
        for n in range(0, 12, 2):
            _onay(tenant, f"+9053400001{n:02d}")
        services.consent_opt_out(
            tenant=tenant,
            recipient="+905340000104",
            consent_types=[ConsentType.MESAJ],
            origin="opt_out_link",
        )
        rule = {"match": "all", "conditions": [{"field": "consent", "values": ["MESAJ"]}]}
        expected = exact(tenant, ConsentType.MESAJ)
        assert len(expected) == 5
        assert saved_segments.live_count(tenant=tenant, rule=rule)["total"] == len(expected)
        # And after a change, without a rebuild.
        _onay(tenant, "+905340000101")
        assert saved_segments.live_count(tenant=tenant, rule=rule)["total"] == len(expected) + 1
        assert people[1].pk in allowed(tenant, ConsentType.MESAJ)


def test_the_nightly_rebuild_builds_every_channel(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    ayse = _phone(world_a, "+905340000041")
    with tenant_context(tenant):
        _onay(tenant, "+905340000041", ConsentType.ARAMA)
        # A row the triggers never wrote (damage the safety net must repair).
        ConsentReach.objects.create(tenant=tenant, channel=ConsentType.MESAJ, customer=ayse)
    result = reach_rebuild_task.apply(args=(tenant.pk,)).get()
    assert result["built"] == {"MESAJ": 0, "ARAMA": 1, "EPOSTA": 0}
    with tenant_context(tenant):
        assert set(ConsentReachBuild.objects.values_list("channel", flat=True)) == set(CHANNELS)
        assert_reach_exact(tenant)
    assert reach_rebuild_all.apply().get() >= 1


def test_a_bulk_load_marks_its_customers(world_a: TenantWorld) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        customers = [CustomerFactory.create(tenant=tenant) for _n in range(3)]
        allowed(tenant, ConsentType.MESAJ)  # built: from now on, changes are marked
        for n in range(3):
            _onay(tenant, f"+90534000005{n}")
        ConsentReachDirty.objects.all().delete()  # the consents came first
        frame = pd.DataFrame(
            {
                "tenant_id": tenant.pk,
                "customer_id": [c.pk for c in customers],
                "e164": [f"+90534000005{n}" for n in range(3)],
                "is_mobile": True,
                "is_primary": False,
                "is_verified": False,
                "source": "import",
                "created_at": pd.Timestamp.now(tz="UTC"),
            }
        )
        bulk.load_frame(Phone, frame)
        marked = set(ConsentReachDirty.objects.values_list("customer_id", flat=True))
        assert marked == {c.pk for c in customers}
        assert allowed(tenant, ConsentType.MESAJ) == marked == exact(tenant, ConsentType.MESAJ)


def test_a_statement_past_the_bulk_limit_marks_the_whole_tenant(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world_a.tenant
    with tenant_context(tenant):
        ayse = _phone(world_a, "+905340000061")
        _onay(tenant, "+905340000061")
        assert allowed(tenant, ConsentType.MESAJ) == {ayse.pk}
        # The limit is compiled into the trigger functions; lower it for this test.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT prosrc FROM pg_proc WHERE proname = 'consent_reach_phone_deleted'"
            )
            (source,) = cursor.fetchone()
            from consent.migration_ops import REACH_BULK_ROWS

            cursor.execute(
                "CREATE OR REPLACE FUNCTION consent_reach_phone_deleted() RETURNS trigger "
                "LANGUAGE plpgsql AS $fn$" + source.replace(str(REACH_BULK_ROWS), "0") + "$fn$"
            )
        Phone.objects.filter(customer=ayse).delete()
        assert list(ConsentReachDirty.objects.values_list("customer_id", flat=True)) == [None]
        done = reach.reach_refresh(tenant=tenant, channel_type=ConsentType.MESAJ)
        assert done.built == {ConsentType.MESAJ: 0}
        assert allowed(tenant, ConsentType.MESAJ) == set()
