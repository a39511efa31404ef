"""The feature SQL's local day, hour and weekday (plain arithmetic over the zone's
transitions) against PostgreSQL's own ``AT TIME ZONE``, including the years when
Istanbul still changed its clocks twice a year."""

from __future__ import annotations

import datetime
import itertools
import random

import pytest
from django.conf import settings
from django.db import connection

from segmentation import features

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _instants() -> list[datetime.datetime]:
    rng = random.Random(7)
    start = datetime.datetime(1970, 1, 1, tzinfo=UTC)
    span = int((datetime.datetime(2027, 1, 1, tzinfo=UTC) - start).total_seconds())
    moments = [start + datetime.timedelta(seconds=rng.randrange(span)) for _ in range(3000)]
    # Either side of clock changes: 2015-03-29 01:00 UTC (spring, a day late that
    # year), 2015-11-08 01:00 UTC (autumn), 2016-03-27 01:00 UTC (the last change).
    for change in (
        datetime.datetime(2015, 3, 29, 1, 0, tzinfo=UTC),
        datetime.datetime(2015, 11, 8, 1, 0, tzinfo=UTC),
        datetime.datetime(2016, 3, 27, 1, 0, tzinfo=UTC),
        datetime.datetime(1978, 4, 2, 0, 0, tzinfo=UTC),
    ):
        moments += [change + datetime.timedelta(seconds=s) for s in (-3601, -1, 0, 1, 3599)]
    return moments


def test_local_day_hour_and_weekday_match_at_time_zone() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the feature SQL is PostgreSQL's; SQLite runs segmentation.portable")
    until = datetime.datetime(2027, 1, 1, tzinfo=UTC)
    seconds = features.local_seconds("t.at", until)
    moments = _instants()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.at,
                   {features.local_day(seconds)}, (t.at AT TIME ZONE %s)::date - DATE '1970-01-01',
                   {features.local_hour(seconds)}, EXTRACT(HOUR FROM t.at AT TIME ZONE %s)::int,
                   {features.local_isodow(seconds)},
                   EXTRACT(ISODOW FROM t.at AT TIME ZONE %s)::int
              FROM unnest(%s::timestamptz[]) AS t(at)
            """,  # noqa: S608
            [settings.TIME_ZONE] * 3 + [moments],
        )
        rows = cursor.fetchall()
    assert len(rows) == len(moments)
    wrong = [row for row in rows if row[1] != row[2] or row[3] != row[4] or row[5] != row[6]]
    assert wrong == []


def test_offsets_follow_the_zone() -> None:
    periods = features._utc_offsets(datetime.datetime(2027, 1, 1, tzinfo=UTC))
    assert periods[0][0] == datetime.datetime(1970, 1, 1, tzinfo=UTC)
    # Istanbul went to summer time on 2016-03-27 and never came back: +03:00 since.
    assert periods[-1] == (datetime.datetime(2016, 3, 27, 1, 0, tzinfo=UTC), 3 * 3600)
    # Every period starts where the zone's offset really changes.
    for (start, seconds), (next_start, next_seconds) in itertools.pairwise(periods):
        assert seconds != next_seconds
        assert start < next_start
