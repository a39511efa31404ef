"""Shared fixtures: two tenants, each with one member per role, plus an outsider."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from crm.models import Branch, Tenant, User
from crm.permissions import ROLES_REQUIRING_TWO_FACTOR, Role
from tests.factories import BranchFactory, MembershipFactory, TenantFactory, UserFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row-level security, bulk SQL): set DATABASE_URL"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Login throttling counts live in the cache; tests must not inherit each other's.
    cache.clear()
    yield


def give_totp(user: User) -> str:
    """Activate a TOTP authenticator for ``user``; returns the secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@dataclass
class TenantWorld:
    tenant: Tenant
    branch: Branch
    users: dict[Role, User] = field(default_factory=dict)
    totp_secrets: dict[Role, str] = field(default_factory=dict)

    @property
    def owner(self) -> User:
        return self.users[Role.OWNER]


def make_world(slug: str, name: str, *, with_totp: bool = True) -> TenantWorld:
    tenant: Tenant = TenantFactory.create(slug=slug, name=name)
    branch: Branch = BranchFactory.create(tenant=tenant, code=f"{slug[:3].upper()}-01")
    world = TenantWorld(tenant=tenant, branch=branch)
    for role in Role:
        user: User = UserFactory.create(email=f"{role.value}@{slug}.example.com")
        MembershipFactory(
            tenant=tenant,
            user=user,
            role=role,
            branch=branch if role == Role.BRANCH_STAFF else None,
        )
        world.users[role] = user
        if with_totp and role in ROLES_REQUIRING_TWO_FACTOR:
            world.totp_secrets[role] = give_totp(user)
    return world


@pytest.fixture
def world_a(db: None) -> TenantWorld:
    return make_world("alfa", "Alfa Ticaret")


@pytest.fixture
def world_b(db: None) -> TenantWorld:
    return make_world("beta", "Beta Gıda")


@pytest.fixture
def outsider(db: None) -> User:
    user: User = UserFactory.create(email="outsider@example.com")
    return user


@pytest.fixture
def celery_worker_thread(transactional_db: None) -> Iterator[None]:
    """A real Celery worker (same broker as the app) running in a thread for the test."""
    from celery.contrib.testing.worker import start_worker

    from crm.celery import app

    if settings.REDIS_URL:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(  # type: ignore[attr-defined]
                settings.CELERY_TASK_DEFAULT_QUEUE
            )
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
    ):
        yield


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
