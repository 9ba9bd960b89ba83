"""The execution service's clients of other services."""
