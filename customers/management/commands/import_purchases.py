from __future__ import annotations

from customers.management.commands._activity_import import ActivityImportCommand


class Command(ActivityImportCommand):
    help = (
        "Import purchases (receipts) from a CSV/XLSX file, matched to customers, through "
        "the same path as the upload screen: --map 'Fiş No=receipt_number,GSM=phone,...'"
    )
    kind = "purchases"
