"""The shared layer of hookline: settings, logs, errors, the database, Redis, the
gRPC transport and the workflow language. Nothing here imports a service, the hookline_edge
or the launcher (checked by the import-linter contracts in pyproject.toml)."""
