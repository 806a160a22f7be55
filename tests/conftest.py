"""Suite-wide scheduling: the tests marked ``slow`` (minutes of real rate limits) are collected first,
so that with several workers (pytest-xdist) one of them starts on them at once and the others share
everything else; the whole suite then lasts about as long as the slowest test."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept otherwise
