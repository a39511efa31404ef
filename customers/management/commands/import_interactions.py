from __future__ import annotations

from customers.management.commands._activity_import import ActivityImportCommand


class Command(ActivityImportCommand):
    help = (
        "Import interactions (calls, visits, meetings) from a CSV/XLSX file, matched to "
        "customers, through the same path as the upload screen: "
        "--map 'Tarih=occurred_at,GSM=phone,Konu=subject,...'"
    )
    kind = "interactions"
