"""Check the lifetime-value models on a transaction file.

``python manage.py clv_eval FILE --customer-col C --date-col D --amount-col A
--calibration-end YYYY-MM-DD [--observation-end YYYY-MM-DD] [--date-format F]
[--sep S] [--no-header] [--columns N1,N2,…] [--json]``

Fits BG/NBD and Gamma-Gamma (segmentation.clv) on the purchases up to and
including the calibration end and compares, for the period after it (to the
observation end, by default the last date in the file), the predicted number of
repeat purchases with the actual number: in total and as the per-customer mean
absolute error. Purchases on the same day count as one; time is in weeks.

The file is CSV with a header by default. Other layouts: ``--sep`` sets the
separator (``--sep whitespace`` for columns separated by spaces), ``--no-header``
says the first line is data, and ``--columns`` names the columns (otherwise
they are called 1, 2, 3, …). The CDNOW sample that ships with ``lifetimes`` is
read with::

    manage.py clv_eval CDNOW_sample.txt --sep whitespace --no-header \\
        --columns customer,sample_id,date,cds,amount --customer-col customer \\
        --date-col date --date-format %Y%m%d --amount-col amount \\
        --calibration-end 1997-09-30 --observation-end 1998-06-30

``--json`` prints one object: ``bgnbd`` {r, alpha, a, b, ll}, ``gamma_gamma``
{p, q, v}, ``holdout`` {predicted, actual, mae} and ``seconds`` (summary, fits and
predictions; reading the file not included).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from segmentation import clv


def _parse_day(value: str, option: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("%(option)s must be a date written YYYY-MM-DD, not %(value)r.")
            % {"option": option, "value": value}
        ) from None


def read_transactions(
    path: Path,
    *,
    sep: str,
    header: bool,
    columns: list[str] | None,
    customer_col: str,
    date_col: str,
    amount_col: str,
    date_format: str | None,
) -> pd.DataFrame:
    """The file as (customer, date, amount) with parsed dates and amounts, or a
    CommandError that says what is wrong and where."""
    if not path.is_file():
        raise CommandError(_("There is no file %(path)s.") % {"path": path})
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False}
    options["sep"] = r"\s+" if sep == "whitespace" else sep
    if not header:
        options["header"] = None
    try:
        frame = pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(
            _("The file could not be read as a table: %(error)s") % {"error": error}
        ) from error
    if columns:
        if len(columns) != frame.shape[1]:
            raise CommandError(
                _("--columns names %(named)d columns but the file has %(found)d.")
                % {"named": len(columns), "found": frame.shape[1]}
            )
        frame.columns = pd.Index(columns)
    elif not header:
        frame.columns = pd.Index([str(n) for n in range(1, frame.shape[1] + 1)])
    missing = [c for c in (customer_col, date_col, amount_col) if c not in frame.columns]
    if missing:
        raise CommandError(
            _("The file has no column %(missing)s. Its columns are: %(columns)s.")
            % {
                "missing": ", ".join(repr(c) for c in missing),
                "columns": ", ".join(map(str, frame.columns)),
            }
        )
    if frame.empty:
        raise CommandError(_("The file has no transactions."))

    raw_dates = frame[date_col].str.strip()
    if date_format:
        dates = pd.to_datetime(raw_dates, format=date_format, errors="coerce")
    else:
        dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    _refuse_bad(dates.isna(), raw_dates, header, _("date"), date_format or "YYYY-MM-DD")
    raw_amounts = frame[amount_col].str.strip()
    amounts = pd.to_numeric(raw_amounts, errors="coerce")
    _refuse_bad(amounts.isna(), raw_amounts, header, _("amount"), "1234.56")
    customers = frame[customer_col].str.strip()
    _refuse_bad(customers.eq(""), customers, header, _("customer"), "")
    return pd.DataFrame({"customer": customers, "date": dates, "amount": amounts})


def _refuse_bad(bad: pd.Series, raw: pd.Series, header: bool, what: str, expected: str) -> None:
    if not bad.any():
        return
    position = int(bad.to_numpy().nonzero()[0][0])
    line = position + (2 if header else 1)
    message = _("Line %(line)d: %(value)r is not a valid %(what)s (%(count)d such rows).") % {
        "line": line,
        "value": raw.iloc[position],
        "what": what,
        "count": int(bad.sum()),
    }
    if expected:
        message += " " + _("Expected e.g. %(expected)s; see --date-format and --sep.") % {
            "expected": expected
        }
    raise CommandError(message)


class Command(BaseCommand):
    help = (
        "Fit BG/NBD and Gamma-Gamma on the transactions up to --calibration-end and compare "
        "predicted with actual repeat purchases after it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--customer-col", required=True)
        parser.add_argument("--date-col", required=True)
        parser.add_argument("--amount-col", required=True)
        parser.add_argument("--calibration-end", required=True, help="YYYY-MM-DD, inclusive.")
        parser.add_argument(
            "--observation-end", help="YYYY-MM-DD, inclusive; default: the last date in the file."
        )
        parser.add_argument("--date-format", help="strftime format of the dates, e.g. %%Y%%m%%d.")
        parser.add_argument("--sep", default=",", help="Separator; 'whitespace' for spaces.")
        parser.add_argument("--no-header", action="store_true", help="The first line is data.")
        parser.add_argument("--columns", help="Comma-separated column names for the file.")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        calibration_end = _parse_day(options["calibration_end"], "--calibration-end")
        columns = [c.strip() for c in options["columns"].split(",")] if options["columns"] else None
        tx = read_transactions(
            Path(file),
            sep=options["sep"],
            header=not options["no_header"],
            columns=columns,
            customer_col=options["customer_col"],
            date_col=options["date_col"],
            amount_col=options["amount_col"],
            date_format=options["date_format"],
        )
        if options["observation_end"]:
            observation_end = _parse_day(options["observation_end"], "--observation-end")
        else:
            observation_end = tx["date"].max().date()
        if observation_end <= calibration_end:
            raise CommandError(
                _(
                    "There is nothing to compare with: the observation end %(end)s is not after "
                    "the calibration end %(cal)s."
                )
                % {"end": observation_end, "cal": calibration_end}
            )
        if tx["date"].min().date() > calibration_end:
            raise CommandError(
                _("No transactions on or before the calibration end %(cal)s.")
                % {"cal": calibration_end}
            )

        started = time.perf_counter()
        summary = clv.summary_with_holdout(
            tx,
            customer_col="customer",
            date_col="date",
            amount_col="amount",
            calibration_end=calibration_end,
            observation_end=observation_end,
        )
        try:
            result = clv.evaluate_holdout(summary)
        except clv.NotEnoughData as reason:
            raise CommandError(reason.message) from reason
        seconds = time.perf_counter() - started

        report = {
            "bgnbd": {
                "r": result.bgnbd.r,
                "alpha": result.bgnbd.alpha,
                "a": result.bgnbd.a,
                "b": result.bgnbd.b,
                "ll": result.bgnbd.ll,
            },
            "gamma_gamma": {
                "p": result.gamma_gamma.p,
                "q": result.gamma_gamma.q,
                "v": result.gamma_gamma.v,
            },
            "holdout": {"predicted": result.predicted, "actual": result.actual, "mae": result.mae},
            "seconds": round(seconds, 3),
        }
        if options["as_json"]:
            self.stdout.write(json.dumps(report))
            return
        fit, gg = result.bgnbd, result.gamma_gamma
        sampled = (
            f" (fitted on a sample of {fit.n_fitted})" if fit.n_fitted < fit.n_customers else ""
        )
        self.stdout.write(
            f"customers {result.customers}, repeat buyers {gg.n_customers}{sampled}; "
            f"calibration to {calibration_end}, holdout to {observation_end} "
            f"({result.holdout_length:.2f} weeks)"
        )
        self.stdout.write(
            f"BG/NBD       r = {fit.r:.4f}  alpha = {fit.alpha:.4f}  a = {fit.a:.4f}  "
            f"b = {fit.b:.4f}  LL = {fit.ll:.2f}"
        )
        self.stdout.write(
            f"Gamma-Gamma  p = {gg.p:.4f}  q = {gg.q:.4f}  v = {gg.v:.4f}  LL = {gg.ll:.2f}"
        )
        self.stdout.write(
            f"holdout      predicted {result.predicted:.1f} repeat purchases, actual "
            f"{result.actual}, per-customer MAE {result.mae:.4f}"
        )
        self.stdout.write(f"seconds      {seconds:.3f}")
