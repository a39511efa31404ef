from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Invitation, Membership, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.conftest import TenantWorld


def _owner_client(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


def _invite(client: Client, world: TenantWorld, email: str, role: Role, **extra: object) -> Any:
    return client.post(
        reverse("crm:members", kwargs={"tenant_slug": world.tenant.slug}),
        {"email": email, "role": role.value, **extra},
    )


def _link_from_last_mail() -> str:
    match = re.search(r"https?://\S+/invitations/\S+/", str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(0)


@pytest.mark.django_db(transaction=True)
def test_owner_invites_a_new_person_who_signs_up_and_joins(world_a: TenantWorld) -> None:
    response = _invite(_owner_client(world_a), world_a, "Yeni.Kisi@Example.com", Role.MARKETING)
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["yeni.kisi@example.com"]
    link = _link_from_last_mail()

    visitor = Client()
    response = visitor.get(link)
    assert response.status_code == 302 and response["Location"].endswith("/accounts/signup/")
    response = visitor.post(
        "/accounts/signup/",
        {
            "email": "yeni.kisi@example.com",
            "password1": "Uzun-parola-2026",
            "password2": "Uzun-parola-2026",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = visitor.post(link)
    assert response.status_code == 302
    assert response["Location"] == f"/t/{world_a.tenant.slug}/"
    user = User.objects.get(email="yeni.kisi@example.com")
    with tenant_context(world_a.tenant):
        assert Membership.objects.get(user=user).role == Role.MARKETING
        assert Invitation.objects.get(email="yeni.kisi@example.com").accepted_at is not None
    # The link works once.
    assert visitor.get(link).status_code == 404


@pytest.mark.django_db
def test_signup_is_closed_without_an_invitation() -> None:
    response = Client().get("/accounts/signup/")
    assert b"closed" in response.content.lower() or b"kapal" in response.content.lower()


@pytest.mark.django_db(transaction=True)
def test_an_invitation_only_works_for_its_own_address(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    _invite(_owner_client(world_a), world_a, "davetli@example.com", Role.CALL_CENTRE)
    link = _link_from_last_mail()
    someone_else = Client()
    someone_else.force_login(world_b.owner)
    response = someone_else.post(link, follow=True)
    assert "davetli@example.com" in response.content.decode()
    with tenant_context(world_a.tenant):
        assert not Membership.objects.filter(user=world_b.owner).exists()


@pytest.mark.django_db(transaction=True)
def test_expired_and_withdrawn_invitations_are_refused(world_a: TenantWorld) -> None:
    client = _owner_client(world_a)
    _invite(client, world_a, "gec@example.com", Role.MARKETING)
    link = _link_from_last_mail()
    with tenant_context(world_a.tenant):
        Invitation.objects.filter(email="gec@example.com").update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert Client().get(link).status_code == 404

    _invite(client, world_a, "geri@example.com", Role.MARKETING)
    link = _link_from_last_mail()
    with tenant_context(world_a.tenant):
        invitation = Invitation.objects.get(email="geri@example.com", revoked_at__isnull=True)
    client.post(
        reverse(
            "crm:invitation_revoke",
            kwargs={"tenant_slug": world_a.tenant.slug, "invitation_id": invitation.pk},
        )
    )
    assert Client().get(link).status_code == 404


@pytest.mark.django_db
def test_admins_cannot_create_owners_and_branch_staff_need_a_branch(
    world_a: TenantWorld,
) -> None:
    admin = Client()
    admin.force_login(world_a.users[Role.ADMIN])
    response = _invite(admin, world_a, "patron@example.com", Role.OWNER)
    assert response.status_code == 200  # form shown again with the error
    response = _invite(_owner_client(world_a), world_a, "sube@example.com", Role.BRANCH_STAFF)
    assert response.status_code == 200
    assert not mail.outbox


@pytest.mark.django_db
def test_the_last_owner_cannot_be_demoted(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        owner_membership = Membership.objects.get(user=world_a.owner)
    response = _owner_client(world_a).post(
        reverse(
            "crm:member_edit",
            kwargs={"tenant_slug": world_a.tenant.slug, "membership_id": owner_membership.pk},
        ),
        {"role": Role.MARKETING.value, "is_active": "on"},
    )
    assert response.status_code == 200
    with tenant_context(world_a.tenant):
        owner_membership.refresh_from_db()
        assert owner_membership.role == Role.OWNER


@pytest.mark.django_db
def test_deactivated_members_lose_access(world_a: TenantWorld) -> None:
    marketing = world_a.users[Role.MARKETING]
    with tenant_context(world_a.tenant):
        membership = Membership.objects.get(user=marketing)
    _owner_client(world_a).post(
        reverse(
            "crm:member_edit",
            kwargs={"tenant_slug": world_a.tenant.slug, "membership_id": membership.pk},
        ),
        {"role": Role.MARKETING.value},
    )
    client = Client()
    client.force_login(marketing)
    assert client.get(f"/t/{world_a.tenant.slug}/").status_code == 404
