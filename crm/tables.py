"""Reading the tables people upload (CSV in UTF-8 or Windows-1254, or XLSX).

Shared by every import: branches, customers, and the imports still to come.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

# A row that is a whole document pasted into one cell must not stop the import.
csv.field_size_limit(64 * 1024 * 1024)


class ImportFileError(Exception):
    """The file as a whole cannot be read (the message is for the user)."""


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)


def read_table(data: bytes, filename: str) -> Table:
    """CSV (UTF-8 or Windows-1254; `,` `;` or tab) or XLSX, as text cells with line numbers."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1254", errors="replace")
    # The title row decides the separator: data rows may hold anything (a pasted
    # document, addresses full of commas), titles rarely do.
    title_row = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=title_row.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration as empty:
        raise ImportFileError(_("The file is empty.")) from empty
    except csv.Error as broken:
        raise ImportFileError(
            _("The file could not be read as CSV: %(error)s") % {"error": broken}
        ) from broken
    rows = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
    except csv.Error as broken:
        raise ImportFileError(
            _("Line %(line)s could not be read: %(error)s")
            % {"line": reader.line_num, "error": broken}
        ) from broken
    return Table(headers=headers, rows=rows)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as broken:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(_("The Excel file could not be opened.")) from broken
    sheet = workbook.worksheets[0]
    rows_iter = sheet.iter_rows(values_only=True)
    try:
        headers = ["" if h is None else str(h).strip() for h in next(rows_iter)]
    except StopIteration as empty:
        raise ImportFileError(_("The file is empty.")) from empty
    rows = []
    for index, values in enumerate(rows_iter, start=2):
        rows.append((index, ["" if v is None else _cell_text(v) for v in values]))
    return Table(headers=headers, rows=rows)


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and "e" not in repr(value):
        # A number cell, never thousands-grouped: write its decimal point as a comma so
        # that 12.345 (kg) is not read as the Turkish grouping of twelve thousand.
        return repr(value).replace(".", ",")
    if hasattr(value, "date") and hasattr(value, "isoformat"):
        if not hasattr(value, "hour"):
            return value.isoformat()
        # A till's receipt time matters; a birth date's midnight is just Excel's format.
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def csv_safe_cell(value: Any) -> str:
    """A value for a CSV people will open in a spreadsheet: text that a spreadsheet
    would run as a formula (=, +, -, @, tab, CR first) is prefixed with an apostrophe
    (CSV injection)."""
    text = str(value or "")
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
