"""What the trigger service measures, in its own registry, served on
``HOOKLINE_TRIGGER_METRICS_LISTEN`` through ``hookline_runtime.metrics.MetricsEndpoint``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from hookline_trigger.domain.snapshot import Snapshot
from hookline_trigger.domain.webhook_request import WebhookCall
from hookline_trigger.domain.webhooks import WebhookHandler, WebhookOutcome

__all__ = ["CountedWebhooks", "TriggerMetrics"]


class TriggerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.webhook_calls = Counter(
            "hookline_trigger_webhook_calls",
            "Webhook calls by outcome (started, not_found, method_not_allowed, unauthorized, "
            "invalid_body).",
            ["outcome"],
            registry=self.registry,
        )
        self.schedule_ticks = Counter(
            "hookline_schedule_ticks",
            "Schedule ticks seen by this replica, by outcome (fired, claimed_elsewhere, "
            "skipped, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.active_webhooks = Gauge(
            "hookline_active_webhooks",
            "Active webhook routes in the index.",
            registry=self.registry,
        )
        self.active_schedules = Gauge(
            "hookline_active_schedules", "Active schedules in the index.", registry=self.registry
        )

    def tick(self, outcome: str, count: int = 1) -> None:
        self.schedule_ticks.labels(outcome).inc(count)

    def index_changed(self, snapshot: Snapshot) -> None:
        self.active_webhooks.set(sum(len(methods) for methods in snapshot.routes.values()))
        self.active_schedules.set(len(snapshot.schedules))


class CountedWebhooks:
    """``WebhookHandler.handle`` with each call counted by outcome: what the servicer
    and an in-process caller both call."""

    def __init__(self, handler: WebhookHandler, metrics: TriggerMetrics) -> None:
        self._handler = handler
        self._calls = metrics.webhook_calls

    async def handle(self, call: WebhookCall) -> WebhookOutcome:
        outcome = await self._handler.handle(call)
        self._calls.labels(outcome.rejection.value if outcome.rejection else "started").inc()
        return outcome
