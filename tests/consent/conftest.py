"""Fixtures for the consent tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.consent.fake_iys import FakeIys, start_fake_iys


@pytest.fixture
def fake_iys() -> Iterator[FakeIys]:
    """A fake İYS on 127.0.0.1 (random port), stopped after the test."""
    server = start_fake_iys()
    yield server
    server.stop()
