"""A throwaway redis-server on a free port that a test may stop and start again.

Given a data folder it keeps what it was given across a stop and a start (append-only
file, fsync on every write), as the README asks of a Redis that runs durable queues:
runs queued before it stopped are still there when it returns. Without one it keeps
nothing, like the shared test Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

__all__ = ["ThrowawayRedis"]


class ThrowawayRedis:
    """``start()`` / ``stop()`` a private redis-server, always on the same port."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
        self._binary = binary
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        keeping = (
            ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self._data_dir)]
            if self._data_dir is not None
            else ["--appendonly", "no"]
        )
        self._proc = subprocess.Popen(
            [self._binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             *keeping, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
