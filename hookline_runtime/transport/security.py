"""Who may talk to hookline's gRPC ports: a shared token, TLS and mutual TLS.

``GrpcSecurity`` holds what one process needs, read once from ``Settings``
(``HOOKLINE_GRPC_TOKEN``, ``HOOKLINE_GRPC_TLS_CERT``, ``_KEY``, ``_CA``), and gives each
side what it uses:

- servers (``hookline_runtime.transport.server.GrpcServer``): ``server_credentials()`` (TLS with
  the certificate and key; with a CA as well, client certificates signed by it are
  required) and ``server_interceptors()``, the one interceptor that checks every call
  for ``authorization: Bearer <token>`` metadata (constant-time compare) and answers
  others ``UNAUTHENTICATED``. Health checks (``grpc.health.v1.Health``) stay open, so
  that load balancers and Kubernetes probes need no credential; everything else,
  reflection included, needs the token.
- clients (``hookline_runtime.transport.client.ServiceClient``): ``open_channel()``, a channel with
  TLS credentials (verifying servers against the CA, presenting the certificate for
  mutual TLS) and a client interceptor that adds the token to every call: unary,
  server-streaming, and the long-lived bidirectional item streams.

With none of the settings, channels and servers are plaintext and open: the default
for ``hookline dev`` on loopback.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from hookline_runtime.logs import get_logger

if TYPE_CHECKING:
    from hookline_runtime.settings import Settings

__all__ = ["GrpcSecurity", "GrpcSecurityError", "TokenAuthInterceptor"]

log = get_logger(__name__)

_AUTHORIZATION = "authorization"
_OPEN_PREFIX = "/grpc.health.v1.Health/"
"""Methods callable without the token: health checks, for probes and load balancers."""


class GrpcSecurityError(ValueError):
    """The gRPC security settings cannot be used (raised at start-up)."""


def _read(path: str | None, variable: str) -> bytes | None:
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GrpcSecurityError(f"{variable}: cannot read {path}: {exc.strerror}") from exc
    if not data.strip():
        raise GrpcSecurityError(f"{variable}: {path} is empty")
    return data


@dataclass(frozen=True, slots=True, repr=False)
class GrpcSecurity:
    """Token and TLS material of one process (PEM bytes, not paths)."""

    token: str | None = None
    cert: bytes | None = None
    key: bytes | None = None
    ca: bytes | None = None

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise GrpcSecurityError("HOOKLINE_GRPC_TOKEN is set but empty")
        if (self.cert is None) != (self.key is None):
            raise GrpcSecurityError(
                "HOOKLINE_GRPC_TLS_CERT and HOOKLINE_GRPC_TLS_KEY must be set together"
            )

    def __repr__(self) -> str:  # never show the token or the key
        return (
            f"GrpcSecurity(token={'set' if self.token else 'unset'}, "
            f"tls={self.server_tls}, mutual={self.mutual_tls})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> GrpcSecurity:
        """Read the files the settings name; ``GrpcSecurityError`` names what is wrong."""
        return cls(
            token=settings.grpc_token or None,
            cert=_read(settings.grpc_tls_cert, "HOOKLINE_GRPC_TLS_CERT"),
            key=_read(settings.grpc_tls_key, "HOOKLINE_GRPC_TLS_KEY"),
            ca=_read(settings.grpc_tls_ca, "HOOKLINE_GRPC_TLS_CA"),
        )

    @property
    def server_tls(self) -> bool:
        """Servers listen with TLS (a certificate and key are set)."""
        return self.cert is not None

    @property
    def mutual_tls(self) -> bool:
        """Servers require client certificates signed by the CA."""
        return self.cert is not None and self.ca is not None

    @property
    def client_tls(self) -> bool:
        """Clients connect with TLS (a CA, or a certificate of their own, is set)."""
        return self.cert is not None or self.ca is not None

    # ------------------------------------------------------------------ servers

    def server_credentials(self) -> grpc.ServerCredentials | None:
        """TLS credentials to listen with; None for plaintext.

        A server cannot listen with TLS without its own certificate: a CA alone is an
        error here (it is enough for a process that only calls, such as the edge)."""
        if self.cert is None or self.key is None:
            if self.ca is not None:
                raise GrpcSecurityError(
                    "HOOKLINE_GRPC_TLS_CA is set but HOOKLINE_GRPC_TLS_CERT and "
                    "HOOKLINE_GRPC_TLS_KEY are not: a gRPC server needs its own certificate"
                )
            return None
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.ca,
            require_client_auth=self.ca is not None,
        )

    def server_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """The token check, when a token is set (none otherwise)."""
        return [] if self.token is None else [TokenAuthInterceptor(self.token)]

    # ------------------------------------------------------------------ clients

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials for channels; None for plaintext. Servers are verified
        against the CA (the system's trust store without one)."""
        if not self.client_tls:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )

    def client_interceptors(self) -> list[grpc.aio.ClientInterceptor]:
        """Interceptors adding the token to every kind of call, when a token is set."""
        if self.token is None:
            return []
        kinds = (_UnaryUnaryToken, _UnaryStreamToken, _StreamUnaryToken, _StreamStreamToken)
        return [kind(self.token) for kind in kinds]

    def open_channel(
        self,
        target: str,
        options: Sequence[tuple[str, Any]] = (),
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> grpc.aio.Channel:
        """A ``grpc.aio`` channel to ``target`` with this process's credentials, and
        ``interceptors`` (tracing) before the token's."""
        chain = [*interceptors, *self.client_interceptors()] or None
        credentials = self.channel_credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options, interceptors=chain)
        return grpc.aio.secure_channel(target, credentials, options=options, interceptors=chain)

    def open_sync_channel(
        self, target: str, options: Sequence[tuple[str, Any]] = ()
    ) -> grpc.Channel:
        """A blocking channel (test and benchmark helpers) with the same credentials."""
        credentials = self.channel_credentials()
        channel = (
            grpc.insecure_channel(target, options=options)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=options)
        )
        if self.token is None:
            return channel
        return grpc.intercept_channel(channel, _SyncTokenMetadata(self.token))


# ---------------------------------------------------------------------- server side


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, with ``UNAUTHENTICATED``, every call without ``authorization: Bearer
    <token>`` metadata, except health checks. A long-lived item stream is checked once,
    when it opens, like any other call."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def _refusal(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
        """Why the call is refused, or None when it carries the token."""
        given = [value for key, value in metadata or () if key == _AUTHORIZATION]
        if not given:
            return (
                "this hookline gRPC server requires a token: send metadata "
                "'authorization: Bearer <HOOKLINE_GRPC_TOKEN>'"
            )
        value = given[0]
        raw = value if isinstance(value, bytes) else value.encode()
        if len(given) == 1 and hmac.compare_digest(raw, self._expected):
            return None
        return "invalid gRPC token: 'authorization' does not match HOOKLINE_GRPC_TOKEN"

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_OPEN_PREFIX):
            return handler
        reason = self._refusal(handler_call_details.invocation_metadata)
        if reason is None:
            return handler
        log.debug("gRPC call refused", method=handler_call_details.method, reason=reason)
        return _refusing(handler, reason)


def _refusing(
    handler: grpc.RpcMethodHandler[Any, Any], reason: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same kind as ``handler`` that aborts with UNAUTHENTICATED."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

    kinds = {
        "unary_unary": grpc.unary_unary_rpc_method_handler,
        "unary_stream": grpc.unary_stream_rpc_method_handler,
        "stream_unary": grpc.stream_unary_rpc_method_handler,
        "stream_stream": grpc.stream_stream_rpc_method_handler,
    }
    kind = next(name for name in kinds if getattr(handler, name) is not None)
    make: Callable[..., grpc.RpcMethodHandler[Any, Any]] = kinds[kind]
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# ---------------------------------------------------------------------- client side


class _TokenMetadata:
    """Adds ``authorization: Bearer <token>`` to a call's metadata.

    One subclass per kind of call: ``grpc.aio`` files an interceptor under the first
    kind it implements only, so one object cannot serve all four."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata.from_tuple(tuple(details.metadata or ()))
        metadata[_AUTHORIZATION] = self._value
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
        )


class _UnaryUnaryToken(_TokenMetadata, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class _UnaryStreamToken(_TokenMetadata, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request)


class _StreamUnaryToken(_TokenMetadata, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request_iterator)


class _StreamStreamToken(_TokenMetadata, grpc.aio.StreamStreamClientInterceptor):
    """Also covers the long-lived item streams (opened without a request iterator and
    written with ``write()``, which intercepted calls support)."""

    async def intercept_stream_stream(
        self,
        continuation: Any,
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._with_token(client_call_details), request_iterator)


class _SyncTokenMetadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """The token on a blocking plaintext channel (unary and server-streaming calls)."""

    def __init__(self, token: str) -> None:
        self._pair = (_AUTHORIZATION, f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _SyncDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=(*(details.metadata or ()), self._pair),
            credentials=details.credentials,
            wait_for_ready=getattr(details, "wait_for_ready", None),
            compression=getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request)


@dataclass(frozen=True, slots=True)
class _SyncDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: tuple[tuple[str, str | bytes], ...] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None
