"""The gRPC transport between services: servers, clients, their security, the typed
item streams and trace context carried on them."""
