"""Storage of the cache service: the interfaces (``base``) and one adapter per
backend — Redis (store, subscription, connection state), memory, and the saved
records of the execution service."""
