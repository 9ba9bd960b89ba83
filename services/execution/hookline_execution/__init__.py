"""The execution service: runs workflows and keeps the saved execution records.

server.py      ExecutionServer: the process lifecycle (database, cache client,
               HTTP client, gRPC server, graceful drain of runs)
servicer.py    ExecutionService RPCs: proto <-> domain
cache_sink.py  hands results and early responses to the cache service
domain/        the engine, expressions, node handlers, records, run scheduling
storage/       saved records in the ``executions`` table
"""
