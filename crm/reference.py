"""Reference tenants for benchmarks (DESIGN.md §10).

``make_reference_tenant`` creates a tenant and calls every builder registered here,
in ``order``: the customers app builds customers, purchases and interactions first
(order 10); later apps add their own data in bulk (consents at 50, ...). Builders
must load in bulk (COPY / bulk inserts), never one ORM save per row, and draw
randomness only from ``options.rng`` so a seed gives the same tenant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.models import Tenant


@dataclass
class ReferenceOptions:
    customers: int
    purchases: int
    interactions: int
    seed: int = 1
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (benchmark data, not secrets)


@dataclass
class ReferenceReport:
    tenant: Tenant
    # name -> figure, printed by the command (rows loaded, seconds taken, ...)
    figures: dict[str, float | int | str] = field(default_factory=dict)


ReferenceBuilder = Callable[[Tenant, ReferenceOptions, ReferenceReport], None]
_BUILDERS: list[tuple[int, str, ReferenceBuilder]] = []


def register_reference_builder(
    name: str, *, order: int
) -> Callable[[ReferenceBuilder], ReferenceBuilder]:
    def register(builder: ReferenceBuilder) -> ReferenceBuilder:
        if not any(existing == name for _order, existing, _b in _BUILDERS):
            _BUILDERS.append((order, name, builder))
        return builder

    return register


def reference_builders() -> list[tuple[str, ReferenceBuilder]]:
    return [(name, builder) for _order, name, builder in sorted(_BUILDERS, key=lambda b: b[0])]
