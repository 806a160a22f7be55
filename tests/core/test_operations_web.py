"""/healthz and /metrics, scraped over real HTTP on 127.0.0.1 after a small scenario."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.core.config import Web
from bot.operations import heartbeat, web
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


class Polling:
    """Stands for a platform adapter that polls: what the heartbeat reads of it."""

    platform = "fake"

    def __init__(self, last_contact: datetime) -> None:
        self.last_contact = last_contact


async def _client(hood: Neighbours, metrics: bool = True) -> TestClient:
    hood.core.config = replace(hood.core.config, web=Web(enabled=True, metrics=metrics))
    client = TestClient(TestServer(web.application(hood.core), host="127.0.0.1"))
    await client.start_server()
    return client


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_show_what_happened(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("bob")
    await hood.say("alice", "/nimportequoi")
    client = await _client(hood)
    try:
        answer = await client.get("/metrics")
        assert answer.status == 200
        samples = _samples(await answer.text())
    finally:
        await client.close()
    handled = samples[("voisinage_events_handled_total", ())]
    assert handled == 11, samples  # two onboardings of 5 steps and a mistyped command, each an event
    assert samples[("voisinage_updates_received_total", ())] >= handled
    assert samples[("voisinage_sends_total", (("outcome", "delivered"), ("platform", "fake")))] >= 11
    assert samples[("voisinage_handling_errors_total", ())] == 0
    assert samples[("voisinage_checkins_open", ())] == 0
    assert ("voisinage_checkins_asked_total", ()) in samples


async def test_metrics_are_off_unless_asked_for(hood: Neighbours) -> None:
    client = await _client(hood, metrics=False)
    try:
        assert (await client.get("/metrics")).status == 404
    finally:
        await client.close()


async def test_healthz_fails_without_a_process_then_passes_then_names_a_silent_platform(hood: Neighbours) -> None:
    client = await _client(hood)
    try:
        answer = await client.get("/healthz")
        assert answer.status == 503 and "no running process" in (await answer.json())["problems"][0]
        await hood.core.scheduler.tick()
        await heartbeat.beat(hood.core, [Polling(datetime.now(UTC))])  # type: ignore[list-item]
        answer = await client.get("/healthz")
        assert answer.status == 200 and (await answer.json()) == {"ok": True, "problems": []}
        await heartbeat.beat(hood.core, [Polling(datetime.now(UTC) - timedelta(minutes=30))])  # type: ignore[list-item]
        answer = await client.get("/healthz")
        assert answer.status == 503 and (await answer.json())["problems"] == ["fake: no poll or sync for 30 min"]
    finally:
        await client.close()
