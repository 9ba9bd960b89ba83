"""The cache service (``hookline.cache.v1.CacheService``): the only reader and writer
of execution results in Redis, and the way a waiting edge gets its result.

    server.py     CacheServer: lifecycle (Redis, the shared subscription, gRPC)
    servicer.py   proto <-> domain
    domain/       delivery rules, waiters, the stored-value codec (no I/O libraries)
    storage/      interfaces (base) and adapters: Redis, memory, saved records
"""
