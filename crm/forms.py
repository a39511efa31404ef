from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Branch, Membership, PersonalDataAccess, Tenant, User
from crm.permissions import API_SCOPE_LABELS, Role, assignable_roles

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class TenantSettingsForm(forms.ModelForm[Tenant]):
    class Meta:
        model = Tenant
        fields = ["name", "legal_name", "vkn", "tax_office", "iys_code", "iys_brand_code"]


class BranchForm(forms.ModelForm[Branch]):
    class Meta:
        model = Branch
        fields = ["code", "name", "province", "district", "address", "is_active"]


class BranchImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: code, name, province, district, address. "
            "UTF-8 or Windows-1254, separated by ; or ,"
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload


class _RoleBranchForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    branch: forms.ModelChoiceField[Branch] = forms.ModelChoiceField(
        label=_("Branch"), queryset=None, required=False
    )

    def __init__(self, *args: Any, tenant: Tenant, actor_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [(r.value, r.label) for r in assignable_roles(actor_role)]
        self.fields["branch"].queryset = Branch.objects.filter(tenant=tenant, is_active=True)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("role") == Role.BRANCH_STAFF and not data.get("branch"):
            self.add_error("branch", _("Branch staff need a branch."))
        return data


class InvitationForm(_RoleBranchForm):
    email = forms.EmailField(label=_("E-mail address"))
    field_order = ["email", "role", "branch"]


class MembershipForm(_RoleBranchForm):
    is_active = forms.BooleanField(label=_("Active"), required=False)

    @classmethod
    def for_membership(cls, membership: Membership, **kwargs: Any) -> MembershipForm:
        return cls(
            initial={
                "role": membership.role,
                "branch": membership.branch,
                "is_active": membership.is_active,
            },
            **kwargs,
        )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Which system will use the key, e.g. “Shop POS” or “Web shop”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("What the key may do"),
        choices=list(API_SCOPE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    expires_at = forms.DateField(
        label=_("Valid until"),
        required=False,
        help_text=_("Leave empty for a key that stays valid until you revoke it."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_at(self) -> datetime | None:
        day: date | None = self.cleaned_data.get("expires_at")
        if day is None:
            return None
        # Valid through the whole chosen day, in the company's time zone.
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


class AccessLogFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Who"), queryset=User.objects.none(), required=False, empty_label=_("Anyone")
    )
    customer_number = forms.CharField(label=_("Customer number"), required=False)
    action = forms.ChoiceField(
        label=_("What"),
        required=False,
        choices=[("", _("Anything")), *PersonalDataAccess.Action.choices],
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__tenant=tenant
        ).order_by("email")
