"""get_FOO_display on tenant-owned models: the label in the active language, kept per
field and language rather than rebuilt on every call."""

from __future__ import annotations

from django.utils import translation

from customers.models import Interaction, Touchpoint


def test_choice_labels_follow_the_active_language() -> None:
    interaction = Interaction(touchpoint=Touchpoint.CALL_IN)
    with translation.override("tr"):
        turkish = interaction.get_touchpoint_display()
    with translation.override("en"):
        assert interaction.get_touchpoint_display() == "Incoming call"
    with translation.override("tr"):
        assert interaction.get_touchpoint_display() == turkish
    assert turkish != "Incoming call"
    assert isinstance(turkish, str)


def test_a_value_outside_the_choices_is_shown_as_it_is() -> None:
    with translation.override("en"):
        assert Interaction(touchpoint="carrier_pigeon").get_touchpoint_display() == (
            "carrier_pigeon"
        )
