"""The saved-segment form: name, owner, schedule and the rule (JSON from the builder)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Tenant, User
from segmentation import rules
from segmentation.saved_segments import owner_choices
from segmentation.segment_models import MaterialiseSchedule


def parse_rule(raw: str | None) -> dict[str, Any]:
    """The builder's hidden JSON field; raises RuleError for anything that is not a group."""
    try:
        rule = json.loads(raw or "")
    except ValueError as bad:
        raise rules.RuleError(_("The rule could not be read; rebuild it.")) from bad
    if not isinstance(rule, dict):
        raise rules.RuleError(_("A rule must be a group of conditions."))
    return rule


def _owner_label(obj: Any) -> str:
    return f"{obj.full_name or obj.email} ({obj.email})"


class SavedSegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=User.objects.none(),
        help_text=_("The person who approves campaigns to this segment."),
    )
    schedule = forms.ChoiceField(
        label=_("Materialise"), choices=MaterialiseSchedule.choices, initial="none"
    )
    rule = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        owner_field = self.fields["owner"]
        assert isinstance(owner_field, forms.ModelChoiceField)
        owner_field.queryset = owner_choices(tenant=tenant)
        owner_field.label_from_instance = _owner_label  # type: ignore[method-assign]
        for name, field in self.fields.items():
            if name == "rule":
                continue
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean_rule(self) -> dict[str, Any]:
        try:
            rule = parse_rule(self.cleaned_data.get("rule"))
            rules.validate_rule(tenant=self.tenant, rule=rule)
        except rules.RuleError as bad:
            raise forms.ValidationError(str(bad)) from bad
        if not rule.get("conditions"):
            raise forms.ValidationError(_("Add at least one condition."))
        return rule
