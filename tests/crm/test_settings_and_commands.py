from __future__ import annotations

import os
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from crm.demo import DEMO_BRANCHES, DEMO_USERS
from crm.models import Branch, Membership, Tenant, User
from crm.tenancy import tenant_context
from customers.models import Customer, Phone, Purchase
from tests.conftest import TenantWorld

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_passes_with_production_variables() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "crm.example.com",
        "TEKIL_HTTPS": "1",
    }
    env.pop("TEKIL_ALLOW_SUPERUSER_DB", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the Playwright tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_malformed_setting_fails_loudly() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings", "CONN_MAX_AGE": "lots"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "lots" in result.stderr


def test_locale_defaults() -> None:
    assert settings.LANGUAGE_CODE == "tr"
    assert settings.TIME_ZONE == "Europe/Istanbul"
    assert {code for code, _name in settings.LANGUAGES} == {"tr", "en"}


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_complete() -> None:
    out = StringIO()
    call_command("seed_demo", "--seed", "7", "--customers", "40", stdout=out)
    second = StringIO()
    call_command("seed_demo", "--seed", "7", "--customers", "40", stdout=second)
    assert "44 customers (already there)" in second.getvalue()
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.name == "Demo Mağazacılık"
    with tenant_context(tenant):
        assert Branch.objects.count() == 12 == len(DEMO_BRANCHES)
        assert Branch.objects.values("province").distinct().count() >= 8
        roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == {role for _e, _n, role, _b in DEMO_USERS}
    assert User.objects.filter(email__endswith="@demo.tekil.local").count() == len(DEMO_USERS)
    printed = out.getvalue()
    for email, *_rest in DEMO_USERS:
        assert email in printed
    assert User.objects.get(email="owner@demo.tekil.local").check_password("Tekil-Demo-2026")


@pytest.mark.django_db
def test_seed_demo_customers_are_deterministic_for_a_seed() -> None:
    def names() -> list[tuple[str, str]]:
        tenant = Tenant.objects.get(slug="demo")
        with tenant_context(tenant):
            return list(
                Customer.objects.order_by("customer_number").values_list("name_key", "tckn")
            )

    call_command("seed_demo", "--seed", "3", "--customers", "30", stdout=StringIO())
    first = names()
    call_command("seed_demo", "--seed", "4", "--customers", "20", stdout=StringIO())
    assert len(names()) == 22
    call_command("seed_demo", "--seed", "3", "--customers", "30", stdout=StringIO())
    assert [key for key, _ in names()] == [key for key, _ in first]
    with tenant_context(Tenant.objects.get(slug="demo")):
        assert Purchase.objects.exists() and Phone.objects.exists()
        duplicates = Customer.objects.count() - 30
    assert duplicates == 3


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_plans_a_repeated_statement_once(world_a: TenantWorld) -> None:
    """Server-side binding: the sixth run of a query uses a prepared statement."""
    with tenant_context(world_a.tenant):
        for _ in range(6):
            list(Customer.objects.filter(tenant=world_a.tenant, pk=123456789))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "customers_customer"%'],
        )
        (prepared,) = cursor.fetchone()
    assert prepared >= 1
