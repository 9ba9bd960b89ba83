"""The hookline benchmark harness: ``bench/run`` (``python -m bench``).

It starts hookline as separate processes against the local Redis and a fresh
PostgreSQL database, applies its own workflows through the public API, drives them
with ``wrk`` and purpose-built clients, and writes JSON, Markdown and a PNG chart
into ``bench/results/<timestamp>/`` and ``bench/results/latest/``.
"""
