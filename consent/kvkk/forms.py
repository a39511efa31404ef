from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consent.kvkk.models import (
    DataKind,
    IdentityCheck,
    PrivacyDecisionKind,
    PrivacyText,
    PrivacyTextKind,
    ProcessingPurpose,
    RequestKind,
    RequestStatus,
)
from crm.models import Branch, Tenant
from customers.models import Customer, Touchpoint


class RequestForm(forms.Form):
    customer_number = forms.CharField(
        label=_("Customer number"),
        required=False,
        help_text=_("Leave empty if the person is not (yet) found among the customers."),
    )
    requester_name = forms.CharField(label=_("Requester"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Request"), choices=RequestKind.choices)
    channel = forms.CharField(
        label=_("Received via"), max_length=100, required=False,
        help_text=_("E.g. registered mail, KEP, in person at a branch, the web form."),
    )  # fmt: skip
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    details = forms.CharField(label=_("What is asked"), widget=forms.Textarea, required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_customer_number(self) -> Customer | None:
        number = self.cleaned_data["customer_number"].strip()
        if not number:
            return None
        customer = Customer.objects.filter(
            tenant=self.tenant, customer_number=number, merged_into__isnull=True
        ).first()
        if customer is None:
            raise forms.ValidationError(_("No customer with this number."))
        return customer


class IdentityForm(forms.Form):
    identity_method = forms.ChoiceField(
        label=_("Identity checked by"), choices=IdentityCheck.choices
    )


class CloseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (RequestStatus.COMPLETED, _("Completed")),
            (RequestStatus.REJECTED, _("Rejected")),
        ],
    )
    resolution = forms.CharField(label=_("Answer given"), widget=forms.Textarea)


class ErasureForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type the customer number to confirm"),
        help_text=_(
            "Erasure cannot be undone: names, identity numbers and contact details are destroyed."
        ),
    )


class PrivacyTextForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=PrivacyTextKind.choices)
    purpose = forms.ChoiceField(label=_("Processing purpose"), choices=ProcessingPurpose.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_(
            "Published versions cannot be edited: what people saw stays readable as "
            "they saw it. Changing the text publishes a new version."
        ),
    )


class PrivacyDecisionForm(forms.Form):
    """The counter's proof for a notice shown or an explicit-consent decision."""

    text = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=PrivacyDecisionKind.choices, widget=forms.HiddenInput)
    touchpoint = forms.ChoiceField(
        label=_("Where"), choices=[("", "—"), *Touchpoint.choices], required=False
    )
    branch = forms.ModelChoiceField(
        label=_("Branch"), queryset=Branch.objects.none(), required=False
    )
    document_ref = forms.CharField(
        label=_("Signed form or document number"), max_length=100, required=False
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        branch_field = self.fields["branch"]
        assert isinstance(branch_field, forms.ModelChoiceField)
        branch_field.queryset = Branch.objects.filter(tenant=tenant, is_active=True)

    def clean_text(self) -> PrivacyText:
        text = PrivacyText.objects.filter(tenant=self.tenant, pk=self.cleaned_data["text"]).first()
        if text is None:
            raise forms.ValidationError(_("No such text."))
        return text


class RetentionForm(forms.Form):
    """One number of months per kind of data, never under the legal minimum."""

    def __init__(self, *args: Any, months: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from consent.kvkk.retention import POLICIES

        for kind, policy in POLICIES.items():
            self.fields[kind] = forms.IntegerField(
                label=DataKind(kind).label,
                min_value=policy.minimum_months,
                max_value=600,
                initial=months[kind],
                help_text=str(policy.basis),
            )
            self.fields[kind].widget.attrs["data-minimum"] = policy.minimum_months
