"""The trigger service's clients of other services (and of the run queue)."""
