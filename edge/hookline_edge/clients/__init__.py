"""The hookline_edge's clients of the services: channels, typed streams, result watches,
and the gRPC adapters of its ports (``stream_ports``, ``management``)."""
