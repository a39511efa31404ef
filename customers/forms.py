from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm.models import Branch, Tenant
from customers.models import Channel, Complaint, Customer, Interaction, RiskFlag, Touchpoint

STAFF_TOUCHPOINTS = [
    (value, label)
    for value, label in Touchpoint.choices
    if value not in (Touchpoint.IMPORT, Touchpoint.API, Touchpoint.COMPLAINT)
]


class _TenantBranchMixin:
    fields: dict[str, forms.Field]

    def _limit_branches(self, tenant: Tenant, field_name: str) -> None:
        field = self.fields[field_name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Branch.objects.filter(tenant=tenant, is_active=True)


class CustomerForm(_TenantBranchMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=Customer.Kind.choices,
        widget=forms.RadioSelect,
        initial=Customer.Kind.PERSON,
    )
    first_name = forms.CharField(label=_("First name(s)"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    trade_name = forms.CharField(label=_("Trade name"), max_length=250, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        help_text=_("Any format: 0532 123 45 67, +90 532 …"),
    )
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    tckn = forms.CharField(label=_("T.C. identity number"), max_length=11, required=False)
    tax_id = forms.CharField(label=_("Tax number (VKN or TCKN)"), max_length=11, required=False)
    tax_office = forms.CharField(label=_("Tax office"), max_length=100, required=False)
    birth_date = forms.CharField(
        label=_("Birth date"), max_length=20, required=False, help_text=_("e.g. 23.04.1985")
    )
    gender = forms.ChoiceField(
        label=_("Gender"), required=False, choices=[("", "—"), *Customer.Gender.choices]
    )
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"), required=False, choices=[("", "—"), *Channel.choices]
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=settings.LANGUAGES, initial="tr"
    )
    home_branch: forms.ModelChoiceField[Branch] = forms.ModelChoiceField(
        label=_("Home branch"), queryset=None, required=False
    )
    confirm_not_duplicate = forms.BooleanField(
        label=_("I checked: this is not one of the existing customers shown above"),
        required=False,
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit_branches(tenant, "home_branch")


class InteractionForm(_TenantBranchMixin, forms.ModelForm[Interaction]):
    touchpoint = forms.ChoiceField(label=_("Touchpoint"), choices=STAFF_TOUCHPOINTS)

    class Meta:
        model = Interaction
        fields = [
            "touchpoint",
            "subject",
            "notes",
            "outcome",
            "branch",
            "follow_up_on",
            "next_step",
        ]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "follow_up_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit_branches(tenant, "branch")


class ComplaintForm(_TenantBranchMixin, forms.ModelForm[Complaint]):
    class Meta:
        model = Complaint
        fields = ["subject", "description", "branch", "due_on"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "due_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit_branches(tenant, "branch")
        self.fields["due_on"].required = False
        self.fields["due_on"].help_text = _("Empty: in three days.")


class ComplaintStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Complaint.Status.choices)
    resolution = forms.CharField(
        label=_("Resolution"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RiskFlagForm(forms.ModelForm[RiskFlag]):
    class Meta:
        model = RiskFlag
        fields = ["kind", "note"]
