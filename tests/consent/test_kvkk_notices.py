"""KVKK information notices and explicit consent: versions, decisions at the counter,
the profiling question, merge, export and erasure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from consent import profiling
from consent import services as consent_services
from consent.kvkk import export, notices
from consent.kvkk import services as kvkk
from consent.kvkk.models import (
    PrivacyDecision,
    PrivacyDecisionKind,
    PrivacyText,
    PrivacyTextChanged,
    PrivacyTextKind,
    ProcessingPurpose,
    RequestKind,
)
from consent.models import TacirPolicy
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import merge
from customers import services as customer_services
from customers.models import Customer
from tests.conftest import TenantWorld

# The messages asserted below are the English ones.
pytestmark = pytest.mark.usefixtures("english")

NOTICE, EXPLICIT = PrivacyTextKind.NOTICE, PrivacyTextKind.EXPLICIT_CONSENT
GENERAL, PROFILING = ProcessingPurpose.CUSTOMER_RELATIONSHIP, ProcessingPurpose.PROFILING


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def _customer(world: TenantWorld, first: str = "Ayşe", phone: str = "0532 111 22 33") -> Customer:
    return customer_services.customer_create(
        tenant=world.tenant,
        actor=world.owner,
        data=customer_services.CustomerInput(first_name=first, last_name="Yılmaz", phones=[phone]),
    )


def _publish(world: TenantWorld, kind: str, purpose: str, body: str = "Metin") -> PrivacyText:
    return notices.privacy_text_publish(
        tenant=world.tenant, actor=world.owner, kind=kind, purpose=purpose, title="T", body=body
    )


def _decide(world: TenantWorld, customer: Customer, text: PrivacyText, decision: str) -> None:
    notices.privacy_decision_record(
        tenant=world.tenant,
        customer=customer,
        text=text,
        decision=decision,
        proof=notices.DecisionProof(recorded_by=world.owner, document_ref="F-1"),
    )


@pytest.mark.django_db
def test_texts_are_versioned_and_never_edited(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        first = _publish(world_a, NOTICE, GENERAL, "v1")
        second = _publish(world_a, NOTICE, GENERAL, "v2")
        other = _publish(world_a, EXPLICIT, PROFILING)
        assert (first.version, second.version, other.version) == (1, 2, 1)
        assert notices.current_texts(tenant=world_a.tenant)[(NOTICE, GENERAL)] == second
        first.body = "rewritten"
        with pytest.raises(PrivacyTextChanged):
            first.save()
        # Customer relationship rests on the contract: no explicit consent text for it.
        with pytest.raises(ValidationError):
            _publish(world_a, EXPLICIT, GENERAL)


@pytest.mark.django_db
def test_explicit_consent_needs_the_notice_first_and_only_current_versions(
    world_a: TenantWorld,
) -> None:
    with tenant_context(world_a.tenant):
        ayse = _customer(world_a)
        notice_v1 = _publish(world_a, NOTICE, GENERAL)
        consent_text = _publish(world_a, EXPLICIT, PROFILING)
        with pytest.raises(ValidationError, match="information notice first"):
            _decide(world_a, ayse, consent_text, PrivacyDecisionKind.ACCEPTED)
        with pytest.raises(ValidationError, match="no explicit consent to withdraw"):
            _decide(world_a, ayse, notice_v1, PrivacyDecisionKind.SHOWN)
            _decide(world_a, ayse, consent_text, PrivacyDecisionKind.WITHDRAWN)
        # A notice is presented, not "accepted".
        with pytest.raises(ValidationError):
            _decide(world_a, ayse, notice_v1, PrivacyDecisionKind.ACCEPTED)
        _decide(world_a, ayse, consent_text, PrivacyDecisionKind.ACCEPTED)
        _publish(world_a, NOTICE, GENERAL, "v2")
        with pytest.raises(ValidationError, match="newer version"):
            _decide(world_a, ayse, notice_v1, PrivacyDecisionKind.SHOWN)
        status = {
            row.purpose: row
            for row in notices.customer_privacy_status(tenant=world_a.tenant, customer=ayse)
        }
        assert status[GENERAL].notice_outdated
        assert status[PROFILING].consented
        # The person's evidence: which version, who recorded it, the form number.
        decision = PrivacyDecision.objects.get(tenant=world_a.tenant, decision="accepted")
        assert (decision.text.version, decision.recorded_by, decision.document_ref) == (
            1,
            world_a.owner,
            "F-1",
        )


@pytest.mark.django_db
def test_profiling_follows_the_latest_explicit_decision_when_the_tenant_requires_it(
    world_a: TenantWorld,
) -> None:
    with tenant_context(world_a.tenant):
        ayse, mehmet = _customer(world_a), _customer(world_a, "Mehmet", "0533 222 33 44")
        notice = _publish(world_a, NOTICE, GENERAL)
        consent_text = _publish(world_a, EXPLICIT, PROFILING)
        # Without the setting, nobody is left out for lack of consent.
        assert profiling.profiling_excluded_customer_ids(tenant=world_a.tenant) == set()
        consent_services.consent_settings_update(
            tenant=world_a.tenant,
            tacir_policy=TacirPolicy.RET_ONLY,
            profiling_needs_explicit_consent=True,
        )
        assert profiling.profiling_excluded_customer_ids(tenant=world_a.tenant) == {
            ayse.pk,
            mehmet.pk,
        }
        assert "No explicit consent" in str(
            profiling.profiling_exclusion_reason(tenant=world_a.tenant, customer=ayse)
        )
        for person in (ayse, mehmet):
            _decide(world_a, person, notice, PrivacyDecisionKind.SHOWN)
        _decide(world_a, ayse, consent_text, PrivacyDecisionKind.ACCEPTED)
        _decide(world_a, mehmet, consent_text, PrivacyDecisionKind.DECLINED)
        assert profiling.profiling_excluded_customer_ids(tenant=world_a.tenant) == {mehmet.pk}
        assert profiling.may_profile(tenant=world_a.tenant, customer=ayse)
        _decide(world_a, ayse, consent_text, PrivacyDecisionKind.WITHDRAWN)
        assert profiling.profiling_excluded_customer_ids(tenant=world_a.tenant) == {
            ayse.pk,
            mehmet.pk,
        }
        assert "withdrew" in str(
            profiling.profiling_exclusion_reason(tenant=world_a.tenant, customer=ayse)
        )
        # An objection still wins over a consent.
        _decide(world_a, ayse, consent_text, PrivacyDecisionKind.ACCEPTED)
        kvkk.dsr_create(
            tenant=world_a.tenant,
            actor=world_a.owner,
            requester_name="",
            kind=RequestKind.OBJECTION,
            customer=ayse,
        )
        assert ayse.pk in profiling.profiling_excluded_customer_ids(tenant=world_a.tenant)


@pytest.mark.django_db
def test_decisions_follow_a_merge_are_exported_and_lose_their_proof_on_erasure(
    world_a: TenantWorld,
) -> None:
    with tenant_context(world_a.tenant):
        keep, drop = _customer(world_a), _customer(world_a, "Ayse", "0532 999 88 77")
        notice = _publish(world_a, NOTICE, GENERAL)
        consent_text = _publish(world_a, EXPLICIT, PROFILING)
        _decide(world_a, drop, notice, PrivacyDecisionKind.SHOWN)
        _decide(world_a, drop, consent_text, PrivacyDecisionKind.ACCEPTED)
        log = merge.customer_merge(
            tenant=world_a.tenant, actor=world_a.owner, keep=keep, drop=drop, choices={}
        )
        assert notices.latest_explicit_decisions(tenant=world_a.tenant, customer=keep)[
            PROFILING
        ].decision == (PrivacyDecisionKind.ACCEPTED)
        merge.customer_unmerge(tenant=world_a.tenant, actor=world_a.owner, merge_log=log)
        drop.refresh_from_db()
        assert not notices.latest_explicit_decisions(tenant=world_a.tenant, customer=keep)
        assert PrivacyDecision.objects.filter(tenant=world_a.tenant, customer=drop).count() == 2
        exported = export.customer_export(tenant=world_a.tenant, customer=drop)
        section = next(s for s in exported["sections"] if s["key"] == "privacy_notices")
        rows = section["rows"]
        assert [r["decision"] for r in rows] == ["shown", "accepted"]
        kvkk.customer_anonymise(
            tenant=world_a.tenant, actor=world_a.owner, customer=drop, reason="Silme başvurusu"
        )
        kept = PrivacyDecision.objects.filter(tenant=world_a.tenant, customer=drop)
        assert kept.count() == 2  # the evidence that consent existed stays
        assert set(kept.values_list("document_ref", flat=True)) == {""}
        with pytest.raises(ValidationError, match="erased"):
            _decide(world_a, drop, notice, PrivacyDecisionKind.SHOWN)


@pytest.mark.django_db
def test_counter_records_notice_and_consent_on_the_customer_page(world_a: TenantWorld) -> None:
    slug = world_a.tenant.slug
    with tenant_context(world_a.tenant):
        ayse = _customer(world_a)
        notice = _publish(world_a, NOTICE, GENERAL, "Aydınlatma metnimiz")
        consent_text = _publish(world_a, EXPLICIT, PROFILING, "Profilleme rızası")
    staff = Client()
    staff.force_login(world_a.users[Role.BRANCH_STAFF])
    url = reverse("kvkk:customer_privacy", kwargs={"tenant_slug": slug, "customer_id": ayse.pk})
    panel = staff.get(url).content.decode()
    assert "Aydınlatma metnimiz" in panel and "Profilleme rızası" in panel
    refused = staff.post(url, {"text": consent_text.pk, "decision": "accepted"}).content.decode()
    assert 'data-testid="privacy-error"' in refused
    staff.post(url, {"text": notice.pk, "decision": "shown", "touchpoint": "branch_visit"})
    staff.post(url, {"text": consent_text.pk, "decision": "accepted", "document_ref": "RZ-7"})
    with tenant_context(world_a.tenant):
        decisions = PrivacyDecision.objects.filter(tenant=world_a.tenant, customer=ayse)
        assert sorted(decisions.values_list("decision", flat=True)) == ["accepted", "shown"]
        assert decisions.get(decision="accepted").recorded_by == world_a.users[Role.BRANCH_STAFF]
    # Marketing may read the panel but not record anything.
    marketing = Client()
    marketing.force_login(world_a.users[Role.MARKETING])
    assert marketing.get(url).status_code == 200
    assert marketing.post(url, {"text": notice.pk, "decision": "shown"}).status_code == 403


@pytest.mark.django_db
def test_privacy_officer_publishes_a_new_version_from_the_current_one(
    world_a: TenantWorld,
) -> None:
    slug = world_a.tenant.slug
    client = Client()
    client.force_login(world_a.owner)
    new_url = reverse("kvkk:text_new", kwargs={"tenant_slug": slug})
    response = client.post(
        new_url,
        {"kind": NOTICE, "purpose": GENERAL, "title": "Aydınlatma", "body": "Birinci sürüm"},
    )
    assert response.status_code == 302
    prefilled = client.get(new_url, {"kind": NOTICE, "purpose": GENERAL}).content.decode()
    assert "Birinci sürüm" in prefilled
    client.post(
        new_url, {"kind": NOTICE, "purpose": GENERAL, "title": "Aydınlatma", "body": "İkinci"}
    )
    listing = client.get(reverse("kvkk:texts", kwargs={"tenant_slug": slug})).content.decode()
    assert "v1" in listing and "v2" in listing
    with tenant_context(world_a.tenant):
        assert list(
            PrivacyText.objects.filter(tenant=world_a.tenant).values_list("version", "body")
        ) == [(2, "İkinci"), (1, "Birinci sürüm")]
    staff = Client()
    staff.force_login(world_a.users[Role.BRANCH_STAFF])
    assert staff.get(new_url).status_code == 403
