"""The execution service's domain: the engine, records, runs. No grpc, litestar or
sqlalchemy in here; the outside world is reached through ``ports``."""

from hookline_execution.domain.engine import Engine
from hookline_execution.domain.expressions import TemplateRenderer
from hookline_execution.domain.ports import (
    ExecutionPage,
    ExecutionStore,
    ResultSink,
    ResultTooLarge,
)
from hookline_execution.domain.record import ExecutionRecord, NodeRun
from hookline_execution.domain.runs import RunScheduler
from hookline_execution.domain.service import ExecutionService, StartRequest
from hookline_execution.domain.workflows import WorkflowCache

__all__ = [
    "Engine",
    "ExecutionPage",
    "ExecutionRecord",
    "ExecutionService",
    "ExecutionStore",
    "NodeRun",
    "ResultSink",
    "ResultTooLarge",
    "RunScheduler",
    "StartRequest",
    "TemplateRenderer",
    "WorkflowCache",
]
