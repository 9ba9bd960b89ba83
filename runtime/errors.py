"""The project's error root and the one table that maps errors to gRPC and HTTP.

    HooklineError                 base; 500 / INTERNAL
    ├── InvalidArgument           bad input; carries ``field`` (node or field name)
    ├── NotFound                  no such workflow or execution
    ├── AlreadyExists             conflict, e.g. a webhook path owned by another workflow
    ├── ResourceExhausted         over a size cap or a concurrency limit
    ├── Unavailable               a dependency (Redis, database, a service) cannot be reached;
    │   │                         nothing was done
    │   └── QueueFull             too many runs wait to start; nothing was accepted
    └── StartUncertain            a run was handed over but not confirmed: it may run

Servicers raise these; ``ErrorMappingInterceptor`` turns them into
``context.abort(code, message)``, and a stream that carries many items gives each
failed item the same code and message (``runtime.item_streams``). A client turns a
code back into the error with ``error_for_code``. The edge maps gRPC codes to HTTP
with ``HTTP_STATUS_FOR_CODE`` (googleapis ``google/rpc/code.proto``).
"""

from __future__ import annotations

import grpc

__all__ = [
    "HTTP_STATUS_FOR_CODE",
    "AlreadyExists",
    "HooklineError",
    "InvalidArgument",
    "NotFound",
    "QueueFull",
    "ResourceExhausted",
    "StartUncertain",
    "Unavailable",
    "error_for_code",
    "http_status_for",
    "status_code",
]


class HooklineError(Exception):
    """Root of every domain error; ``code`` is the gRPC status it maps to."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(HooklineError):
    """Input that cannot be accepted; ``field`` names the node or field at fault."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(HooklineError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(HooklineError):
    code = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhausted(HooklineError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(HooklineError):
    """Nothing was done: the backend is unreachable or refuses work for now."""

    code = grpc.StatusCode.UNAVAILABLE


class QueueFull(Unavailable):
    """Too many runs wait to start; this one was not accepted (503 with Retry-After)."""

    retry_after_seconds = 1


class StartUncertain(HooklineError):
    """A run was handed over but its start was not confirmed in time: it may run.
    Never reported as 503, which promises that nothing will run."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


HTTP_STATUS_FOR_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def http_status_for(code: grpc.StatusCode) -> int:
    """The HTTP status for a gRPC code; anything unlisted is 500."""
    return HTTP_STATUS_FOR_CODE.get(code, 500)


_ERROR_FOR_CODE: dict[grpc.StatusCode, type[HooklineError]] = {
    cls.code: cls
    for cls in (InvalidArgument, NotFound, AlreadyExists, ResourceExhausted, Unavailable)
}


def error_for_code(code: grpc.StatusCode, message: str) -> HooklineError:
    """The domain error that a status code and message from another service stand for
    (the table above read backwards); a code with no class of its own keeps its code."""
    cls = _ERROR_FOR_CODE.get(code)
    if cls is not None:
        return cls(message)
    error = HooklineError(message)
    error.code = code
    return error


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(value: int) -> grpc.StatusCode:
    """The status code with this number (``UNKNOWN`` for a number gRPC has not)."""
    return _STATUS_CODES.get(value, grpc.StatusCode.UNKNOWN)
