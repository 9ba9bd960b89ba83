"""Storage adapters of the execution service."""

from services.execution.storage.sql import SqlExecutionStore

__all__ = ["SqlExecutionStore"]
