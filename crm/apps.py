from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Tenancy core")

    def ready(self) -> None:
        from crm import (  # noqa: F401
            lookups,  # registers field__any_of
            tenancy,  # connects the connection_created handler
        )
