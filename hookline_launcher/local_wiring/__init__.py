"""In-process adapters of the services' ports, for the four services in one process
(``hookline_launcher.stack.LocalStack``, which ``hookline dev`` runs).

Each adapter implements a port one service already calls and calls the other
service's domain directly — the object its gRPC servicer calls — with no gRPC and no
serialisation on the way: the edge's ports (webhook path and management API) in
``edge``, those of the trigger, execution and cache services in ``services``. What
makes a direct call behave as the gRPC call it replaces (deadlines, errors, services
that start after their callers) is in ``calls``. Errors are the domains' own
``hookline_runtime.errors`` exceptions, translated only where the port promises others, as
the gRPC adapters do.
"""

from hookline_launcher.local_wiring.calls import Later
from hookline_launcher.local_wiring.edge import (
    LocalCachedResults,
    LocalCredentialAdmin,
    LocalResultWaiter,
    LocalSavedExecutions,
    LocalWebhookGateway,
    LocalWorkflowAdmin,
)
from hookline_launcher.local_wiring.services import (
    LocalCredentialSource,
    LocalExecutionStarter,
    LocalResultSink,
    LocalResultWatcher,
    LocalSavedRecords,
    LocalWorkflowLookup,
)

__all__ = [
    "Later",
    "LocalCachedResults",
    "LocalCredentialAdmin",
    "LocalCredentialSource",
    "LocalExecutionStarter",
    "LocalResultSink",
    "LocalResultWaiter",
    "LocalResultWatcher",
    "LocalSavedExecutions",
    "LocalSavedRecords",
    "LocalWebhookGateway",
    "LocalWorkflowAdmin",
    "LocalWorkflowLookup",
]
