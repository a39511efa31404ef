"""Reference-tenant builder (order 50): consents for the tenant's phones and e-mails.

Loaded with INSERT ... SELECT straight from the contact-point tables, so a million
customers take seconds. The mix is decided by a hash of (recipient, channel,
seed), hence the same seed gives the same tenant: per channel about 55 % ONAY,
15 % ONAY then RET, 30 % nothing; 5 % of the latest events still pending sync.
PostgreSQL only (reference tenants are for benchmarks).
"""

from __future__ import annotations

import time

from django.db import connection

from crm.models import Tenant
from crm.reference import ReferenceOptions, ReferenceReport, register_reference_builder

CHANNELS = (
    ("MESAJ", "customers_phone", "e164", "phone_id"),
    ("ARAMA", "customers_phone", "e164", "phone_id"),
    ("EPOSTA", "customers_email", "address", "email_id"),
)
SOURCES = "ARRAY['HS_FIZIKSEL_ORTAM','HS_WEB','HS_ISLAK_IMZA','HS_CAGRI_MERKEZI','HS_MOBIL']"

# One row per (recipient, channel): the first owner's point, bucketed by hash.
_PICK = """
    SELECT DISTINCT ON (p.{value}) p.id AS point_id, p.customer_id, p.{value} AS recipient,
           abs(hashtext(p.{value} || ':{channel}:' || %(seed)s::text)) %% 100 AS bucket
    FROM {table} p
    JOIN customers_customer c ON c.id = p.customer_id AND c.merged_into_id IS NULL
    WHERE p.tenant_id = %(tenant)s
    ORDER BY p.{value}, p.id
"""

_EVENTS = """
INSERT INTO consent_consentevent (
    tenant_id, recipient, type, recipient_type, status, source, consent_date, brand_code,
    customer_id, {point_fk}, origin, touchpoint, document_ref, user_agent, note,
    sync_status, iys_request_id, iys_transaction_id, iys_error_code, iys_error_message,
    sync_attempts, synced_at, created_at
)
SELECT %(tenant)s, pick.recipient, '{channel}', 'BIREYSEL', ev.status,
       ({sources})[1 + pick.bucket %% 5], ev.at, %(brand)s, pick.customer_id, pick.point_id,
       'import', '', '', '', '',
       CASE WHEN ev.latest AND pick.bucket %% 20 = 0 THEN 'pending' ELSE 'accepted' END,
       '', '', '', '', 0,
       CASE WHEN ev.latest AND pick.bucket %% 20 = 0 THEN NULL ELSE ev.at END,
       ev.at
FROM ({pick}) pick
CROSS JOIN LATERAL (
    SELECT 'ONAY' AS status, now() - ((400 + pick.bucket) || ' days')::interval AS at,
           pick.bucket < 55 AS latest
    UNION ALL
    SELECT 'RET', now() - ((pick.bucket - 50) || ' days')::interval, true
    WHERE pick.bucket >= 55
) ev
WHERE pick.bucket < 70
"""

_STATES = """
INSERT INTO consent_consentstate (
    tenant_id, recipient, type, recipient_type, status, source, consent_date, event_id,
    updated_at
)
SELECT DISTINCT ON (recipient, type, recipient_type)
       tenant_id, recipient, type, recipient_type, status, source, consent_date, id, now()
FROM consent_consentevent
WHERE tenant_id = %(tenant)s
ORDER BY recipient, type, recipient_type, consent_date DESC, id DESC
"""


def load_reference_consents(tenant: Tenant, seed: int) -> dict[str, int | float]:
    """Replace the tenant's consents with the reference mix; returns rows and seconds."""
    if connection.vendor != "postgresql":
        raise RuntimeError("Reference consents are loaded with PostgreSQL SQL only.")
    started = time.perf_counter()
    params: dict[str, int | str] = {
        "tenant": tenant.pk,
        "seed": seed,
        "brand": tenant.iys_brand_code,
    }
    events = 0
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentstate WHERE tenant_id = %s", [tenant.pk])
        cursor.execute("DELETE FROM consent_consentevent WHERE tenant_id = %s", [tenant.pk])
        for channel, table, value, point_fk in CHANNELS:
            pick = _PICK.format(value=value, channel=channel, table=table)
            cursor.execute(
                _EVENTS.format(channel=channel, point_fk=point_fk, sources=SOURCES, pick=pick),
                params,
            )
            events += cursor.rowcount
        cursor.execute(_STATES, params)
        states = cursor.rowcount
        cursor.execute("ANALYZE consent_consentevent")
        cursor.execute("ANALYZE consent_consentstate")
    return {
        "consent_events": events,
        "consent_states": states,
        "consent_seconds": round(time.perf_counter() - started, 2),
    }


@register_reference_builder("consent", order=50)
def build_reference_consents(
    tenant: Tenant, options: ReferenceOptions, report: ReferenceReport
) -> None:
    report.figures.update(load_reference_consents(tenant, options.seed))
