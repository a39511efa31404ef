from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from consent import services
from consent.models import ConsentType
from crm.models import Tenant
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = (
        "May the tenant send this type of commercial message to these recipients now? "
        "Prints 'RECIPIENT allowed|denied REASON' per recipient."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("recipients", nargs="+", metavar="RECIPIENT")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--type", required=True, choices=ConsentType.values, dest="kind")
        parser.add_argument("--language", default="en", help="Language of the reasons.")

    def handle(
        self, *args: Any, recipients: list[str], tenant: str, kind: str, **options: Any
    ) -> None:
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant with slug {tenant!r}")
        with tenant_context(found), translation.override(options["language"]):
            for recipient in recipients:
                decision = services.may_send(tenant=found, channel_type=kind, recipient=recipient)
                verdict = "allowed" if decision.allowed else "denied"
                self.stdout.write(
                    f"{recipient} {verdict} {decision.reason}: {decision.reason_text}"
                )
