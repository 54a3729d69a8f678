"""Observability: log records, counters, the observer hook and the OpenTelemetry adapter."""

from __future__ import annotations

import logging

import pytest
from test_outbox import KEY, ScriptedHosts, create, drain, follower

from activitypub_kit.delivery import DeliveryOutcome, OpenTelemetryObserver, Outbox
from activitypub_kit.delivery._messages import shard_of

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self):
        self.events, self.fanouts = [], []

    def on_delivery(self, event):
        self.events.append(event)

    def on_fanout(self, activity, inboxes, batches):
        self.fanouts.append((activity, inboxes, batches))


async def test_every_outcome_is_logged_counted_and_observed(queue, store, clock, caplog):
    hosts = ScriptedHosts()
    hosts.script["flaky.example"] = [503]
    hosts.script["strict.example"] = [403]
    recorder = Recorder()
    outbox = Outbox(queue, store, hosts, clock=clock, observer=recorder)
    to = [follower(h, 1) for h in ("ok.example", "flaky.example", "strict.example")]
    with caplog.at_level(logging.DEBUG, logger="activitypub_kit.delivery"):
        await outbox.send(create(), key_ref=KEY, to=to)
        await drain(outbox, queue, clock)
    outcomes = sorted((e.host, e.outcome.value) for e in recorder.events)
    assert outcomes == [
        ("flaky.example", "retry"),
        ("flaky.example", "sent"),
        ("ok.example", "sent"),
        ("strict.example", "failed"),
    ]
    shards = {shard_of(h, outbox.shards) for h in ("ok.example", "flaky.example", "strict.example")}
    assert recorder.fanouts == [(create()["id"], 3, len(shards))]
    records = [r for r in caplog.records if hasattr(r, "delivery_outcome")]
    by_outcome = {r.delivery_outcome: r for r in records}
    assert by_outcome["failed"].levelno == logging.WARNING
    assert by_outcome["failed"].status == 403
    assert by_outcome["retry"].levelno == logging.INFO
    assert by_outcome["retry"].retry_in >= 30.0  # the host's Retry-After
    assert by_outcome["sent"].levelno == logging.DEBUG
    assert by_outcome["sent"].inbox.endswith("/inbox")
    metrics = await outbox.metrics()
    assert (metrics["sent"], metrics["retried"], metrics["failed_permanently"]) == (2, 1, 1)
    assert metrics["queue_depth"] == 0


async def test_a_failing_observer_does_not_break_delivery(queue, store, clock):
    class Broken:
        def on_delivery(self, event):
            raise RuntimeError("observer bug")

        def on_fanout(self, *args):
            raise RuntimeError("observer bug")

    hosts = ScriptedHosts()
    outbox = Outbox(queue, store, hosts, clock=clock, observer=Broken())
    await outbox.send(create(), key_ref=KEY, to=[follower("ok.example", 1)])
    await drain(outbox, queue, clock)
    assert outbox.stats.sent == 1


async def test_opentelemetry_observer_feeds_a_real_sdk(queue, store, clock):
    sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    reader = InMemoryMetricReader()
    meter = sdk_metrics.MeterProvider(metric_readers=[reader]).get_meter("test")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = OpenTelemetryObserver(meter=meter, tracer=provider.get_tracer("test"))

    hosts = ScriptedHosts()
    hosts.script["flaky.example"] = [500]
    outbox = Outbox(queue, store, hosts, clock=clock, observer=observer)
    await outbox.send(
        create(), key_ref=KEY, to=[follower(h, 1) for h in ("a.example", "flaky.example")]
    )
    await drain(outbox, queue, clock)

    data = reader.get_metrics_data()
    points = {
        metric.name: list(metric.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    outcomes = {
        (p.attributes["outcome"], p.attributes.get("status")): p.value
        for p in points["activitypub_kit.delivery.outcomes"]
    }
    assert outcomes == {("sent", 202): 2, ("retry", 500): 1}
    assert points["activitypub_kit.delivery.fanouts"][0].value == 1
    assert sum(p.count for p in points["activitypub_kit.delivery.duration"]) == 3
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert {s.attributes["server.address"] for s in spans} == {"a.example", "flaky.example"}
    assert all(s.end_time >= s.start_time for s in spans)
    assert DeliveryOutcome.RETRY.value in {s.attributes["delivery.outcome"] for s in spans}
