"""factory_boy factories. Tenant-owned objects are created inside their tenant's scope.

FACTORIES maps every tenant-owned model to its factory: the isolation harness uses
it to make tenant B's objects for whatever URL names them. A new tenant-owned model
needs an entry here (tests/isolation fails until it has one).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from crm.models import Branch, Invitation, Job, Membership, Tenant, User
from crm.permissions import Role
from crm.tenancy import tenant_context

factory.Faker._DEFAULT_LOCALE = "tr_TR"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"firma-{n}")
    name = factory.Faker("company")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"kisi{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("test-parola-123")


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    tenant = factory.SubFactory(TenantFactory)

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        with tenant_context(kwargs["tenant"]):
            return super()._create(model_class, *args, **kwargs)


class BranchFactory(TenantOwnedFactory):
    class Meta:
        model = Branch

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Faker("city")
    province = "34"
    district = "Kadıköy"


class MembershipFactory(TenantOwnedFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.BRANCH_STAFF
    branch = factory.SubFactory(BranchFactory, tenant=factory.SelfAttribute("..tenant"))


class InvitationFactory(TenantOwnedFactory):
    class Meta:
        model = Invitation

    email = factory.Sequence(lambda n: f"davet{n}@example.com")
    role = Role.MARKETING
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class JobFactory(TenantOwnedFactory):
    class Meta:
        model = Job

    kind = "test"
    title = "Test job"
    output_name = "out.csv"
    output_content_type = "text/csv"
    output_data = b"a;b\n"


FACTORIES: dict[type, type[TenantOwnedFactory]] = {
    Branch: BranchFactory,
    Membership: MembershipFactory,
    Invitation: InvitationFactory,
    Job: JobFactory,
}
