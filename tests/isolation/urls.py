"""Discover every tenant URL and API route, and fill in its arguments.

A URL belongs to a tenant when it has a ``tenant_slug`` argument. Object arguments
must be named ``<model_name>_id`` after a tenant-owned model (``branch_id``,
``job_id``, ...) so the harness can put another tenant's ids in them; a URL that
breaks the convention fails the harness instead of being silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from crm.tenancy import TenantOwnedModel, tenant_owned_models


@dataclass(frozen=True)
class TenantRoute:
    route: str
    name: str
    callback: Callable[..., Any]
    object_kwargs: tuple[str, ...]

    def path(self, **kwargs: Any) -> str:
        path = "/" + self.route
        for key, value in kwargs.items():
            for converter in ("int", "str", "slug", "uuid", "path"):
                path = path.replace(f"<{converter}:{key}>", str(value))
            path = path.replace(f"<{key}>", str(value))
        if "<" in path:
            raise AssertionError(f"unfilled argument in {path}")
        return path

    def __str__(self) -> str:
        return f"/{self.route} ({self.name})"


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[TenantRoute]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            child_ns = namespace
            if entry.namespace:
                child_ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), child_ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if "tenant_slug" not in route:
                continue
            arguments = [part.split(">")[0].split(":")[-1] for part in route.split("<")[1:]]
            name = f"{namespace}:{entry.name}" if namespace and entry.name else str(entry.name)
            yield TenantRoute(
                route=route,
                name=name,
                callback=entry.callback,
                object_kwargs=tuple(arg for arg in arguments if arg != "tenant_slug"),
            )


def tenant_routes() -> list[TenantRoute]:
    return list(_walk(get_resolver().url_patterns))


def model_for_kwarg(kwarg: str) -> type[TenantOwnedModel]:
    if not kwarg.endswith("_id"):
        raise AssertionError(
            f"URL argument '{kwarg}' does not follow the <model>_id convention; "
            "tests/isolation cannot attack it"
        )
    model_name = kwarg.removesuffix("_id")
    for model in tenant_owned_models():
        if model._meta.model_name == model_name:
            return model
    raise AssertionError(f"URL argument '{kwarg}' names no tenant-owned model")
