"""Indexes that keep the rule builder's live count near a second at a million customers.

Measured on the reference tenant (1M customers, 10M purchases, 20.5M lines) with
``EXPLAIN (ANALYZE, BUFFERS)``:

* Score ranges (``clv``, ``feature`` recency): no index started from the run and the
  measure, so the count scanned every score row of every run kept (7 GB of heap, the
  ``features`` jsonb makes rows wide) to find a run's 300k matches. Keyed by
  ``(run_id, measure)`` and covering ``customer_id``/``tenant_id`` (the row-level
  security policy reads ``tenant_id``), the match is an index range scan.
* "Bought from category": the lines of the category's products were fetched through
  the ``product_id`` index into a lossy bitmap over the line heap (220k pages), and
  every purchase was read to keep the recent non-returns. The line index covering
  ``purchase_id`` and the partial purchase index on sale time covering ``id`` and
  ``customer_id`` let both sides be read from indexes alone.

The indexes live here, not in ``customers``, because they exist for segment rules.
Created without CONCURRENTLY (migrations run in a transaction); on a live tenant of
this size create them by hand CONCURRENTLY first, the IF NOT EXISTS then skips them.
PostgreSQL only, like customers 0005/0007: SQLite tenants are small.
"""

from __future__ import annotations

from django.db import migrations

from crm.sql import on_postgresql

FORWARD = [
    "CREATE INDEX IF NOT EXISTS seg_score_run_recency ON segmentation_customerscore "
    "(run_id, recency_days) INCLUDE (customer_id, tenant_id)",
    "CREATE INDEX IF NOT EXISTS seg_score_run_clv ON segmentation_customerscore "
    "(run_id, clv) INCLUDE (customer_id, tenant_id)",
    "CREATE INDEX IF NOT EXISTS purchaseline_product_cover ON customers_purchaseline "
    "(product_id) INCLUDE (purchase_id, tenant_id)",
    "CREATE INDEX IF NOT EXISTS purchase_sale_time_cover ON customers_purchase "
    "(tenant_id, purchased_at) INCLUDE (id, customer_id) WHERE NOT is_return",
]
BACKWARD = [
    "DROP INDEX IF EXISTS purchase_sale_time_cover",
    "DROP INDEX IF EXISTS purchaseline_product_cover",
    "DROP INDEX IF EXISTS seg_score_run_clv",
    "DROP INDEX IF EXISTS seg_score_run_recency",
]


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_search_covering_indexes"),
        ("segmentation", "0004_derived_rows_without_fk_triggers"),
    ]

    operations = [migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD))]
