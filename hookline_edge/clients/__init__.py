"""The hookline_edge's clients of the services: channels, typed streams, result watches."""
