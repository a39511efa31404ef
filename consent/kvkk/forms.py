from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consent.kvkk.models import IdentityCheck, RequestKind, RequestStatus
from crm.models import Tenant
from customers.models import Customer


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
