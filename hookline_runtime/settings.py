"""Process settings, read from the environment once in ``main()`` and passed down.

Every variable of the public contract (DESIGN.md section 5) is a field here. Tests
build ``Settings(...)`` with keyword arguments instead of patching the environment.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Settings shared by the edge and the three gRPC services."""

    model_config = SettingsConfigDict(
        env_prefix="HOOKLINE_",
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    # --- Redis (the spec's variables; REDIS_URL wins over the other four) ---
    redis_url: str | None = Field(
        default=None,
        validation_alias=_alias("REDIS_URL", "redis_url"),
        description="Full Redis URL, e.g. redis://:secret@10.0.0.5:6379/0.",
    )
    redis_host: str | None = Field(
        default=None,
        validation_alias=_alias("REDIS_HOST", "redis_host"),
        description="Redis host; Redis is 'configured' when this or REDIS_URL is set.",
    )
    redis_port: int = Field(default=6379, validation_alias=_alias("REDIS_PORT", "redis_port"))
    redis_password: str | None = Field(
        default=None, validation_alias=_alias("REDIS_PASSWORD", "redis_password")
    )
    redis_db: int = Field(default=0, validation_alias=_alias("REDIS_DB", "redis_db"))

    # --- Database ---
    database_url: str = Field(
        default="sqlite:///./hookline.db",
        description="Any SQLAlchemy URL; postgresql:// uses asyncpg, sqlite:// uses aiosqlite.",
    )

    # --- Addresses ---
    edge_addr: str = Field(default="127.0.0.1:3001", description="Edge HTTP listen address.")
    trigger_addr: str = Field(
        default="127.0.0.1:50051",
        description="Where callers find the trigger service: host:port, a comma-separated "
        "list of them, or a gRPC target such as dns:///name:port.",
    )
    execution_addr: str = Field(default="127.0.0.1:50052", description="As trigger_addr.")
    cache_addr: str = Field(default="127.0.0.1:50053", description="As trigger_addr.")
    trigger_listen: str | None = Field(
        default=None, description="Trigger listen address; default: first of trigger_addr."
    )
    execution_listen: str | None = Field(default=None, description="As trigger_listen.")
    cache_listen: str | None = Field(default=None, description="As trigger_listen.")

    # --- Edge ---
    api_key: str | None = Field(default=None, description="Required X-API-Key for /api/v1.")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1, description="Webhook body limit.")

    # --- Edge limits and secrets ---
    edge_backlog: int = Field(
        default=8192,
        ge=1,
        description="Listen backlog of the edge socket (the kernel caps it at "
        "net.core.somaxconn): connections arriving faster than they are accepted wait "
        "here instead of being reset.",
    )
    edge_max_connections: int = Field(
        default=10000,
        ge=1,
        description="Connections (or requests in flight) the edge serves at once; beyond "
        "it a request is answered 503 at once (uvicorn's limit_concurrency).",
    )
    edge_keep_alive_seconds: int = Field(
        default=5, ge=1, description="How long an idle keep-alive connection stays open."
    )
    edge_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A client must send its request headers within this time of connecting "
        "(or of starting a request), and may not pause longer than this while sending a "
        "body; otherwise the connection is closed (408 when headers are late).",
    )
    edge_max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request line plus headers accepted; larger: 431.",
    )
    edge_max_headers: int = Field(
        default=100, ge=1, description="Most request headers accepted; more: 431."
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs console sessions and CSRF tokens, the same on every edge. "
        "Unset: derived from api_key, else random per process.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Key for credentials at rest: 32 random bytes, url-safe base64 (for "
        "example python -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32))"
        ".decode())'). Needed by the trigger service; unset, it stores no credentials "
        "(hookline dev makes a key file beside its SQLite database).",
    )

    # --- Result delivery ---
    result_wait: Literal["push", "poll"] = Field(
        default="push",
        description="push: one Redis pub/sub connection per cache process wakes waiters; "
        "poll: the spec's GET loop every poll_interval_ms, kept for comparison.",
    )
    poll_interval_ms: int = Field(default=100, ge=1)
    compress_threshold_bytes: int = Field(
        default=64 * 1024, ge=0, description="Records larger than this are stored zstd-compressed."
    )
    max_result_bytes: int = Field(
        default=48 * 1024 * 1024,
        ge=1024,
        description="Hard cap on a record's JSON size; larger results become an error record.",
    )
    memory_store_max_entries: int = Field(
        default=10_000, ge=1, description="Bound of the in-memory result store (fallback)."
    )
    memory_store_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)

    # --- Execution ---
    max_concurrent_executions: int = Field(
        default=2000, ge=1, description="Runs executing at once per execution process."
    )

    # --- Execution history pruning (off unless one is set) ---
    executions_max_age_hours: float | None = Field(
        default=None,
        gt=0,
        description="Saved executions that started longer ago than this are deleted in "
        "the background (running ones never are).",
    )
    executions_max_count: int | None = Field(
        default=None,
        ge=0,
        description="Only the newest this many saved executions are kept; older finished "
        "ones are deleted in the background.",
    )

    # --- Runs: queue, journal, idempotency (DESIGN.md section 8) ---
    run_claim_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A queued run whose worker has not renewed it for this long is taken "
        "over by another execution replica.",
    )
    run_max_deliveries: int = Field(
        default=3,
        ge=1,
        description="A run delivered this many times without finishing is not run again: it "
        "ends as an error record ('run abandoned after N deliveries').",
    )
    idempotency_ttl_seconds: int = Field(
        default=86400, ge=1, description="How long an Idempotency-Key is remembered."
    )
    max_queued_runs: int = Field(
        default=10_000,
        ge=1,
        description="Runs waiting to start (accepted, not yet taken by a worker) beyond "
        "which new webhook calls and manual runs answer 503.",
    )
    max_workflow_depth: int = Field(
        default=10,
        ge=1,
        description="How deep executeWorkflow nodes may nest runs: the top run is depth 1; "
        "a child that would start deeper fails its executeWorkflow node.",
    )
    run_stream: str = Field(
        default="hookline:runs",
        description="The Redis stream of runs; give each deployment sharing one Redis "
        "its own name.",
    )

    # --- Outbound HTTP and node limits ---
    http_allow_private: bool = Field(
        default=False,
        description="Let httpRequest reach loopback, private, link-local and unique-local "
        "addresses (hookline dev turns this on). The cloud metadata addresses stay "
        "refused unless listed in http_allow_hosts.",
    )
    http_allow_hosts: str = Field(
        default="",
        description="Comma-separated host names (*.suffix matches subdomains), addresses "
        "or CIDRs that httpRequest may reach even when they are not public.",
    )
    max_node_output_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="A node whose output, JSON-encoded, is larger fails; templates may "
        "not build strings or lists larger than this either.",
    )
    node_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A node that computes (renders its templates, runs) longer fails; wait "
        "and httpRequest are bounded by their own parameters instead.",
    )

    # --- Process ---
    log_level: str = Field(default="info")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console on a terminal, JSON otherwise."
    )
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    grpc_max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=4 * 1024 * 1024)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=_alias("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
        description="OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318): "
        "every process exports its trace spans there (the other OTEL_* variables apply); "
        "unset: tracing is off.",
    )
    trigger_metrics_listen: str | None = Field(
        default=None, description="host:port serving the trigger service's /metrics."
    )
    execution_metrics_listen: str | None = Field(default=None)
    cache_metrics_listen: str | None = Field(default=None)

    # --- gRPC security ---
    grpc_token: str | None = Field(
        default=None,
        description="Shared token: every gRPC server refuses calls without metadata "
        "'authorization: Bearer <token>' (health checks excepted); every client sends it.",
    )
    grpc_tls_cert: str | None = Field(
        default=None,
        description="PEM certificate file: gRPC servers listen with TLS (with grpc_tls_key); "
        "clients present it when the servers require client certificates.",
    )
    grpc_tls_key: str | None = Field(
        default=None, description="PEM private key file of grpc_tls_cert."
    )
    grpc_tls_ca: str | None = Field(
        default=None,
        description="PEM CA file: clients verify servers against it, and servers require "
        "client certificates signed by it (mutual TLS).",
    )

    @field_validator("result_wait", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    # ----------------------------------------------------------------- derived
    @property
    def redis_configured(self) -> bool:
        """True when REDIS_URL or REDIS_HOST is set."""
        return bool(self.redis_url or self.redis_host)

    @property
    def effective_redis_url(self) -> str | None:
        """The Redis URL to connect to, or None when Redis is not configured."""
        if self.redis_url:
            return self.redis_url
        if not self.redis_host:
            return None
        auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    def listen_address(self, service: Literal["trigger", "execution", "cache"]) -> str:
        """Where ``service`` listens: its _LISTEN variable, else the first of its _ADDR."""
        explicit: str | None = getattr(self, f"{service}_listen")
        if explicit:
            return explicit
        first = getattr(self, f"{service}_addr").split(",")[0].strip()
        if "///" in first:  # a gRPC target such as dns:///name:port
            first = first.split("///", 1)[1]
        host, _, port = first.rpartition(":")
        return f"{host or '0.0.0.0'}:{port}"
