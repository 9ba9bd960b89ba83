"""httpRequest refuses internal destinations by default: the address it connects to
is checked after resolution, on every redirect hop, and opened only by
HOOKLINE_HTTP_ALLOW_PRIVATE or HOOKLINE_HTTP_ALLOW_HOSTS."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpcore
import httpx
import pytest

from hookline_execution.domain import Engine, ExecutionRecord, TemplateRenderer
from hookline_execution.domain.outbound import (
    AddressRefused,
    GuardedBackend,
    IPAddress,
    OutboundPolicy,
    outbound_client,
)
from hookline_launcher.cli import dev_settings
from hookline_runtime.clock import utcnow
from hookline_runtime.settings import Settings
from hookline_runtime.workflow import parse_workflow

from .conftest import RunWorkflow, StartExecution
from .local_http import LocalHttpServer, Reply
from .workflows import node, workflow

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.5", "a private address"),
    ("172.16.4.2", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.10.1", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("fd12:3456::1", "a unique-local address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("100.64.0.1", "a non-public address"),
    ("::ffff:10.0.0.1", "a private address"),
    ("64:ff9b::7f00:1", "a loopback address"),
    ("169.254.169.254", "the cloud metadata address"),
    ("fd00:ec2::254", "the cloud metadata address"),
]


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_internal_addresses_are_refused_naming_their_class(address: str, kind: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        OutboundPolicy().check(address, [_ip(address)])
    assert f"is {kind}" in refused.value.message


def test_the_refusal_says_how_to_open_it() -> None:
    with pytest.raises(AddressRefused) as refused:
        OutboundPolicy().check("10.0.0.5", [_ip("10.0.0.5")])
    assert refused.value.message == (
        "refused: 10.0.0.5 is a private address; set HOOKLINE_HTTP_ALLOW_PRIVATE=true "
        "or HOOKLINE_HTTP_ALLOW_HOSTS to allow it"
    )


def test_public_addresses_pass() -> None:
    OutboundPolicy().check("example.com", [_ip("93.184.216.34"), _ip("2606:2800:220:1::1")])


def test_a_name_is_refused_when_any_address_it_resolves_to_is_internal() -> None:
    with pytest.raises(AddressRefused, match="rebind.example resolves to 10.1.1.1, a private"):
        OutboundPolicy().check("rebind.example", [_ip("93.184.216.34"), _ip("10.1.1.1")])


def test_allow_private_opens_private_addresses_but_not_the_metadata_address() -> None:
    policy = OutboundPolicy.parse(True, "")
    for address, kind in REFUSED:
        if kind != "the cloud metadata address":
            policy.check(address, [_ip(address)])
    with pytest.raises(AddressRefused, match="HOOKLINE_HTTP_ALLOW_HOSTS"):
        policy.check("169.254.169.254", [_ip("169.254.169.254")])


def test_the_allow_list_takes_names_patterns_addresses_and_cidrs() -> None:
    policy = OutboundPolicy.parse(
        False, " api.internal, *.corp.example,10.1.0.0/16, fd00:ec2::254 "
    )
    policy.check("API.internal", [_ip("10.9.9.9")])
    policy.check("svc.corp.example", [_ip("192.168.0.1")])
    policy.check("10.1.200.3", [_ip("10.1.200.3")])
    policy.check("fd00:ec2::254", [_ip("fd00:ec2::254")])
    for host, address in (("other.internal", "10.9.9.9"), ("10.2.0.1", "10.2.0.1")):
        with pytest.raises(AddressRefused):
            policy.check(host, [_ip(address)])


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the network: records where it was asked to connect."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        raise httpcore.ConnectError("recorded")


class _FixedResolution(GuardedBackend):
    def __init__(self, policy: OutboundPolicy, inner: _RecordingBackend, answer: list[str]):
        super().__init__(policy, inner)
        self._answer = [_ip(a) for a in answer]

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        return self._answer


async def test_the_backend_connects_to_the_address_it_checked_not_to_the_name() -> None:
    inner = _RecordingBackend()
    backend = _FixedResolution(OutboundPolicy(), inner, ["93.184.216.34"])
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("public.example", 80)
    assert inner.connected == ["93.184.216.34"]  # no second resolution to rebind


async def test_the_backend_refuses_before_connecting_when_resolution_is_internal() -> None:
    inner = _RecordingBackend()
    backend = _FixedResolution(OutboundPolicy(), inner, ["93.184.216.34", "169.254.169.254"])
    with pytest.raises(AddressRefused, match="cloud metadata"):
        await backend.connect_tcp("public.example", 80)
    assert inner.connected == []


@pytest.fixture
async def guarded_run() -> AsyncIterator[Any]:
    """``await guarded_run(policy, workflow_json)`` -> the record's JSON, run by an
    engine whose HTTP client carries ``policy``."""
    clients: list[httpx.AsyncClient] = []

    async def run(policy: OutboundPolicy, data: dict[str, Any]) -> dict[str, Any]:
        client = outbound_client(policy)
        clients.append(client)
        record = ExecutionRecord("exec-guard", "", "g", "manual", utcnow())
        await Engine(TemplateRenderer(), client).run(parse_workflow(data), record, {})
        return record.to_json()

    yield run
    for client in clients:
        await client.aclose()


def _call(url: str) -> dict[str, Any]:
    return workflow([node("Call", "httpRequest", url=url)])


async def test_a_loopback_url_fails_the_node_and_sends_nothing(
    guarded_run: Any, local_http: LocalHttpServer
) -> None:
    local_http.routes["/secret"] = Reply(200, body=b"secret")
    record = await guarded_run(OutboundPolicy(), _call(local_http.url("/secret")))
    assert record["status"] == "error"
    message = record["nodes"]["Call"]["error"]
    assert "refused: 127.0.0.1 is a loopback address" in message
    assert "HOOKLINE_HTTP_ALLOW_PRIVATE=true" in message
    assert local_http.requests == []


async def test_a_name_resolving_to_loopback_is_refused(
    guarded_run: Any, local_http: LocalHttpServer
) -> None:
    url = f"http://localhost:{local_http.port}/secret"
    record = await guarded_run(OutboundPolicy(), _call(url))
    assert record["status"] == "error"
    assert "localhost resolves to" in record["nodes"]["Call"]["error"]
    assert "a loopback address" in record["nodes"]["Call"]["error"]
    assert local_http.requests == []


async def test_an_allowed_host_works_and_a_redirect_to_an_internal_one_is_refused(
    guarded_run: Any, local_http: LocalHttpServer
) -> None:
    local_http.routes["/ok"] = Reply(200, body=b"fine")
    local_http.routes["/jump"] = Reply(302, {"Location": local_http.url("/secret")})
    local_http.routes["/secret"] = Reply(200, body=b"secret")
    policy = OutboundPolicy.parse(False, "localhost")
    base = f"http://localhost:{local_http.port}"

    allowed = await guarded_run(policy, _call(f"{base}/ok"))
    assert allowed["status"] == "success"
    assert allowed["nodes"]["Call"]["output"]["body"] == "fine"

    redirected = await guarded_run(policy, _call(f"{base}/jump"))
    assert redirected["status"] == "error"
    assert "refused: 127.0.0.1 is a loopback address" in redirected["nodes"]["Call"]["error"]
    assert [r.target for r in local_http.requests] == ["/ok", "/jump"]


async def test_a_cidr_in_the_allow_list_opens_loopback(
    guarded_run: Any, local_http: LocalHttpServer
) -> None:
    local_http.routes["/ok"] = Reply(200, body=b"fine")
    record = await guarded_run(
        OutboundPolicy.parse(False, "127.0.0.0/8"), _call(local_http.url("/ok"))
    )
    assert record["status"] == "success"


async def test_the_default_engine_fixture_reaches_loopback(
    run_workflow: RunWorkflow, local_http: LocalHttpServer
) -> None:
    local_http.routes["/ok"] = Reply(200, body=b"fine")
    record = await run_workflow(_call(local_http.url("/ok")))
    assert record["status"] == "success"


async def test_the_execution_service_refuses_loopback_unless_allowed(
    start_execution: StartExecution, local_http: LocalHttpServer
) -> None:
    local_http.routes["/ok"] = Reply(200, body=b"fine")
    data = _call(local_http.url("/ok"))
    closed = await start_execution(http_allow_private=False)
    refused = await closed.cache.result(await closed.start(data))
    assert refused["status"] == "error"
    assert "is a loopback address" in refused["error"]["message"]
    opened = await start_execution(http_allow_private=False, http_allow_hosts="127.0.0.1")
    allowed = await opened.cache.result(await opened.start(data))
    assert allowed["status"] == "success"


def test_the_settings_read_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert defaults.http_allow_private is False
    assert defaults.http_allow_hosts == ""
    monkeypatch.setenv("HOOKLINE_HTTP_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("HOOKLINE_HTTP_ALLOW_HOSTS", "api.internal,10.0.0.0/8")
    settings = Settings()
    assert settings.http_allow_private is True
    assert settings.http_allow_hosts == "api.internal,10.0.0.0/8"


def test_hookline_dev_allows_private_addresses_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert dev_settings(Settings()).http_allow_private is True
    monkeypatch.setenv("HOOKLINE_HTTP_ALLOW_PRIVATE", "false")
    assert dev_settings(Settings()).http_allow_private is False
