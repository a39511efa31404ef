"""The name-word prefix index also carries the customer.

Name search reads the customers of each typed word's prefix and joins them by hashing
when every word is common ("fatm yi": 52,000 and 149,000 words at a million
customers). With the customer in the index those come from the index alone, not from
a heap visit per word. Replaces ``name_word_prefix_idx`` of migration 0005; PostgreSQL only, like
it. On a live tenant of a million customers create the new index by hand
CONCURRENTLY first; IF NOT EXISTS then skips it.
"""

from __future__ import annotations

from django.db import migrations

from crm.sql import on_postgresql

FORWARD = [
    "CREATE INDEX IF NOT EXISTS name_word_prefix_cover ON customers_customernameword "
    "(tenant_id, word varchar_pattern_ops) INCLUDE (customer_id)",
    "DROP INDEX IF EXISTS name_word_prefix_idx",
]
BACKWARD = [
    "CREATE INDEX IF NOT EXISTS name_word_prefix_idx ON customers_customernameword "
    "(tenant_id, word varchar_pattern_ops)",
    "DROP INDEX IF EXISTS name_word_prefix_cover",
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_purchase_line_sale_copies")]

    operations = [migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD))]
