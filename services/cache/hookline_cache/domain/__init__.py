"""The cache service's domain: encoding results, waiters, and the delivery rules.
Plain Python: no grpc, litestar or sqlalchemy here."""
