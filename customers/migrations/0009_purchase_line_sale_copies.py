"""Purchase lines carry their receipt's customer, time and return flag.

"Bought from this category in this period" joined the category's lines with the
period's purchases: at 10M purchases and 20.5M lines the segment builder's live count
took 4–5 s whatever the period, hashing every purchase. With the three copies on the
line, the count is one range of the covering index ``purchaseline_sold_cover`` per
product. The index of segmentation 0005 on ``product_id`` covering ``purchase_id``
existed only for that join and goes.

The copies are filled from the receipts in one UPDATE … FROM (PostgreSQL) or one
correlated row-value UPDATE (SQLite). On a tenant of the reference size (20.5M lines) the
UPDATE rewrites every line: run it in a quiet hour, and VACUUM the table afterwards.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

from crm.sql import on_postgresql

FILL_POSTGRESQL = [
    "SELECT set_config('app.all_tenants', 'on', true)",
    """
    UPDATE customers_purchaseline AS line
       SET customer_id = receipt.customer_id,
           purchased_at = receipt.purchased_at,
           is_return = receipt.is_return
      FROM customers_purchase AS receipt
     WHERE receipt.id = line.purchase_id
    """,
    "SELECT set_config('app.all_tenants', 'off', true)",
]
FILL_SQLITE = """
UPDATE customers_purchaseline
   SET (customer_id, purchased_at, is_return) = (
       SELECT customer_id, purchased_at, is_return FROM customers_purchase p
        WHERE p.id = purchase_id)
"""


def fill_copies(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        on_postgresql(FILL_POSTGRESQL)(apps, schema_editor)
    else:
        schema_editor.execute(FILL_SQLITE)


OLD_INDEX = [
    "DROP INDEX IF EXISTS purchaseline_product_cover",
]
OLD_INDEX_BACK = [
    "CREATE INDEX IF NOT EXISTS purchaseline_product_cover ON customers_purchaseline "
    "(product_id) INCLUDE (purchase_id, tenant_id)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_address_line_or_province"),
        ("segmentation", "0006_partition_run_tables"),
    ]

    operations = [
        migrations.AddField(
            model_name="purchaseline",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="customers.customer",
            ),
        ),
        migrations.AddField(
            model_name="purchaseline",
            name="purchased_at",
            field=models.DateTimeField(null=True, verbose_name="time"),
        ),
        migrations.AddField(
            model_name="purchaseline",
            name="is_return",
            field=models.BooleanField(default=False, verbose_name="return"),
        ),
        migrations.RunPython(fill_copies, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="purchaseline",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="purchaseline",
            name="purchased_at",
            field=models.DateTimeField(verbose_name="time"),
        ),
        migrations.AddIndex(
            model_name="purchaseline",
            index=models.Index(
                condition=models.Q(("is_return", False)),
                fields=["product", "purchased_at"],
                include=("customer", "tenant"),
                name="purchaseline_sold_cover",
            ),
        ),
        migrations.RunPython(on_postgresql(OLD_INDEX), on_postgresql(OLD_INDEX_BACK)),
    ]
