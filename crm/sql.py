"""Helpers for hand-written PostgreSQL in migrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sql_statements(sql: str) -> list[str]:
    """``sql`` split into single statements without their ";", for one
    ``schema_editor.execute`` each (which adds its own ";" when ``sqlmigrate``
    collects them). A function body ends with "END $$;" and holds ";" inside."""
    statements, current = [], ""
    for line in sql.strip().splitlines():
        current += line + "\n"
        inside_function = current.count("$$") % 2 == 1
        if line.rstrip().endswith(";") and not inside_function:
            statements.append(current.strip().rstrip(";"))
            current = ""
    if current.strip():
        statements.append(current.strip().rstrip(";"))
    return statements


def on_postgresql(statements: list[str]) -> Callable[[Any, Any], None]:
    """A ``RunPython`` function that executes ``statements`` one by one on
    PostgreSQL and does nothing elsewhere (SQLite tenants are small)."""

    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run
