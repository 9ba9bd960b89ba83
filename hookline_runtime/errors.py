"""The project's error root: plain domain errors that carry fields, no transport.

    HooklineError                 base; 500 / INTERNAL
    ├── InvalidArgument           bad input; carries ``field`` (node or field name)
    ├── NotFound                  no such workflow or execution
    ├── AlreadyExists             conflict, e.g. a webhook path owned by another workflow
    ├── FailedPrecondition        the service is not set up for this call
    ├── ResourceExhausted         over a size cap or a concurrency limit
    ├── Unavailable               a dependency (Redis, database, a service) cannot be reached;
    │   │                         nothing was done
    │   └── QueueFull             too many runs wait to start; nothing was accepted
    ├── DeadlineExceeded          no answer in time (the work may still be done)
    └── StartUncertain            a run was handed over but not confirmed: it may run

Domain code raises these. How they travel is the transport's business: the one table
that maps them to gRPC status codes and back, and gRPC codes to HTTP, is
``hookline_runtime.transport.status``.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "HooklineError",
    "InvalidArgument",
    "NotFound",
    "QueueFull",
    "ResourceExhausted",
    "StartUncertain",
    "Unavailable",
]


class HooklineError(Exception):
    """Root of every domain error; ``message`` is safe to show to a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(HooklineError):
    """Input that cannot be accepted; ``field`` names the node or field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(HooklineError):
    """No such workflow, execution or credential."""


class AlreadyExists(HooklineError):
    """A conflict with what is stored."""


class FailedPrecondition(HooklineError):
    """The service is not set up for this call; the message says how to set it up."""


class ResourceExhausted(HooklineError):
    """Over a size cap or a concurrency limit."""


class Unavailable(HooklineError):
    """Nothing was done: the backend is unreachable or refuses work for now."""


class QueueFull(Unavailable):
    """Too many runs wait to start; this one was not accepted (503 with Retry-After)."""

    retry_after_seconds = 1


class DeadlineExceeded(HooklineError):
    """No answer within the deadline (the work may still be done)."""


class StartUncertain(HooklineError):
    """A run was handed over but its start was not confirmed in time: it may run.
    Never reported as 503, which promises that nothing will run."""
