"""Storage adapters of the execution service."""

from hookline_execution.storage.sql import SqlExecutionStore

__all__ = ["SqlExecutionStore"]
