from __future__ import annotations

import pytest

from crm.models import Branch, Membership
from crm.tenancy import (
    CrossTenantWrite,
    NoTenantSelected,
    TenantScopedManager,
    dangerously_all_tenants,
    has_tenant_scope,
    no_tenant,
    tenant_context,
)
from tests.conftest import TenantWorld


def test_manager_raises_without_a_tenant(world_a: TenantWorld) -> None:
    with no_tenant(), pytest.raises(NoTenantSelected):
        list(Branch.objects.all())


def test_related_managers_are_scoped_too(world_a: TenantWorld) -> None:
    with no_tenant(), pytest.raises(NoTenantSelected):
        list(world_a.owner.memberships.all())


def test_manager_returns_only_the_current_tenants_rows(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant):
        codes = set(Branch.objects.values_list("code", flat=True))
        assert codes == {world_a.branch.code}
        assert not Branch.objects.filter(pk=world_b.branch.pk).exists()
    with tenant_context(world_b.tenant):
        assert set(Branch.objects.values_list("tenant_id", flat=True)) == {world_b.tenant.pk}


def test_nested_contexts_restore_the_outer_tenant(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant):
        with tenant_context(world_b.tenant):
            assert Branch.objects.get().pk == world_b.branch.pk
        assert Branch.objects.get().pk == world_a.branch.pk
    with no_tenant():
        assert not has_tenant_scope()


def test_saving_another_tenants_object_is_refused(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with tenant_context(world_a.tenant), pytest.raises(CrossTenantWrite):
        world_b.branch.name = "ele geçirildi"
        world_b.branch.save()
    with tenant_context(world_a.tenant), pytest.raises(CrossTenantWrite):
        world_b.branch.delete()


def test_saving_without_a_tenant_is_refused(world_a: TenantWorld) -> None:
    with no_tenant(), pytest.raises(NoTenantSelected):
        Branch(tenant=world_a.tenant, code="X", name="X", province="34").save()


def test_new_objects_take_the_tenant_in_scope(world_a: TenantWorld) -> None:
    with tenant_context(world_a.tenant):
        branch = Branch(code="NEW", name="Yeni", province="06")
        branch.save()
    assert branch.tenant_id == world_a.tenant.pk


def test_dangerously_all_tenants_is_the_explicit_escape(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with dangerously_all_tenants():
        tenants = set(Membership.objects.values_list("tenant_id", flat=True))
    assert tenants == {world_a.tenant.pk, world_b.tenant.pk}


def test_subclasses_cannot_change_the_scoping() -> None:
    with pytest.raises(TypeError, match="may not override"):

        class LeakyManager(TenantScopedManager):
            def get_queryset(self):  # type: ignore[no-untyped-def,unused-ignore]
                return super(TenantScopedManager, self).get_queryset()


def test_querysets_built_outside_a_scope_are_scoped_when_evaluated(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    with no_tenant():
        branches = Branch.objects.filter(is_active=True)  # e.g. a form field's queryset
        count = Branch.objects.all()
        as_subquery = Branch.objects.values("pk")
        with pytest.raises(NoTenantSelected):
            list(branches)
        with pytest.raises(NoTenantSelected):
            count.count()
        with pytest.raises(NoTenantSelected):
            Branch.objects.all().update(name="x")
        with pytest.raises(NoTenantSelected):
            list(Membership.objects.filter(branch__in=as_subquery))
    with tenant_context(world_a.tenant):
        assert [b.pk for b in branches.all()] == [world_a.branch.pk]
        assert count.count() == 1
        assert Branch.objects.filter(pk__in=as_subquery.all()).count() == 1
        assert Branch.objects.all().update(name="Yeni ad") == 1
    with tenant_context(world_b.tenant):
        Branch.objects.get(pk=world_b.branch.pk)
        assert Branch.objects.get(pk=world_b.branch.pk).name != "Yeni ad"


def test_model_forms_with_tenant_foreign_keys_build_without_a_scope(
    world_a: TenantWorld, world_b: TenantWorld
) -> None:
    from django import forms

    with no_tenant():

        class MembershipForm(forms.ModelForm[Membership]):
            class Meta:
                model = Membership
                fields = ["branch"]

    with tenant_context(world_a.tenant):
        field = MembershipForm().fields["branch"]
        assert isinstance(field, forms.ModelChoiceField)
        offered = {branch.pk for branch in field.queryset.all()}  # type: ignore[union-attr]
        assert world_a.branch.pk in offered
        assert world_b.branch.pk not in offered
