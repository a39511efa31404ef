from __future__ import annotations

from customers.management.commands._activity_import import ActivityImportCommand


class Command(ActivityImportCommand):
    help = (
        "Import customers from a CSV/XLSX file through the same path as the upload "
        "screen: --map 'Ad Soyad=full_name,GSM=phone,...'"
    )
    kind = "customers"
