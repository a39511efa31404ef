from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from crm.models import Branch, Tenant
from customers.models import Channel, Complaint, Customer, Interaction, RiskFlag, Touchpoint

if TYPE_CHECKING:
    from customers.activity_imports import ImportKind

STAFF_TOUCHPOINTS = [
    (value, label)
    for value, label in Touchpoint.choices
    if value not in (Touchpoint.IMPORT, Touchpoint.API, Touchpoint.COMPLAINT)
]


class _BranchListIterator(ModelChoiceIterator):
    """Choices from a list of branches already loaded (``field.branch_list``), so that
    several forms on one page share one query."""

    def _branches(self) -> list[Branch]:
        return getattr(self.field, "branch_list", [])

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for branch in self._branches():
            yield self.choice(branch)

    def __len__(self) -> int:
        return len(self._branches()) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self._branches())


class _TenantBranchMixin:
    fields: dict[str, forms.Field]

    def _limit_branches(
        self, tenant: Tenant, field_name: str, branches: list[Branch] | None = None
    ) -> None:
        field = self.fields[field_name]
        assert isinstance(field, forms.ModelChoiceField)
        # Validation still goes through the queryset (the tenant's active branches).
        field.queryset = Branch.objects.filter(tenant=tenant, is_active=True)
        if branches is not None:
            field.branch_list = branches  # type: ignore[attr-defined]
            field.iterator = _BranchListIterator
            field.widget.choices = field.choices


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

    def __init__(
        self, *args: Any, tenant: Tenant, branches: list[Branch] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._limit_branches(tenant, "branch", branches)


class ComplaintForm(_TenantBranchMixin, forms.ModelForm[Complaint]):
    class Meta:
        model = Complaint
        fields = ["subject", "description", "branch", "due_on"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "due_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(
        self, *args: Any, tenant: Tenant, branches: list[Branch] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._limit_branches(tenant, "branch", branches)
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


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("The file holds"),
        choices=[],
        initial="customers",
        widget=forms.RadioSelect,
        # Without a choice the file holds customers, as before there was a choice.
        required=False,
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or Windows-1254; separated by , ; or tab) or Excel (.xlsx), "
            "first row = column titles, at most 50 MB."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from customers.activity_imports import IMPORT_KINDS

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.key, k.label) for k in IMPORT_KINDS.values()]  # type: ignore[attr-defined]

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or "customers"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 50 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 50 MB."))
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        return upload


class ImportMappingForm(forms.Form):
    """One choice per column of the file: which field of this kind of file it holds (or
    none)."""

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        initial_mapping: dict[str, str],
        kind: ImportKind | None = None,
        **kwargs: Any,
    ) -> None:
        from customers.activity_imports import IMPORT_KINDS

        super().__init__(*args, **kwargs)
        self.headers = headers
        self.kind = kind or IMPORT_KINDS["customers"]
        choices = [("", _("— do not import —")), *self.kind.fields.items()]
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header or _("(untitled column %(n)s)") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=initial_mapping.get(header, ""),
            )

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[f"col_{index}"]
            for index, header in enumerate(self.headers)
            if self.cleaned_data.get(f"col_{index}")
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen: list[str] = [
            str(data[f"col_{i}"]) for i in range(len(self.headers)) if data.get(f"col_{i}")
        ]
        repeated = sorted({c for c in chosen if chosen.count(c) > 1})
        if repeated:
            raise forms.ValidationError(
                _("Each field can come from one column only: %(fields)s")
                % {"fields": ", ".join(str(self.kind.fields[c]) for c in repeated)}
            )
        problem = self.kind.mapping_problem(set(chosen))
        if problem:
            raise forms.ValidationError(problem)
        return data
