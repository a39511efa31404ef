from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.tr import vkn as stdnum_vkn


def validate_vkn(value: str) -> None:
    """A Turkish tax number: 10 digits with the Revenue Administration's check digit."""
    if value and not stdnum_vkn.is_valid(value):
        raise ValidationError(
            _("%(value)s is not a valid tax number (VKN): check the 10 digits."),
            params={"value": value},
            code="invalid_vkn",
        )
