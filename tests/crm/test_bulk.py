"""crm.bulk's row writer and the field__any_of lookup, on the suite's database."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import bulk
from crm.tenancy import tenant_context
from customers import normalize
from customers.models import Customer, DuplicatePair, Email, Phone
from tests.conftest import TenantWorld, is_postgres
from tests.factories import CustomerFactory


@pytest.mark.django_db
def test_any_of_finds_what_in_finds(world_a: TenantWorld, world_b: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        people = CustomerFactory.create_batch(5, tenant=world_a.tenant)
        for n, person in enumerate(people):
            Phone.objects.create(tenant=world_a.tenant, customer=person, e164=f"+90532000000{n}")
        ids = [p.pk for p in people[:3]] + [10**9]
        assert set(Customer.objects.filter(pk__any_of=ids)) == set(people[:3])
        assert set(Customer.objects.filter(pk__any_of=set(ids))) == set(people[:3])
        assert not Customer.objects.filter(pk__any_of=[]).exists()
        phones = ["+905320000001", "+905320000004", "+905320000001", "+905559999999"]
        assert sorted(
            Phone.objects.filter(e164__any_of=phones).values_list("customer_id", flat=True)
        ) == sorted(Phone.objects.filter(e164__in=phones).values_list("customer_id", flat=True))
        # Through a relation, and combined with other conditions.
        assert set(Phone.objects.filter(customer_id__any_of=ids, e164__startswith="+90532")) == set(
            Phone.objects.filter(customer__in=people[:3])
        )
    with tenant_context(world_b.tenant):
        # The tenant scope still applies: world A's customers are not world B's.
        assert not Customer.objects.filter(pk__any_of=ids).exists()


@pytest.mark.django_db
def test_written_rows_get_defaults_json_and_the_tenant(world_a: TenantWorld) -> None:
    now = timezone.now()
    tenant_id = world_a.tenant.pk
    with tenant_context(world_a.tenant), transaction.atomic():
        left, right = sorted(
            CustomerFactory.create_batch(2, tenant=world_a.tenant), key=lambda c: c.pk
        )
        phones = bulk.rows_payload(
            Phone,
            [
                {"customer_id": left.pk, "e164": "+905321112233", "is_primary": True},
                {"customer_id": right.pk, "e164": "+902161112233", "source": "import"},
            ],
            tenant_id=tenant_id,
            now=now,
        )
        assert phones.count == 2
        pairs = bulk.rows_payload(
            DuplicatePair,
            [
                {
                    "left_id": left.pk,
                    "right_id": right.pk,
                    "score": 12.5,
                    "evidence": [{"field": "phone", "says": 'same; "quoted"\ttab'}],
                }
            ],
            tenant_id=tenant_id,
            now=now,
        )
        nothing = bulk.rows_payload(Phone, [], tenant_id=tenant_id, now=now)
        assert nothing.count == 0
        with bulk.WriteBehind(tenant_id=tenant_id) as writer:
            writer.open()
            for payload in (phones, pairs, nothing):
                writer.add(payload)
            writer.send()
        first = Phone.objects.get(e164="+905321112233")
        assert (first.customer, first.is_primary, first.is_verified, first.source) == (
            left,
            True,
            False,
            "",
        )
        assert first.created_at == now and first.tenant_id == world_a.tenant.pk
        assert Phone.objects.get(e164="+902161112233").source == "import"
        pair = DuplicatePair.objects.get()
        assert pair.evidence == [{"field": "phone", "says": 'same; "quoted"\ttab'}]
        assert pair.status == DuplicatePair.Status.PENDING
        assert abs(pair.found_at - timezone.now()) < datetime.timedelta(minutes=1)


def _written(tenant_id: int, model: type, rows: list[dict]) -> bulk.RowsPayload:
    return bulk.rows_payload(model, rows, tenant_id=tenant_id, now=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_write_behind_stores_every_kind_of_value_and_commits_each_chunk(
    world_a: TenantWorld,
) -> None:
    # transaction=True: each chunk commits on its own, as in a background import.
    awkward = ['"quoted", with; separators', "line\nbreak\ttab", "back\\slash", "\\N", "İĞÜŞÖÇ"]
    with tenant_context(world_a.tenant):
        customer = CustomerFactory.create(tenant=world_a.tenant)
        right = CustomerFactory.create(tenant=world_a.tenant)
        tenant_id = world_a.tenant.pk
        with bulk.WriteBehind(tenant_id=tenant_id) as writer:
            writer.open()
            writer.add(
                _written(
                    tenant_id,
                    Phone,
                    [
                        {"customer_id": customer.pk, "e164": "+905321112233", "is_primary": True},
                        # An empty text is stored as one, not as NULL.
                        {"customer_id": customer.pk, "e164": "+905321112234", "source": ""},
                    ],
                )
            )
            writer.add(
                _written(
                    tenant_id,
                    DuplicatePair,
                    [
                        {
                            "left_id": customer.pk,
                            "right_id": right.pk,
                            "score": 12.5,
                            "evidence": [{"says": text} for text in awkward],
                            "decided_at": None,
                        }
                    ],
                )
            )
            writer.send()
            writer.open()  # waits for the first chunk and commits it
            assert Phone.objects.filter(customer=customer).count() == 2
            names = [
                {"customer_id": customer.pk, "address": f"a{n}@example.com", "match_key": text}
                for n, text in enumerate(awkward)
            ]
            writer.add(_written(tenant_id, Email, names))
            writer.send()
        assert sorted(Email.objects.values_list("match_key", flat=True)) == sorted(awkward)
        pair = DuplicatePair.objects.get()
        assert pair.evidence == [{"says": text} for text in awkward]
        assert pair.decided_at is None and pair.found_by_id is None
        # Columns no row sets take their default, written once in the INSERT.
        assert pair.status == DuplicatePair.Status.PENDING and pair.found_at is not None
        first, second = Phone.objects.order_by("e164")
        assert (first.is_primary, first.is_mobile, first.contact_person_id) == (True, False, None)
        assert second.source == ""


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_value_left_none_is_what_when_null_says_and_may_use_the_rows_values(
    world_a: TenantWorld,
) -> None:
    with tenant_context(world_a.tenant):
        customer = CustomerFactory.create(tenant=world_a.tenant)
        rows = [
            {"customer_id": customer.pk, "e164": "+905321112233", "is_primary": None},
            {"customer_id": customer.pk, "e164": "+905321112234", "is_primary": True},
            {"customer_id": customer.pk, "e164": "+905321112235", "is_primary": False},
        ]
        # True when the number ends in 3, from the row's own e164.
        when_null = {"is_primary": "right(incoming.e164, 1) = '3'"}
        payload = bulk.rows_payload(
            Phone, rows, tenant_id=world_a.tenant.pk, now=timezone.now(), when_null=when_null
        )
        with bulk.WriteBehind(tenant_id=world_a.tenant.pk) as writer:
            writer.open()
            writer.add(payload)
            writer.send()
        assert list(Phone.objects.order_by("e164").values_list("is_primary", flat=True)) == [
            True,
            True,
            False,
        ]
        # A column no row gives takes its default; an expression for it would be lost.
        with pytest.raises(ValueError, match="no row gives"):
            bulk.rows_payload(
                Phone,
                [{"customer_id": customer.pk, "e164": "+905321112236"}],
                tenant_id=world_a.tenant.pk,
                now=timezone.now(),
                when_null=when_null,
            )


@pytest.mark.django_db(transaction=True)
def test_write_behind_reads_first_and_raises_an_insert_error_at_wait(
    world_a: TenantWorld,
) -> None:
    if not is_postgres():
        pytest.skip("the reads travel in a PostgreSQL pipeline")
    with tenant_context(world_a.tenant):
        customer = CustomerFactory.create(tenant=world_a.tenant)
        Phone.objects.create(tenant=world_a.tenant, customer=customer, e164="+905321112233")
        tenant_id = world_a.tenant.pk
        with bulk.WriteBehind(tenant_id=tenant_id) as writer:
            writer.open()
            writer.add(
                _written(tenant_id, Phone, [{"customer_id": customer.pk, "e164": "+905329990000"}])
            )
            writer.send(reads=["SET LOCAL jit = off", "SELECT e164 FROM customers_phone"])
            # The reads ran before the inserts: only the stored phone is seen.
            assert writer.read() == [[], [("+905321112233",)]]
            writer.open()
            # The same phone twice for one customer breaks phone_once_per_owner; a
            # customer that does not exist breaks the foreign key, checked before commit.
            writer.add(
                _written(
                    tenant_id,
                    Phone,
                    [
                        {"customer_id": customer.pk, "e164": "+905320000001"},
                        {"customer_id": customer.pk, "e164": "+905320000001"},
                    ],
                )
            )
            writer.send()
            with pytest.raises(IntegrityError):
                writer.wait()
            writer.open()
            writer.add(
                _written(tenant_id, Phone, [{"customer_id": 10**12, "e164": "+905320000002"}])
            )
            writer.send()
            with pytest.raises(IntegrityError):
                writer.wait()
            # Reads and inserts in one pipeline: the reads' rows come back, the
            # inserts' error at wait.
            writer.open()
            writer.add(
                _written(tenant_id, Phone, [{"customer_id": 10**12, "e164": "+905320000003"}])
            )
            writer.send(reads=["SELECT count(*) FROM customers_phone"])
            assert writer.read() == [[(2,)]]
            with pytest.raises(IntegrityError):
                writer.wait()
            # A read that fails: raised by read(), its chunk's inserts never run.
            writer.open()
            writer.add(
                _written(tenant_id, Phone, [{"customer_id": customer.pk, "e164": "+905320000004"}])
            )
            writer.send(reads=["SELECT 1 / 0"])
            with pytest.raises(DataError):
                writer.read()
            writer.wait()  # nothing left to wait for
        # The failed chunks were rolled back, the first one kept, and the connection
        # is free for the next query.
        assert sorted(Phone.objects.values_list("e164", flat=True)) == [
            "+905321112233",
            "+905329990000",
        ]


@pytest.mark.django_db(transaction=True)
def test_write_behind_rolls_back_the_open_chunk_when_the_caller_fails(
    world_a: TenantWorld,
) -> None:
    with tenant_context(world_a.tenant):
        customer = CustomerFactory.create(tenant=world_a.tenant)
        tenant_id = world_a.tenant.pk
        with pytest.raises(ZeroDivisionError), bulk.WriteBehind(tenant_id=tenant_id) as writer:
            writer.open()
            writer.add(
                _written(tenant_id, Phone, [{"customer_id": customer.pk, "e164": "+905321112233"}])
            )
            writer.send()
            1 / 0  # noqa: B018 (the caller's own error, while the inserts run)
        assert not Phone.objects.exists()
        assert Customer.objects.count() == 1


def _poll(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _other_sessions_running(text: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND state = 'active' AND query LIKE %s",
            [f"%{text}%"],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_read_ahead_runs_statements_on_connections_of_its_own_in_the_tenant_scope(
    world_a: TenantWorld,
) -> None:
    if not is_postgres():
        pytest.skip("the warmer needs PostgreSQL")
    with tenant_context(world_a.tenant):
        with bulk.ReadAhead(connections=2) as warmer:
            assert warmer.offer(["SELECT 1"]) and warmer.offer(["SELECT 2"])
            # Both finish at once: their connections are idle again for the next.
            assert _poll(lambda: warmer.offer(["SELECT 3"]))
        with bulk.ReadAhead(connections=2) as warmer:
            # The warmer's session has the caller's tenant: an advisory lock keyed by it.
            assert warmer.offer(
                [
                    "SELECT pg_advisory_lock(current_setting('app.tenant_id')::bigint),"
                    " pg_sleep(60) /* warmer one */"
                ]
            )
            # Several statements run in one transaction: SET LOCAL holds for the next.
            assert warmer.offer(
                [
                    "SET LOCAL application_name = 'warmer two'",
                    "SELECT pg_sleep(60) /* warmer two */",
                ]
            )
            assert not warmer.offer(["SELECT 4"])  # every connection busy: dropped
            with connection.cursor() as cursor:

                def tenant_locked() -> list[tuple[int]]:
                    cursor.execute(
                        "SELECT objid FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid <> pg_backend_pid()"
                    )
                    return cursor.fetchall()

                assert _poll(tenant_locked) == [(world_a.tenant.pk,)]
            assert len(_other_sessions_running("pg_sleep(60) /* warmer")) == 2
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE query LIKE %s"
                    " AND pid <> pg_backend_pid()",
                    ["%/* warmer two */%"],
                )
                assert cursor.fetchall() == [("warmer two",)]
            left = time.monotonic()
        # Leaving cancels what runs and closes the connections, without waiting it out.
        assert time.monotonic() - left < 10
        assert _poll(lambda: not _other_sessions_running("pg_sleep(60) /* warmer"))


@pytest.mark.django_db(transaction=True)
def test_a_warmer_finishes_a_query_of_many_rows_though_nobody_reads_them(
    world_a: TenantWorld,
) -> None:
    # Results are read only at the next offer; returned, 100 MB of rows would fill
    # the socket and hold the server mid-query until then.
    if not is_postgres():
        pytest.skip("the warmer needs PostgreSQL")
    many_rows = "SELECT g, repeat('x', 1000) FROM generate_series(1, 100000) g /* many rows */"
    with tenant_context(world_a.tenant), bulk.ReadAhead(connections=1) as warmer:
        assert warmer.offer([many_rows])
        assert _poll(lambda: not _other_sessions_running("/* many rows */"))


@pytest.mark.django_db(transaction=True)
def test_read_ahead_drops_a_connection_that_broke(world_a: TenantWorld) -> None:
    if not is_postgres():
        pytest.skip("the warmer needs PostgreSQL")
    with tenant_context(world_a.tenant), bulk.ReadAhead(connections=2) as warmer:
        assert warmer.offer(["SELECT pg_sleep(60) /* broken warmer */"])
        pids = _poll(lambda: _other_sessions_running("pg_sleep(60) /* broken warmer"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
        # The other connection takes the next statements; the broken one is gone.
        assert warmer.offer(["SELECT 1"])
        assert _poll(lambda: warmer.offer(["SELECT pg_sleep(60) /* broken warmer */"]))
        assert not warmer.offer(["SELECT 3"])  # the one left is busy


def test_read_ahead_does_nothing_without_postgresql() -> None:
    if is_postgres():
        pytest.skip("the SQLite case")
    with bulk.ReadAhead(connections=2) as warmer:
        assert not warmer.offer(["SELECT 1"])


# Any text PostgreSQL stores (it refuses NUL), and NULL.
_stored_text = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))


@pytest.mark.django_db
@pytest.mark.postgres
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(st.none(), _stored_text), max_size=20))
def test_an_array_literal_gives_back_every_value(values: list[str | None]) -> None:
    # The bulk inserts and the import's lookup carry their values this way, so a
    # quote, backslash, brace or "NULL" in a customer's data must come back as it was.
    with connection.cursor() as cursor:
        # Without parameters, as the writer's messages go: % is no placeholder.
        cursor.execute(f"SELECT {bulk.array_literal(values)}::text[], 'x'")
        assert cursor.fetchone() == (values, "x")


def test_an_array_literal_writes_numbers_bare_and_refuses_what_it_cannot_write() -> None:
    assert bulk.array_literal([1, True, None, 2.5, "O'Neil"]) == (
        "'{1,t,NULL,\"2.5\",\"O''Neil\"}'"
    )
    with pytest.raises(TypeError):
        bulk.array_literal([b"bytes"])


def test_detached_clears_every_traceback_an_error_holds() -> None:
    def raised(func: Any, value: str) -> ValidationError:
        try:
            func(value)
        except ValidationError as error:
            return error
        raise AssertionError("no error")

    # A bad T.C. number is raised while handling python-stdnum's own error.
    bad_tckn = raised(normalize.normalize_tckn, "12345678901")
    assert bad_tckn.__context__ is not None and bad_tckn.__context__.__traceback__ is not None
    nested = ValidationError({"tckn": [bad_tckn], "phone": ["Geçersiz."]})
    assert bulk.detached(nested) is nested
    assert bad_tckn.__traceback__ is None
    assert bad_tckn.__context__.__traceback__ is None
    assert nested.message_dict["tckn"] == bad_tckn.messages
