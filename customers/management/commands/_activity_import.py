"""What import_customers, import_purchases and import_interactions share (not a command
itself: Django skips modules whose name starts with an underscore)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm import tables
from crm.models import Tenant
from crm.tenancy import tenant_context
from customers import activity_imports


class ActivityImportCommand(BaseCommand):
    """The file, ``--tenant``, ``--map`` and ``--errors``; prints a JSON summary. The kind
    of file is named by ``kind`` (a key of activity_imports.IMPORT_KINDS)."""

    kind = ""

    def add_arguments(self, parser: CommandParser) -> None:
        kind = activity_imports.IMPORT_KINDS[self.kind]
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="The company's slug.")
        parser.add_argument(
            "--map",
            dest="mapping",
            default="",
            help="SRC=FIELD pairs; empty: the saved or guessed mapping. "
            f"Fields: {', '.join(kind.fields)}",
        )
        parser.add_argument("--errors", help="Where to write the problem report (CSV).")

    def handle(
        self, *args: Any, file: str, tenant: str, mapping: str, errors: str | None, **options: Any
    ) -> None:
        kind = activity_imports.IMPORT_KINDS[self.kind]
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
                    activity_imports.parse_mapping(kind, mapping)
                    if mapping
                    else activity_imports.mapping_for(
                        tenant=company, kind=kind, headers=table.headers
                    )
                )
                if not chosen:
                    raise CommandError("No mapping given and none could be guessed; use --map")
                problem = kind.mapping_problem(set(chosen.values()))
                if problem:
                    raise CommandError(problem)
                result = kind.run(tenant=company, actor=None, table=table, mapping=chosen)
            except tables.ImportFileError as error:
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
