"""Run İYS synchronisation for one tenant now, in the foreground.

``python manage.py iys_sync --tenant SLUG [push] [pull] [reconcile] [--json]``

Without operations it pushes and pulls, as the "Sync now" button does. Prints one
line of totals (or JSON). Exits non-zero when İYS refuses the credentials or stays
unavailable, with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.iys import services
from consent.iys.client import IysError
from consent.iys.crypto import CredentialsUnreadable
from crm.models import Tenant


class Command(BaseCommand):
    help = "Push pending consents to İYS, pull changes from it, or reconcile (one tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "operations", nargs="*", help="push, pull and/or reconcile (default: push pull)"
        )
        parser.add_argument("--json", action="store_true", help="print the totals as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist as missing:
            raise CommandError(f"no tenant with slug {options['tenant']!r}") from missing
        operations = options["operations"] or ["push", "pull"]
        unknown = sorted(set(operations) - set(services.OPERATIONS))
        if unknown:
            raise CommandError(
                f"unknown operation(s) {', '.join(unknown)}: use push, pull, reconcile"
            )
        try:
            totals = services.iys_run(tenant=tenant, operations=operations)
        except services.IysSyncBusy as busy:
            raise CommandError("another İYS run for this tenant is in progress") from busy
        except CredentialsUnreadable as error:
            raise CommandError(
                "the stored İYS password cannot be decrypted; enter it again"
            ) from error
        except IysError as error:
            raise CommandError(f"İYS: {error} {error.code}".strip()) from error
        if options["json"]:
            self.stdout.write(json.dumps(totals, sort_keys=True))
        else:
            self.stdout.write(" ".join(f"{key}={value}" for key, value in sorted(totals.items())))
