"""Forms for recording consent at the counter and opting out on the public page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentSource, ConsentStatus, ConsentType, RecipientType, TacirPolicy
from crm.models import Branch, Tenant
from customers.models import Touchpoint


class ConsentRecordForm(forms.Form):
    """What a paper or web consent form records: who, which channel, where, on what."""

    recipient = forms.ChoiceField(label=_("Phone or e-mail"))
    consent_type = forms.ChoiceField(label=_("Channel"), choices=ConsentType.choices)
    status = forms.ChoiceField(
        label=_("Decision"), choices=ConsentStatus.choices, widget=forms.RadioSelect
    )
    recipient_type = forms.ChoiceField(
        label=_("Recipient type"), choices=RecipientType.choices, initial=RecipientType.BIREYSEL
    )
    source = forms.ChoiceField(label=_("Where was it given?"), choices=ConsentSource.choices)
    consent_date = forms.DateTimeField(
        label=_("When was it given?"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    branch = forms.ModelChoiceField(
        label=_("Branch"), queryset=Branch.objects.none(), required=False
    )
    touchpoint = forms.ChoiceField(
        label=_("Touchpoint"), choices=[("", "—"), *Touchpoint.choices], required=False
    )
    document_ref = forms.CharField(
        label=_("Form or document number"), max_length=200, required=False
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(
        self, *args: Any, tenant: Tenant, recipients: dict[str, list[str]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault(
            "consent_date", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        values = list(dict.fromkeys(recipients[ConsentType.MESAJ] + recipients[ConsentType.EPOSTA]))
        recipient_field = self.fields["recipient"]
        assert isinstance(recipient_field, forms.ChoiceField)
        recipient_field.choices = [(value, value) for value in values]
        branch_field = self.fields["branch"]
        assert isinstance(branch_field, forms.ModelChoiceField)
        branch_field.queryset = Branch.objects.filter(tenant=tenant, is_active=True)


class OptOutForm(forms.Form):
    """The public page: tick the channels to stop."""

    consent_types = forms.MultipleChoiceField(
        label=_("Stop these messages"),
        choices=ConsentType.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, allowed_types: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"consent_types": allowed_types})
        super().__init__(*args, **kwargs)
        field = self.fields["consent_types"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(t, label) for t, label in ConsentType.choices if t in allowed_types]


class ConsentSettingsForm(forms.Form):
    tacir_policy = forms.ChoiceField(
        label=_("Business recipients (TACIR) without a consent record"),
        choices=TacirPolicy.choices,
        widget=forms.RadioSelect,
    )
    profiling_needs_explicit_consent = forms.BooleanField(
        label=_("Profiling needs explicit consent (açık rıza)"),
        required=False,
        help_text=_(
            "Leave customers out of behaviour segments and personal offers until they "
            "have given explicit consent for profiling on their customer page."
        ),
    )
