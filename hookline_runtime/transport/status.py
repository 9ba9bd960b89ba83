"""Domain errors on the wire: the one table between ``hookline_runtime.errors`` and gRPC
status codes, and from gRPC codes to HTTP statuses.

Servicers raise domain errors; the server's error mapping aborts with
``grpc_code_for(exc)`` and the message, and an item stream gives each failed item the
same code and message as a ``google.rpc.Status``. A client turns a code back into the
error with ``error_for_code`` (``domain_errors()`` does it for every call inside a
block, ``error_for_status`` for a failed item). The edge maps gRPC codes to HTTP with
``HTTP_STATUS_FOR_CODE`` (googleapis ``google/rpc/code.proto``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from google.rpc.status_pb2 import Status

from hookline_runtime.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    HooklineError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    StartUncertain,
    Unavailable,
)

__all__ = [
    "HTTP_STATUS_FOR_CODE",
    "RemoteError",
    "domain_errors",
    "error_for_code",
    "error_for_status",
    "grpc_code_for",
    "http_status_for",
    "status_code",
]

_CODE_FOR_ERROR: dict[type[HooklineError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    StartUncertain: grpc.StatusCode.DEADLINE_EXCEEDED,
}


class RemoteError(HooklineError):
    """An error another service answered with a code no domain error stands for."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def grpc_code_for(exc: HooklineError) -> grpc.StatusCode:
    """The status code of a domain error: its own class's, or its nearest base's."""
    if isinstance(exc, RemoteError):
        return exc.code
    for cls in type(exc).__mro__:
        code = _CODE_FOR_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


_ERROR_FOR_CODE: dict[grpc.StatusCode, type[HooklineError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def error_for_code(code: grpc.StatusCode, message: str) -> HooklineError:
    """The domain error that a status code and message from another service stand for
    (the table above read backwards); a code with no class of its own keeps its code."""
    cls = _ERROR_FOR_CODE.get(code)
    return cls(message) if cls is not None else RemoteError(code, message)


def error_for_status(status: Status) -> HooklineError:
    """The domain error of one failed item of an item stream (its ``google.rpc.Status``)."""
    return error_for_code(status_code(status.code), status.message)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Inside the block, a failed gRPC call raises the domain error its status code
    stands for (``error_for_code``), as a port's gRPC adapter promises its callers."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise error_for_code(exc.code(), exc.details() or "") from None


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(value: int) -> grpc.StatusCode:
    """The status code with this number (``UNKNOWN`` for a number gRPC has not)."""
    return _STATUS_CODES.get(value, grpc.StatusCode.UNKNOWN)


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
