"""The tenant policy reads its settings once per statement, not once per row.

See ``crm.rls.POLICY_CONDITION``. Every tenant_isolation policy is altered in place,
the segmentation run partitions' copies included; nothing about who sees what
changes.
"""

from __future__ import annotations

from django.db import migrations

from crm.rls import POLICY_CONDITION, POLICY_CONDITION_PER_ROW, set_policy_condition


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_alter_job_status"),
        ("customers", "0010_name_word_prefix_cover"),
        ("segmentation", "0006_partition_run_tables"),
        ("consent", "0005_reach"),
    ]

    operations = [
        migrations.RunPython(
            set_policy_condition(POLICY_CONDITION),
            set_policy_condition(POLICY_CONDITION_PER_ROW),
        )
    ]
