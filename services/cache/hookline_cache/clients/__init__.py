"""The cache service's clients of other services."""
