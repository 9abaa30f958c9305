"""The web app's /metrics: in-process metrics plus a collector over the shared Redis hash and the outbox.

In-process (prometheus_client objects in REGISTRY): `gzcp_leads_intake_total` and the process, platform
and GC metrics of this web app process. Shared (bot.shared.metrics): read from Redis at each scrape.

Set METRICS_TOKEN to require `Authorization: Bearer <token>` on /metrics (empty: open, e.g. when only a
private network reaches the app).
"""

from __future__ import annotations

import hmac
import logging
from typing import Dict, Iterable, Iterator, Tuple

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from bot.settings import settings
from bot.shared import intake
from bot.shared import metrics as shared
from bot.shared.metrics import SHARED_METRICS, SharedMetric
from bot.shared.outbox import Outbox
from bot.shared.redis_conn import KEY_PREFIX, redis_from_env

logger = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` twin for every counter series: Prometheus does not need them
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

INTAKE_KINDS = intake.INTAKE_KINDS + ("unknown",)
INTAKE_OUTCOMES = ("created", "replayed", "conflict", "rejected", "unauthorized", "unconfigured", "error")
LEADS_INTAKE = Counter(
    "gzcp_leads_intake_total",
    "POST /api/leads by kind (lead, handoff; unknown when the body did not say) and outcome: created (201), "
    "replayed (200, same Idempotency-Key and body), conflict (key reused with another body), rejected (invalid "
    "body or profile, 400/422), unauthorized (401), unconfigured (503: no INTAKE_API_KEY), error (500).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
for _kind in INTAKE_KINDS:
    for _outcome in INTAKE_OUTCOMES:
        LEADS_INTAKE.labels(_kind, _outcome)

OUTBOX_GAUGES = (
    ("gzcp_outbox_pending_jobs", "pending", "Outbox jobs waiting for delivery, retries included."),
    ("gzcp_outbox_retrying_jobs", "retrying", "Outbox jobs that failed at least once and wait for another try."),
    ("gzcp_outbox_dead_jobs", "dead", "Outbox jobs the intake refused for good, kept until staff revive them."),
    ("gzcp_outbox_oldest_pending_seconds", "oldest_pending_seconds", "Age of the oldest job still waiting, in seconds."),
)
REDIS_UP = ("gzcp_metrics_redis_up", "1 when this scrape read the shared metrics and the outbox from Redis, else 0.")


def _family(metric: SharedMetric, values: Dict[str, float]) -> Metric:
    names = list(metric.labels)
    series: Dict[Tuple[str, ...], Dict[str, float]] = {combo: {} for combo in metric.combinations()}
    for field, value in values.items():
        name, labels = shared.parse_field(field)
        le = labels.pop("le", None)
        if name == metric.name:
            key = "value"
        elif name == f"{metric.name}_sum":
            key = "sum"
        elif name == f"{metric.name}_bucket" and le is not None:
            key = f"le={le}"
        else:
            continue
        if set(labels) != set(names):
            continue
        slot = series.setdefault(tuple(labels[n] for n in names), {})
        slot[key] = slot.get(key, 0.0) + value
    if metric.kind == "counter":
        family = CounterMetricFamily(metric.name, metric.help, labels=names)
        for combo, slot in series.items():
            family.add_metric(list(combo), slot.get("value", 0.0))
        return family
    family = HistogramMetricFamily(metric.name, metric.help, labels=names)
    bounds = [shared._bound(b) for b in metric.buckets] + ["+Inf"]
    for combo, slot in series.items():
        total, buckets = 0.0, []
        for bound in bounds:
            total += slot.get(f"le={bound}", 0.0)
            buckets.append((bound, total))
        family.add_metric(list(combo), buckets, sum_value=slot.get("sum", 0.0))
    return family


class SharedCollector(Collector):
    """Exports the shared hash and the outbox figures, read from Redis (REDIS_* settings) at each scrape."""

    def __init__(self, prefix: str = KEY_PREFIX) -> None:
        self.prefix = prefix

    def describe(self) -> Iterable[Metric]:  # names only, so registering does not reach Redis
        yield GaugeMetricFamily(REDIS_UP[0], REDIS_UP[1])
        for metric in SHARED_METRICS:
            yield _family(metric, {})
        for name, _, text in OUTBOX_GAUGES:
            yield GaugeMetricFamily(name, text)

    def collect(self) -> Iterator[Metric]:
        client = redis_from_env(socket_timeout=1.0, socket_connect_timeout=0.5)
        values: Dict[str, float] = {}
        stats = None
        shared.PENDING.write(client, self.prefix)  # this process's counts not yet written: first into the hash
        try:
            values = shared.read(client, self.prefix)
            up = 1.0
            stats = Outbox(client, prefix=self.prefix).stats()
        except redis.RedisError:
            up = 0.0
        except Exception as error:  # the outbox's figures only: a scrape never fails on what Redis holds
            logger.error("metrics: outbox figures not readable (%s)", type(error).__name__)
        finally:
            client.close()
        yield GaugeMetricFamily(REDIS_UP[0], REDIS_UP[1], value=up)
        if not up:
            return
        for metric in SHARED_METRICS:
            yield _family(metric, values)
        for name, key, text in OUTBOX_GAUGES if stats is not None else ():
            yield GaugeMetricFamily(name, text, value=float(stats[key]))


REGISTRY.register(SharedCollector())

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    token = settings().metrics_token.strip()
    if token:
        sent = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(sent, f"Bearer {token}".encode("latin-1", "replace")):
            return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from /metrics text (0 when absent): for tests and scripts."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0
