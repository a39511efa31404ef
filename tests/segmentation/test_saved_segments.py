"""Saved segments: owners, materialisation, movement, RFM transitions, pages, export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from crm.models import PersonalDataAccess
from crm.permissions import Role
from crm.tenancy import tenant_context
from segmentation import saved_segments
from segmentation.models import CustomerScore
from segmentation.segment_models import SavedSegment, SegmentMembership
from segmentation.segment_tasks import segments_materialise_due
from tests.conftest import TenantWorld
from tests.factories import CustomerFactory, CustomerScoreFactory, SegmentationRunFactory

LOYAL = {"match": "all", "conditions": [{"field": "rfm_segment", "values": ["loyal"]}]}


@pytest.fixture(autouse=True)
def _messages_in_english() -> Iterator[None]:
    # The messages are Turkish by default; these tests read the English ones.
    with translation.override("en"):
        yield


class World:
    def __init__(self, world: TenantWorld) -> None:
        t = world.tenant
        self.world = world
        self.customers = [
            CustomerFactory.create(tenant=t, home_branch=world.branch) for _ in range(4)
        ]
        self.run1 = SegmentationRunFactory.create(
            tenant=t, finished_at=timezone.now() - dt.timedelta(days=30)
        )
        for c, seg in zip(self.customers, ["loyal", "loyal", "loyal", "lost"], strict=True):
            CustomerScoreFactory.create(
                tenant=t, run=self.run1, customer=c, rfm_segment=seg, clv=Decimal(100)
            )

    def second_run(self) -> Any:
        t = self.world.tenant
        run2 = SegmentationRunFactory.create(tenant=t, finished_at=timezone.now())
        # c0 stays loyal, c1 moves to at_risk, c2 lost, c3 becomes loyal.
        for c, seg in zip(self.customers, ["loyal", "at_risk", "lost", "loyal"], strict=True):
            CustomerScoreFactory.create(
                tenant=t, run=run2, customer=c, rfm_segment=seg, clv=Decimal(250)
            )
        return run2

    def segment(self, **extra: Any) -> SavedSegment:
        values: dict[str, Any] = {
            "tenant": self.world.tenant,
            "actor": self.world.owner,
            "name": "Sadık müşteriler",
            "rule": LOYAL,
            "owner": self.world.users[Role.MARKETING],
        }
        values.update(extra)
        return saved_segments.segment_create(**values)


@pytest.fixture
def w(world_a: TenantWorld) -> Any:
    with tenant_context(world_a.tenant):
        yield World(world_a)


def test_owner_is_required_and_must_approve_campaigns(w: World) -> None:
    with pytest.raises(saved_segments.SegmentError, match="owner"):
        w.segment(owner=None)
    with pytest.raises(saved_segments.SegmentError, match="approve campaigns"):
        w.segment(owner=w.world.users[Role.BRANCH_STAFF])
    with pytest.raises(saved_segments.SegmentError, match="condition"):
        w.segment(rule={"match": "all", "conditions": []})
    with pytest.raises(saved_segments.SegmentError, match="unknown value"):
        w.segment(rule={"conditions": [{"field": "kind", "values": ["x"]}]})
    w.segment()
    with pytest.raises(saved_segments.SegmentError, match="already"):
        w.segment()


def test_materialise_and_movement(w: World) -> None:
    t = w.world.tenant
    seg = w.segment()
    first = saved_segments.segment_materialise(tenant=t, segment=seg, run=w.run1)
    assert first.size == 3
    assert first.total_clv == Decimal(300)
    assert set(
        SegmentMembership.objects.filter(snapshot=first).values_list("customer_id", flat=True)
    ) == {c.pk for c in w.customers[:3]}
    run2 = w.second_run()
    later = saved_segments.materialise_after_run(tenant=t, run=run2)
    assert len(later) == 1
    second = later[0]
    assert second.size == 2
    assert second.run == run2
    assert second.total_clv == Decimal(500)
    seg.refresh_from_db()
    assert seg.last_size == 2
    moved = saved_segments.movement(tenant=t, before=first, after=second)
    assert set(moved.entered.values_list("pk", flat=True)) == {w.customers[3].pk}
    assert set(moved.left.values_list("pk", flat=True)) == {w.customers[1].pk, w.customers[2].pk}
    matrix = saved_segments.rfm_transitions(tenant=t, from_run=w.run1, to_run=run2)
    assert matrix == {
        ("loyal", "loyal"): 1,
        ("loyal", "at_risk"): 1,
        ("loyal", "lost"): 1,
        ("lost", "loyal"): 1,
    }
    drill = saved_segments.rfm_transition_customers(
        tenant=t, from_run=w.run1, to_run=run2, from_segment="loyal", to_segment="at_risk"
    )
    assert list(drill.values_list("pk", flat=True)) == [w.customers[1].pk]
    comp = saved_segments.composition(tenant=t, snapshot=second)
    assert comp["branch"] == [{"label": w.world.branch.name, "n": 2}]
    assert [r["n"] for r in comp["rfm"]] == [2]


def test_archived_segments_are_not_materialised(w: World) -> None:
    seg = w.segment()
    saved_segments.segment_archive(tenant=w.world.tenant, segment=seg)
    assert saved_segments.materialise_after_run(tenant=w.world.tenant, run=w.run1) == []


def test_scheduled_materialisation_task(w: World) -> None:
    t = w.world.tenant
    daily = w.segment(schedule="daily")
    w.segment(name="Elle", schedule="none")
    assert segments_materialise_due(t.pk) == 1
    daily.refresh_from_db()
    assert daily.last_size == 3
    # Already done today: not due again.
    assert segments_materialise_due(t.pk) == 0
    SavedSegment.objects.filter(pk=daily.pk).update(
        last_materialised_at=timezone.now() - dt.timedelta(days=2)
    )
    assert segments_materialise_due(t.pk) == 1


def _client(world: TenantWorld, role: Role) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages are Turkish otherwise
    client.force_login(world.users[role])
    return client


def _url(name: str, world: TenantWorld, **kw: Any) -> str:
    return reverse(f"segments:{name}", kwargs={"tenant_slug": world.tenant.slug, **kw})


def test_live_count_endpoint(w: World) -> None:
    client = _client(w.world, Role.MARKETING)
    r = client.post(_url("count", w.world), {"rule": json.dumps(LOYAL)})
    assert r.status_code == 200
    assert b'data-testid="segment-count-total">3<' in r.content
    bad = client.post(_url("count", w.world), {"rule": '{"conditions": [{"field": "age"}]}'})
    assert b"minimum or a maximum" in bad.content
    broken = client.post(_url("count", w.world), {"rule": "{not json"})
    assert b"could not be read" in broken.content
    assert _client(w.world, Role.BRANCH_STAFF).post(_url("count", w.world)).status_code == 403


def test_create_page_saves_and_materialises(w: World) -> None:
    client = _client(w.world, Role.MARKETING)
    assert client.get(_url("create", w.world)).status_code == 200
    owner = w.world.users[Role.OWNER]
    bad = client.post(
        _url("create", w.world),
        {"name": "X", "owner": owner.pk, "schedule": "none", "rule": '{"conditions": []}'},
    )
    assert bad.status_code == 200
    assert b"Add at least one condition" in bad.content
    r = client.post(
        _url("create", w.world),
        {"name": "Sadık", "owner": owner.pk, "schedule": "weekly", "rule": json.dumps(LOYAL)},
    )
    assert r.status_code == 302
    seg = SavedSegment.objects.get(tenant=w.world.tenant, name="Sadık")
    assert seg.owner == owner
    assert seg.created_by == w.world.users[Role.MARKETING]
    assert seg.last_size == 3
    detail = client.get(r["Location"])
    assert detail.status_code == 200
    assert "Sadık" in detail.content.decode()
    listing = client.get(_url("list", w.world)).content.decode()
    assert "Sadık" in listing
    assert client.get(_url("movement", w.world, savedsegment_id=seg.pk)).status_code == 200
    edit = client.post(
        _url("edit", w.world, savedsegment_id=seg.pk),
        {"name": "Sadık 2", "owner": owner.pk, "schedule": "none", "rule": json.dumps(LOYAL)},
    )
    assert edit.status_code == 302
    seg.refresh_from_db()
    assert seg.name == "Sadık 2"


def test_export_needs_permission_and_is_logged(w: World) -> None:
    seg = w.segment()
    saved_segments.segment_materialise(tenant=w.world.tenant, segment=seg)
    CustomerScore.objects.all()  # scores exist; export lists members
    url = _url("export", w.world, savedsegment_id=seg.pk)
    assert _client(w.world, Role.BRANCH_STAFF).get(url).status_code == 403
    r = _client(w.world, Role.MARKETING).get(url)
    assert r.status_code == 200
    body = b"".join(r.streaming_content).decode()  # type: ignore[attr-defined]
    lines = body.strip().splitlines()
    assert len(lines) == 4
    assert w.customers[0].customer_number in body
    assert PersonalDataAccess.objects.filter(
        tenant=w.world.tenant, subject_type="segment", subject_id=seg.pk, action="export"
    ).exists()
