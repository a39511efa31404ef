from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and personal data")

    def ready(self) -> None:
        # Register the seed_demo step and the reference-tenant builder.
        from consent import demo, reference  # noqa: F401
