"""The workflow language: the JSON of DESIGN.md section 2, validated, and its graph.

``parse_workflow(data)`` turns a user's JSON object into a ``Workflow`` or raises
``InvalidArgument`` whose message names the bad node or field. The trigger service
validates with it on the way in; the execution service reads stored workflows with it.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Self

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from hookline_runtime.errors import InvalidArgument
from hookline_runtime.workflow.calls import ExecuteWorkflowParameters
from hookline_runtime.workflow.node_settings import NodeSettings, parse_node_settings
from hookline_runtime.workflow.routing import (
    MergeParameters,
    SwitchParameters,
    check_connection_output,
    check_merge_inputs,
)

__all__ = [
    "NODE_TYPES",
    "TRIGGER_TYPES",
    "Connection",
    "Node",
    "NodeSettings",
    "WebhookParameters",
    "Workflow",
    "WorkflowSettings",
    "parse_workflow",
    "validate_settings",
]

TRIGGER_TYPES = frozenset({"webhook", "schedule", "manual"})
NODE_TYPES = frozenset(
    {
        *TRIGGER_TYPES,
        "set",
        "if",
        "switch",
        "merge",
        "httpRequest",
        "wait",
        "httpResponse",
        "stopAndError",
        "executeWorkflow",
    }
)
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PATH_RE = re.compile(r"^[A-Za-z0-9\-_./]+$")

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ------------------------------------------------------------------ settings
class WorkflowSettings(_Strict):
    """Per-workflow settings; every key has a default, unknown keys are rejected."""

    saveExecutionToDatabase: bool = True
    resultTtlSeconds: int = Field(default=60, ge=1, le=86400)
    responseTimeoutSeconds: int = Field(default=30, ge=1, le=3600)
    errorWorkflow: str | None = Field(default=None, min_length=1, max_length=255)
    """The workflow to run when a run of this one fails (its id, or its name); None for
    none."""


# ------------------------------------------------------------ node parameters
def _credential_name(value: str) -> str:
    if "{{" in value or "{%" in value:
        raise ValueError("must be a credential name, not a template")
    return value


CredentialName = Annotated[NonEmpty, AfterValidator(_credential_name)]


class _SecretOrCredential(_Strict):
    """Auth whose secret is written in it or comes from the credential it names
    (DESIGN.md section 2, "Credentials"): one or the other."""

    secret_fields: ClassVar[tuple[str, ...]] = ()
    credential: CredentialName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [name for name in self.secret_fields if getattr(self, name) is not None]
        fields = " and ".join(self.secret_fields)
        if self.credential is not None and given:
            raise ValueError(f"give either {fields} or credential, not both")
        if self.credential is None and len(given) != len(self.secret_fields):
            raise ValueError(f"needs {fields}, or credential naming a stored credential")
        return self


class HeaderAuth(_SecretOrCredential):
    secret_fields = ("value",)
    type: Literal["header"]
    name: NonEmpty
    value: NonEmpty | None = None


class BasicAuth(_SecretOrCredential):
    secret_fields = ("username", "password")
    type: Literal["basic"]
    username: NonEmpty | None = None
    password: str | None = None


class HmacAuth(_SecretOrCredential):
    secret_fields = ("secret",)
    type: Literal["hmac"]
    header: NonEmpty
    secret: NonEmpty | None = None


DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300
"""How far a signed timestamp may be from now (either way) by default."""

ToleranceSeconds = Annotated[int, Field(ge=1, le=86400)]


class SlackAuth(_Strict):
    """Slack's signing: ``X-Slack-Signature: v0=hex(hmac_sha256(secret,
    "v0:" + X-Slack-Request-Timestamp + ":" + body))``, the timestamp within tolerance."""

    type: Literal["slack"]
    secret: NonEmpty
    toleranceSeconds: ToleranceSeconds = DEFAULT_SIGNATURE_TOLERANCE_SECONDS


class StripeAuth(_Strict):
    """Stripe's signing: ``Stripe-Signature: t=TIMESTAMP,v1=HEX[,v1=HEX...]`` with
    ``HEX = hex(hmac_sha256(secret, TIMESTAMP + "." + body))``, within tolerance."""

    type: Literal["stripe"]
    secret: NonEmpty
    toleranceSeconds: ToleranceSeconds = DEFAULT_SIGNATURE_TOLERANCE_SECONDS


WebhookAuth = Annotated[
    HeaderAuth | BasicAuth | HmacAuth | SlackAuth | StripeAuth, Field(discriminator="type")
]


class WebhookParameters(_Strict):
    path: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    responseMode: Literal["onReceived", "lastNode", "responseNode"] = "onReceived"
    auth: WebhookAuth | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip("/")
        if not value or not _PATH_RE.match(value) or ".." in value.split("/"):
            raise ValueError("must be letters, digits and -_./ (for example 'orders/new')")
        return value


class ManualParameters(_Strict):
    pass


class ScheduleParameters(_Strict):
    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) not in (5, 6):
            raise ValueError("must have 5 fields, or 6 with a leading seconds field")
        expression = " ".join(fields)
        if not croniter.is_valid(expression, second_at_beginning=len(fields) == 6):
            raise ValueError(f"is not a valid cron expression: {value!r}")
        return expression

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"is not an IANA time zone: {value!r}") from None
        return value


class SetParameters(_Strict):
    values: dict[str, Any]
    keepOnlySet: bool = False


class IfParameters(_Strict):
    condition: Any


NumberOrTemplate = float | int | str


class HttpRequestParameters(_Strict):
    url: NonEmpty
    method: str = "GET"
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    timeoutSeconds: NumberOrTemplate = 10
    credential: CredentialName | None = None
    """A stored credential (httpHeader, httpBasic or bearer) that sets a header."""

    @field_validator("timeoutSeconds")
    @classmethod
    def _timeout(cls, value: NumberOrTemplate) -> NumberOrTemplate:
        if not isinstance(value, str) and not 0 < value <= 600:
            raise ValueError("must be more than 0 and at most 600")
        return value


class WaitParameters(_Strict):
    seconds: NumberOrTemplate

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: NumberOrTemplate) -> NumberOrTemplate:
        if not isinstance(value, str) and not 0 <= value <= 86400:
            raise ValueError("must be between 0 and 86400")
        return value


class HttpResponseParameters(_Strict):
    statusCode: int | str = 200
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None

    @field_validator("statusCode")
    @classmethod
    def _status(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 100 <= value <= 599:
            raise ValueError("must be an HTTP status from 100 to 599")
        return value


class StopAndErrorParameters(_Strict):
    message: str = "Workflow stopped with an error"


PARAMETER_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookParameters,
    "manual": ManualParameters,
    "schedule": ScheduleParameters,
    "set": SetParameters,
    "if": IfParameters,
    "switch": SwitchParameters,
    "merge": MergeParameters,
    "httpRequest": HttpRequestParameters,
    "wait": WaitParameters,
    "httpResponse": HttpResponseParameters,
    "stopAndError": StopAndErrorParameters,
    "executeWorkflow": ExecuteWorkflowParameters,
}


# ------------------------------------------------------------------- structure
class _NodeIn(_Strict):
    name: NonEmpty
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    position: list[float] | None = None
    # Node settings (hookline_runtime.workflow.node_settings validates them, naming the node).
    retry: Any = None
    onError: Any = None
    forEach: Any = None
    forEachConcurrency: Any = None


class _ConnectionIn(_Strict):
    from_: NonEmpty = Field(alias="from")
    to: NonEmpty
    output: NonEmpty = "main"


class _WorkflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonEmpty
    active: StrictBool = True  # as PATCH: true or false, not "yes" or 1
    settings: dict[str, Any] = Field(default_factory=dict)
    nodes: list[_NodeIn] = Field(min_length=1)
    connections: list[_ConnectionIn] = Field(default_factory=list)
    # Server-assigned; accepted (and ignored) so a fetched workflow can be sent back.
    id: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    type: str
    parameters: dict[str, Any]
    """The parameters as the user wrote them (templates unrendered)."""
    params: BaseModel
    """The same, validated, with defaults filled in."""
    position: list[float] | None = None
    settings: NodeSettings = field(default_factory=NodeSettings)
    """retry, onError, forEach, forEachConcurrency (hookline_runtime.workflow.node_settings)."""

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGER_TYPES

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "parameters": self.parameters}
        out.update(self.settings.to_json())
        if self.position is not None:
            out["position"] = self.position
        return out


@dataclass(frozen=True, slots=True)
class Connection:
    source: str
    target: str
    output: str = "main"

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "output": self.output}


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated workflow. ``order`` lists node names in a topological order."""

    name: str
    active: bool
    settings: WorkflowSettings
    nodes: dict[str, Node]
    connections: tuple[Connection, ...]
    order: tuple[str, ...]
    trigger: Node
    incoming: dict[str, tuple[Connection, ...]] = field(default_factory=dict)
    outgoing: dict[str, tuple[Connection, ...]] = field(default_factory=dict)

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def webhook(self) -> WebhookParameters | None:
        params = self.trigger.params
        return params if isinstance(params, WebhookParameters) else None

    def to_json(
        self, *, id: str | None = None, created_at: str | None = None, updated_at: str | None = None
    ) -> dict[str, Any]:
        """The public JSON, every setting shown."""
        out: dict[str, Any] = {}
        if id is not None:
            out["id"] = id
        out.update(
            name=self.name,
            active=self.active,
            settings=self.settings.model_dump(),
            nodes=[n.to_json() for n in self.nodes.values()],
            connections=[c.to_json() for c in self.connections],
        )
        if created_at is not None:
            out["createdAt"] = created_at
        if updated_at is not None:
            out["updatedAt"] = updated_at
        return out


# ------------------------------------------------------------------ validation
def _where(loc: tuple[int | str, ...], nodes: list[Any] | None = None) -> str:
    parts: list[str] = []
    i = 0
    while i < len(loc):
        item = loc[i]
        if item == "nodes" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = int(loc[i + 1])
            name = None
            if nodes is not None and index < len(nodes) and isinstance(nodes[index], Mapping):
                name = nodes[index].get("name")
            parts.append(f'node "{name}"' if name else f"nodes[{index}]")
            i += 2
            continue
        if item == "connections" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            parts.append(f"connections[{loc[i + 1]}]")
            i += 2
            continue
        parts.append(str(item))
        i += 1
    return ".".join(parts).replace(".parameters.", " parameter ") or "workflow"


def _first_error(exc: ValidationError, prefix: str = "", nodes: list[Any] | None = None) -> str:
    err = exc.errors()[0]
    loc = _without_union_tags(tuple(err["loc"]))
    where = _where(loc, nodes)
    if prefix:
        where = f"{prefix} {where}" if loc else prefix
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "is not a known field"
    elif err["type"] == "missing":
        message = "is required"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{where}: {message}"


_AUTH_TYPES = frozenset({"header", "basic", "hmac", "slack", "stripe"})


def _without_union_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the union-member tags pydantic puts in error locations."""
    out: list[int | str] = []
    for index, item in enumerate(loc):
        if item in ("int", "str", "float", "bool"):
            continue
        if index and loc[index - 1] == "auth" and item in _AUTH_TYPES:
            continue
        out.append(item)
    return tuple(out)


def validate_settings(raw: Mapping[str, Any]) -> WorkflowSettings:
    """Settings with defaults filled in; InvalidArgument for bad or unknown keys."""
    if not isinstance(raw, Mapping):
        raise InvalidArgument("settings: must be an object", field="settings")
    try:
        return WorkflowSettings.model_validate(dict(raw))
    except ValidationError as exc:
        raise InvalidArgument(_first_error(exc, "settings"), field="settings") from None


def parse_workflow(data: Any) -> Workflow:
    """Validate a workflow JSON object; InvalidArgument names the bad node or field."""
    if not isinstance(data, Mapping):
        raise InvalidArgument("the workflow must be a JSON object")
    try:
        raw = _WorkflowIn.model_validate(dict(data))
    except ValidationError as exc:
        raw_nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else None
        raise InvalidArgument(_first_error(exc, nodes=raw_nodes)) from None
    settings = validate_settings(raw.settings)

    nodes: dict[str, Node] = {}
    for node in raw.nodes:
        label = f'node "{node.name}"'
        if node.name in nodes:
            raise InvalidArgument(f"{label}: the name is used by another node", field=node.name)
        model = PARAMETER_MODELS.get(node.type)
        if model is None:
            known = ", ".join(sorted(NODE_TYPES))
            raise InvalidArgument(
                f'{label}: unknown node type "{node.type}" (known: {known})', field=node.name
            )
        try:
            params = model.model_validate(node.parameters)
        except ValidationError as exc:
            raise InvalidArgument(_first_error(exc, f"{label} parameter"), field=node.name) from None
        if isinstance(params, WebhookParameters):
            node.parameters["path"] = params.path
            if "method" in node.parameters:
                node.parameters["method"] = params.method
        node_settings = parse_node_settings(
            label, node.model_dump(exclude_unset=True), is_trigger=node.type in TRIGGER_TYPES
        )
        nodes[node.name] = Node(
            node.name, node.type, node.parameters, params, node.position, node_settings
        )

    triggers = [n for n in nodes.values() if n.is_trigger]
    if len(triggers) != 1:
        names = ", ".join(f'"{n.name}"' for n in triggers) or "none"
        raise InvalidArgument(
            "nodes: a workflow needs exactly one trigger node (webhook, schedule or manual); "
            f"found {len(triggers)}: {names}",
            field="nodes",
        )
    trigger = triggers[0]

    connections: list[Connection] = []
    seen: set[tuple[str, str, str]] = set()
    for index, conn in enumerate(raw.connections):
        label = f"connections[{index}]"
        for end, name in (("from", conn.from_), ("to", conn.to)):
            if name not in nodes:
                raise InvalidArgument(
                    f'{label}: "{end}" names no node "{name}" (dangling connection)',
                    field="connections",
                )
        check_connection_output(label, nodes[conn.from_], conn.output)
        if conn.to == trigger.name:
            raise InvalidArgument(
                f'{label}: trigger node "{trigger.name}" cannot have incoming connections',
                field="connections",
            )
        if conn.from_ == conn.to:
            raise InvalidArgument(
                f'{label}: node "{conn.to}" connects to itself (cycle)', field="connections"
            )
        key = (conn.from_, conn.to, conn.output)
        if key in seen:
            raise InvalidArgument(f"{label}: duplicate connection", field="connections")
        seen.add(key)
        connections.append(Connection(conn.from_, conn.to, conn.output))

    incoming: dict[str, list[Connection]] = {name: [] for name in nodes}
    outgoing: dict[str, list[Connection]] = {name: [] for name in nodes}
    for connection in connections:
        incoming[connection.target].append(connection)
        outgoing[connection.source].append(connection)
    for name, target in nodes.items():
        check_merge_inputs(target, incoming[name])
    order = _topological_order(list(nodes), incoming, outgoing)

    return Workflow(
        name=raw.name,
        active=raw.active,
        settings=settings,
        nodes=nodes,
        connections=tuple(connections),
        order=tuple(order),
        trigger=trigger,
        incoming={k: tuple(v) for k, v in incoming.items()},
        outgoing={k: tuple(v) for k, v in outgoing.items()},
    )


def _topological_order(
    names: list[str],
    incoming: dict[str, list[Connection]],
    outgoing: dict[str, list[Connection]],
) -> list[str]:
    """Kahn's algorithm, stable in declaration order; InvalidArgument on a cycle."""
    remaining = {name: len({c.source for c in incoming[name]}) for name in names}
    ready = [name for name in names if remaining[name] == 0]
    order: list[str] = []
    position = {name: i for i, name in enumerate(names)}
    while ready:
        ready.sort(key=position.__getitem__)
        name = ready.pop(0)
        order.append(name)
        for target in dict.fromkeys(c.target for c in outgoing[name]):
            remaining[target] -= 1
            if remaining[target] == 0:
                ready.append(target)
    if len(order) != len(names):
        stuck = [n for n in names if n not in set(order)]
        cycle = ", ".join(f'"{n}"' for n in stuck)
        raise InvalidArgument(f"connections: the graph has a cycle through nodes {cycle}",
                              field="connections")
    return order
