"""Phones, e-mails and addresses: one foreign key checks the customer and its tenant.

Each row had two foreign keys checked on every insert, its tenant and its customer.
Now one composite key (tenant_id, customer_id) → customers_customer (tenant_id, id)
does both: the customer must exist in the row's own tenant, which nothing checked
before, and whose tenant the customer's own foreign key checks. An import of 20,000
rows runs one check fewer for each of its ~30,000 contact points. Django cannot
declare a composite foreign key, so the fields lose theirs (db_constraint=False) and
this migration adds it, with the unique index it needs, on PostgreSQL. SQLite (the
embedded demo) keeps no check on these fields.

On a live tenant of a million customers create the index by hand CONCURRENTLY first
(IF NOT EXISTS then skips it); adding the keys reads the three tables once.
"""

import django.db.models.deletion
from django.db import migrations, models

from crm.sql import on_postgresql

CONTACT_POINTS = [
    ("customers_phone", "phone_customer_in_tenant_fk"),
    ("customers_email", "email_customer_in_tenant_fk"),
    ("customers_address", "address_customer_in_tenant_fk"),
]
FORWARD = [
    "CREATE UNIQUE INDEX IF NOT EXISTS customer_tenant_and_id "
    "ON customers_customer (tenant_id, id)",
    *(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (tenant_id, customer_id)"
        " REFERENCES customers_customer (tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        for table, name in CONTACT_POINTS
    ),
]
BACKWARD = [
    *(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}" for table, name in CONTACT_POINTS),
    "DROP INDEX IF EXISTS customer_tenant_and_id",
]


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_rls_policy_once_per_statement"),
        ("customers", "0011_lean_contact_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="address",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="addresses",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="address",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="crm.tenant",
            ),
        ),
        migrations.AlterField(
            model_name="email",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="emails",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="email",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="crm.tenant",
            ),
        ),
        migrations.AlterField(
            model_name="phone",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="phones",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="phone",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="crm.tenant",
            ),
        ),
        migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD)),
    ]
