"""Celery discovers tasks in <app>.tasks: the İYS tasks live in consent/iys/tasks.py,
the KVKK ones in consent/kvkk/tasks.py."""

from consent.iys.tasks import (  # noqa: F401
    iys_pull_all,
    iys_pull_task,
    iys_push_all,
    iys_push_task,
    iys_reconcile_all,
    iys_reconcile_task,
    iys_sync_job_task,
)
from consent.kvkk.tasks import (  # noqa: F401
    dsr_reminders_all,
    dsr_reminders_task,
    retention_destroy_all,
    retention_destroy_task,
)
