"""Helpers for hand-written PostgreSQL in migrations."""

from __future__ import annotations


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
