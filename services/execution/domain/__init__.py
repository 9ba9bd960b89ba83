"""The execution service's domain: the engine, records, runs. No grpc, litestar or
sqlalchemy in here; the outside world is reached through ``ports``."""

from services.execution.domain.engine import Engine
from services.execution.domain.expressions import TemplateRenderer
from services.execution.domain.ports import (
    ExecutionPage,
    ExecutionStore,
    ResultSink,
    ResultTooLarge,
)
from services.execution.domain.record import ExecutionRecord, NodeRun
from services.execution.domain.runs import RunScheduler
from services.execution.domain.service import ExecutionService, StartRequest
from services.execution.domain.workflows import WorkflowCache

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
