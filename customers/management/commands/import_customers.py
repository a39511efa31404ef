from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import tables
from crm.models import Tenant
from crm.tenancy import tenant_context
from customers import imports


class Command(BaseCommand):
    help = (
        "Import customers from a CSV/XLSX file through the same path as the upload "
        "screen: --map 'Ad Soyad=full_name,GSM=phone,...'"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="The company's slug.")
        parser.add_argument(
            "--map",
            dest="mapping",
            default="",
            help="SRC=FIELD pairs; empty: the saved or guessed mapping. "
            f"Fields: {', '.join(imports.IMPORT_FIELDS)}",
        )
        parser.add_argument("--errors", help="Where to write the problem report (CSV).")

    def handle(
        self, *args: Any, file: str, tenant: str, mapping: str, errors: str | None, **options: Any
    ) -> None:
        try:
            company = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist as missing:
            raise CommandError(f"No company with slug {tenant!r}") from missing
        path = Path(file)
        if not path.exists():
            raise CommandError(f"No file {file}")
        started = time.monotonic()
        with tenant_context(company):
            try:
                table = tables.read_table(path.read_bytes(), path.name)
                chosen = (
                    imports.parse_mapping(mapping)
                    if mapping
                    else imports.mapping_for(tenant=company, headers=table.headers)
                )
                if not chosen:
                    raise CommandError("No mapping given and none could be guessed; use --map")
                result = imports.customers_import(
                    tenant=company, actor=None, table=table, mapping=chosen
                )
            except imports.ImportFileError as error:
                raise CommandError(str(error)) from error
        seconds = time.monotonic() - started
        report = Path(errors) if errors else path.with_suffix(path.suffix + ".problems.csv")
        if result.problems:
            report.write_bytes(result.error_report_csv())
        summary = {
            **result.as_dict(),
            "seconds": round(seconds, 2),
            "rows_per_second": round(result.rows / seconds, 1) if seconds else None,
            "problem_report": str(report) if result.problems else None,
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
