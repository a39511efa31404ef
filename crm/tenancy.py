"""The tenant context: which tenant the current request or task works for.

Fail closed. The tenant lives in a ContextVar that is set for one request or task
and reset in ``finally``. Tenant-owned models' default manager raises
``NoTenantSelected`` when nothing is set, and on PostgreSQL the same scope is
pushed into the session (``app.tenant_id``) so that row-level security filters
every statement, including raw SQL, as a second wall.

Code that really must span tenants says so with ``dangerously_all_tenants()``;
grep for it in review.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, models
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.utils.choices import CallableChoiceIterator
from django.utils.encoding import force_str
from django.utils.translation import get_language

if TYPE_CHECKING:
    from crm.models import Tenant


class NoTenantSelected(RuntimeError):
    """A tenant-owned table was touched outside any tenant scope."""


class CrossTenantWrite(RuntimeError):
    """An object of one tenant was about to be saved while another tenant is in scope."""


@dataclass(frozen=True)
class TenantScope:
    tenant_id: int | None
    all_tenants: bool = False


_scope: ContextVar[TenantScope | None] = ContextVar("tekil_tenant_scope", default=None)


def current_scope() -> TenantScope:
    scope = _scope.get()
    if scope is None:
        raise NoTenantSelected(
            "No tenant is selected. Wrap the code in crm.tenancy.tenant_context(tenant)."
        )
    return scope


def current_tenant_id() -> int:
    scope = current_scope()
    if scope.tenant_id is None:
        raise NoTenantSelected("Inside dangerously_all_tenants() there is no single tenant.")
    return scope.tenant_id


def has_tenant_scope() -> bool:
    return _scope.get() is not None


@contextlib.contextmanager
def _entered(scope: TenantScope | None) -> Iterator[None]:
    token = _scope.set(scope)
    _push_to_database(scope)
    try:
        yield
    finally:
        _scope.reset(token)
        try:
            _push_to_database(_scope.get())
        except DatabaseError:
            # An aborted transaction refuses set_config; a connection that may still
            # carry the inner scope must not be reused.
            connection.close()


def tenant_context(tenant: Tenant | int) -> contextlib.AbstractContextManager[None]:
    """Work as ``tenant`` until the block ends (nesting restores the outer scope)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    if tenant_id is None:
        raise ValueError("tenant_context() needs a saved tenant")
    return _entered(TenantScope(tenant_id=int(tenant_id)))


def dangerously_all_tenants() -> contextlib.AbstractContextManager[None]:
    """Lift tenant filtering for a cross-tenant system job. Every use is a review point."""
    return _entered(TenantScope(tenant_id=None, all_tenants=True))


@contextlib.contextmanager
def scope_for_compiling(tenant_id: int | None) -> Iterator[None]:
    """For crm.precompiled only: querysets built inside are scoped to ``tenant_id``
    (a marker; None for all tenants), and nothing runs or reaches the database."""
    token = _scope.set(TenantScope(tenant_id=tenant_id, all_tenants=tenant_id is None))
    try:
        yield
    finally:
        _scope.reset(token)


def no_tenant() -> contextlib.AbstractContextManager[None]:
    """Explicitly leave any tenant scope (tests use it to prove the walls hold)."""
    return _entered(None)


# --- PostgreSQL session settings read by the row-level-security policies ---------

_checked_role_safety = False


def _push_to_database(scope: TenantScope | None) -> None:
    # A closed connection picks the scope up in _on_connection_created when it opens.
    if connection.vendor != "postgresql" or connection.connection is None:
        return
    _set_session_scope(connection, scope)


def _set_session_scope(conn: Any, scope: TenantScope | None) -> None:
    tenant_value = "" if scope is None or scope.tenant_id is None else str(scope.tenant_id)
    all_value = "on" if scope is not None and scope.all_tenants else "off"
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('app.tenant_id', %s, false),"
            " set_config('app.all_tenants', %s, false)",
            [tenant_value, all_value],
        )


@receiver(connection_created)
def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    _refuse_rls_bypassing_role(connection)
    _set_session_scope(connection, _scope.get())


def _refuse_rls_bypassing_role(conn: Any) -> None:
    """RLS means nothing to a superuser or a BYPASSRLS role; refuse to run as one."""
    global _checked_role_safety
    if _checked_role_safety:
        return
    from django.conf import settings

    with conn.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    if row and row[0] and not settings.TEKIL_ALLOW_SUPERUSER_DB:
        raise ImproperlyConfigured(
            "The database role bypasses row-level security (superuser or BYPASSRLS). "
            "Connect as the app role (see README, 'Database role'), or set "
            "TEKIL_ALLOW_SUPERUSER_DB=1 for maintenance commands only."
        )
    _checked_role_safety = True


# --- The scoped manager and the base model -----------------------------------------


class TenantQuerySet(models.QuerySet[Any]):
    """A queryset that is never evaluated outside a tenant scope.

    Built inside a scope, it is filtered by that tenant at once. Built outside any
    scope (a ModelForm's foreign-key field, a module-level queryset), it is filtered
    by the tenant in scope when it is evaluated, and raises NoTenantSelected if
    there is still none. Every path to SQL passes through _apply_pending_scope.
    """

    _scope_pending = False

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone._scope_pending = self._scope_pending
        return clone

    def _apply_pending_scope(self) -> None:
        if not self._scope_pending:
            return
        scope = current_scope()
        if not scope.all_tenants:
            self.query.add_q(models.Q(tenant_id=scope.tenant_id))
        self._scope_pending = False

    def _fetch_all(self) -> None:
        self._apply_pending_scope()
        super()._fetch_all()

    def _iterator(self, *args: Any, **kwargs: Any) -> Any:
        self._apply_pending_scope()
        return super()._iterator(*args, **kwargs)  # type: ignore[misc]

    def count(self) -> int:
        self._apply_pending_scope()
        return super().count()

    def exists(self) -> bool:
        self._apply_pending_scope()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._apply_pending_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._apply_pending_scope()
        return super().update(**kwargs)

    def _update(self, values: Any) -> Any:
        self._apply_pending_scope()
        return super()._update(values)  # type: ignore[misc]

    def delete(self) -> tuple[int, dict[str, int]]:
        self._apply_pending_scope()
        return super().delete()

    def _raw_delete(self, using: Any) -> int:
        self._apply_pending_scope()
        return super()._raw_delete(using)

    def explain(self, *args: Any, **kwargs: Any) -> str:
        self._apply_pending_scope()
        return super().explain(*args, **kwargs)

    def resolve_expression(self, *args: Any, **kwargs: Any) -> Any:
        # Used as a subquery (pk__in=queryset): scope it like any evaluation.
        self._apply_pending_scope()
        return super().resolve_expression(*args, **kwargs)


class TenantScopedManager(models.Manager[Any]):
    """Filters by the tenant in scope; raises when there is none.

    Subclasses add query helpers but cannot change how the scoping works.
    """

    _scoping_methods: ClassVar[tuple[str, ...]] = ("get_queryset",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Django builds related managers by subclassing the default manager; those
        # call super().get_queryset() and so keep the scoping.
        if cls.__module__.startswith("django."):
            return
        for name in cls._scoping_methods:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} may not override {name}(): scoping is fixed")

    def get_queryset(self) -> models.QuerySet[Any]:
        queryset = TenantQuerySet(self.model, using=self._db)
        scope = _scope.get()
        if scope is None:
            queryset._scope_pending = True
        elif not scope.all_tenants:
            queryset = queryset.filter(tenant_id=scope.tenant_id)
        return queryset


def tenant_key(*, db_index: bool = True, db_constraint: bool = True) -> Any:
    """The ``tenant`` foreign key of a tenant-owned table.

    ``db_index=False`` for a table whose own indexes all begin with ``tenant_id``
    (a second index on it alone costs every insert and serves nothing);
    ``db_constraint=False`` only for rows the database derives from a checked row, or
    whose foreign key to such a row carries the tenant too (customers.models.Phone)."""
    return models.ForeignKey(
        "crm.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=db_index,
        db_constraint=db_constraint,
    )


class TenantOwnedModel(models.Model):
    """Base for every table that belongs to one tenant (RLS is added in its migration)."""

    tenant = tenant_key()

    objects = TenantScopedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        scope = current_scope()
        if self.tenant_id is None and scope.tenant_id is not None:
            self.tenant_id = scope.tenant_id
        if not scope.all_tenants and self.tenant_id != scope.tenant_id:
            raise CrossTenantWrite(
                f"{type(self).__name__} of tenant {self.tenant_id} saved in tenant "
                f"{scope.tenant_id}'s scope"
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        scope = current_scope()
        if not scope.all_tenants and self.tenant_id != scope.tenant_id:
            raise CrossTenantWrite(f"{type(self).__name__} of another tenant deleted")
        return super().delete(*args, **kwargs)

    def _get_FIELD_display(self, field: Any) -> Any:
        # Django builds the field's choices into a dict on every get_FOO_display(),
        # hashing each lazy label (a gettext call each): 5 ms of a customer page's
        # lists. The labels are kept per field and language instead.
        if isinstance(field.choices, CallableChoiceIterator):
            return super()._get_FIELD_display(field)  # type: ignore[misc]
        value = getattr(self, field.attname)
        try:
            return _choice_labels(field, get_language()).get(value, value)
        except TypeError:  # an unhashable value: Django's own way
            return super()._get_FIELD_display(field)  # type: ignore[misc]


@functools.lru_cache(maxsize=4096)
def _choice_labels(field: Any, language: str | None) -> dict[Any, Any]:
    return {value: force_str(label, strings_only=True) for value, label in field.flatchoices}


def tenant_owned_models() -> list[type[TenantOwnedModel]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantOwnedModel)]


def ensure_same_tenant(tenant: Tenant, *objects: Any) -> None:
    """Services call this on every object they are handed: another tenant's is refused."""
    from django.core.exceptions import PermissionDenied

    for obj in objects:
        if obj is not None and getattr(obj, "tenant_id", tenant.pk) != tenant.pk:
            raise PermissionDenied("object of another tenant")
