from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class IysCredentialsForm(forms.Form):
    """The İYS API user. The password field is never filled in from what is stored."""

    iys_code = forms.CharField(label=_("İYS code"), max_length=20)
    brand_codes = forms.CharField(
        label=_("Brand codes"),
        max_length=400,
        help_text=_("One or more İYS brand codes, separated by commas; the first is the default."),
    )
    username = forms.CharField(label=_("API user name"), max_length=200)
    password = forms.CharField(
        label=_("API password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the stored one."),
    )
    is_active = forms.BooleanField(label=_("Synchronise with İYS"), required=False, initial=True)

    def clean_brand_codes(self) -> list[str]:
        raw: str = self.cleaned_data["brand_codes"]
        return [code.strip() for code in raw.replace(";", ",").split(",") if code.strip()]

    def initial_from(self, account: Any, tenant: Any) -> None:
        if account is not None:
            self.initial.update(
                iys_code=account.iys_code,
                username=account.username,
                is_active=account.is_active,
                brand_codes=", ".join(b.brand_code for b in account.brands.all()),
            )
        else:
            self.initial.update(
                iys_code=getattr(tenant, "iys_code", ""),
                brand_codes=getattr(tenant, "iys_brand_code", ""),
            )
