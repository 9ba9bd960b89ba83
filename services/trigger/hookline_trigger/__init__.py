"""The trigger service: owns workflows, resolves and authenticates webhooks, runs the
cron scheduler, and starts executions."""

from hookline_trigger.server import TriggerOptions, TriggerServer

__all__ = ["TriggerOptions", "TriggerServer"]
