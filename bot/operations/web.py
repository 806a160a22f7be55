"""The bot's HTTP server for whoever runs it: ``/healthz`` and Prometheus ``/metrics``; and the public
pages features register on ``core.hooks.web_routes`` (the agenda of each neighbourhood and its feed).

/healthz answers 200 while every polling platform answered within ``[web] stale_minutes`` and the
scheduler keeps looking for due passes, 503 with the reasons otherwise (a load balancer or a
monitoring probe needs nothing more). /metrics (``[web] metrics = true``) is rendered by the
established client library, prometheus-client: counters of this process (updates received, events
handled, handling errors, sends and rate limits per platform) and figures read from the database at
each scrape (inbox and outbox depth and age, check-ins). Nothing personal is ever in either.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.operations import status as status_report

if TYPE_CHECKING:
    from bot.core.app import Core

log = logging.getLogger(__name__)

PREFIX = "voisinage"
# Counters of the running process: (counter name in Core.counters, metric name, help, label names).
PROCESS_COUNTERS = (
    ("updates_received", "updates_received", "Platform updates stored in the inbox", ()),
    ("events_handled", "events_handled", "Inbox events handled", ()),
    ("handling_errors", "handling_errors", "Inbox events whose handling failed", ()),
    ("sends", "sends", "Outbox deliveries attempted, by platform and outcome", ("platform", "outcome")),
    ("rate_limited", "rate_limited", "Deliveries the platform refused for its rate limit (429)", ("platform",)),
)


class Snapshot(Collector):
    """One scrape's figures: the process's counters and a status read from the database just before."""

    def __init__(self, core: Core, status: status_report.Status) -> None:
        self.core, self.status = core, status

    def collect(self) -> Iterator[Metric]:
        for key, name, text, labels in PROCESS_COUNTERS:
            family = CounterMetricFamily(f"{PREFIX}_{name}", text, labels=list(labels))
            values = self.core.counters.named(key)
            for found, value in values or ([({}, 0)] if not labels else []):
                family.add_metric([found[label] for label in labels], value)
            yield family
        yield from self._queues()
        yield from self._checkins()

    def _queues(self) -> Iterator[Metric]:
        s = self.status
        inbox = GaugeMetricFamily(f"{PREFIX}_inbox_events", "Inbox events not handled yet",
                                  labels=["platform", "status"])
        for (platform, state), n in sorted(s.inbox.items()):
            inbox.add_metric([platform, state], n)
        yield inbox
        depth = GaugeMetricFamily(f"{PREFIX}_outbox_items",
                                  "Outbox items not sent, by platform, kind, delivery class and status",
                                  labels=["platform", "kind", "class", "status"])
        for (platform, kind, cls, state), n in sorted(s.outbox.items()):
            depth.add_metric([platform, kind, cls, state], n)
        yield depth
        age = GaugeMetricFamily(f"{PREFIX}_outbox_oldest_age_seconds", "Age of the oldest waiting outbox item",
                                labels=["platform", "kind", "class"])
        for (platform, kind, cls), oldest in sorted(s.outbox_oldest.items()):
            age.add_metric([platform, kind, cls], max(0.0, (s.now - oldest).total_seconds()))
        yield age
        contact = GaugeMetricFamily(f"{PREFIX}_platform_last_contact_age_seconds",
                                    "Seconds since the platform last answered a poll or sync", labels=["platform"])
        for platform, seen in sorted(s.contacts.items()):
            contact.add_metric([platform], max(0.0, (s.now - seen).total_seconds()))
        yield contact
        waiting = GaugeMetricFamily(f"{PREFIX}_circles_waiting_for_room",
                                    "Circles whose members wait for a room (a Telegram group)", labels=["platform"])
        for platform, circles in sorted(s.waiting_rooms.items()):
            waiting.add_metric([platform], circles)
        yield waiting

    def _checkins(self) -> Iterator[Metric]:
        c = self.status.checkins
        for name, text in (("asked", "Check-ins asked"), ("answered", "Check-ins answered"),
                           ("escalated", "Check-ins escalated to someone who can drop by")):
            # Read from the stored check-ins: /forget and retention can lower it (read as a reset).
            yield CounterMetricFamily(f"{PREFIX}_checkins_{name}", text, value=c[name])
        yield GaugeMetricFamily(f"{PREFIX}_checkins_open", "Check-ins waiting for an answer", value=c["open"])
        yield GaugeMetricFamily(f"{PREFIX}_checkins_escalated_open", "Escalated check-ins still open",
                                value=c["escalated_open"])


def application(core: Core) -> web.Application:
    settings = core.config.web
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        status = await status_report.gather(core.db)
        problems = status.problems(timedelta(minutes=settings.stale_minutes))
        body = json.dumps({"ok": not problems, "problems": problems})
        return web.Response(status=503 if problems else 200, text=body, content_type="application/json")

    async def metrics(request: web.Request) -> web.Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Snapshot(core, await status_report.gather(core.db)))
        return web.Response(body=generate_latest(registry), headers={"Content-Type": "text/plain; version=0.0.4"})

    app.router.add_get("/healthz", healthz)
    if settings.metrics:
        app.router.add_get("/metrics", metrics)
    for route in core.hooks.web_routes:  # the features' public pages (the agenda of a neighbourhood …)
        app.router.add_route(route.method, route.path, functools.partial(route.handler, core))
    return app


async def serve(core: Core) -> web.AppRunner:
    """Start listening; the caller cleans the runner up at the end."""
    settings = core.config.web
    runner = web.AppRunner(application(core), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    shown = ", ".join(["/healthz", *(["/metrics"] if settings.metrics else []),
                       *sorted({r.path for r in core.hooks.web_routes})])
    log.info("HTTP server on %s:%s (%s)", settings.host, settings.port, shown)
    return runner
