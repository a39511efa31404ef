"""Factories for saved segments (merged into tests.factories.FACTORIES)."""

from __future__ import annotations

import factory

from segmentation.segment_models import SavedSegment, SegmentMembership, SegmentSnapshot
from tests.factories import CustomerFactory, TenantOwnedFactory, UserFactory


def _same_tenant() -> factory.SelfAttribute:
    return factory.SelfAttribute("..tenant")


class SavedSegmentFactory(TenantOwnedFactory):
    class Meta:
        model = SavedSegment

    name = factory.Sequence(lambda n: f"Segment {n}")
    rule = factory.LazyFunction(
        lambda: {"match": "all", "conditions": [{"field": "kind", "values": ["person"]}]}
    )
    owner = factory.SubFactory(UserFactory)


class SegmentSnapshotFactory(TenantOwnedFactory):
    class Meta:
        model = SegmentSnapshot

    segment = factory.SubFactory(SavedSegmentFactory, tenant=_same_tenant())


class SegmentMembershipFactory(TenantOwnedFactory):
    class Meta:
        model = SegmentMembership

    snapshot = factory.SubFactory(SegmentSnapshotFactory, tenant=_same_tenant())
    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())


SEGMENT_FACTORIES: dict[type, type[TenantOwnedFactory]] = {
    SavedSegment: SavedSegmentFactory,
    SegmentSnapshot: SegmentSnapshotFactory,
    SegmentMembership: SegmentMembershipFactory,
}
