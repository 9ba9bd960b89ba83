"""Reading the services' Prometheus endpoints: samples by name and labels, histogram
deltas between two scrapes, and a quantile estimated from histogram buckets."""

from __future__ import annotations

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Scrape", "bucket_quantile", "histogram_delta", "scrape", "value"]

# (sample name, sorted label pairs) -> value
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, timeout: float = 5.0) -> Scrape:
    """Every sample of the text exposition at ``url``; empty when it cannot be read."""
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError:
        return {}
    samples: Scrape = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Scrape, name: str, **labels: str) -> float | None:
    """One sample's value, or None when it is not there."""
    return samples.get((name, tuple(sorted(labels.items()))))


def histogram_delta(before: Scrape, after: Scrape, name: str) -> dict[float, float]:
    """Cumulative bucket counts (upper bound -> count) of ``name`` added between scrapes."""
    buckets: dict[float, float] = {}
    for (sample, labels), count in after.items():
        if sample != f"{name}_bucket":
            continue
        bound = float(dict(labels)["le"])
        buckets[bound] = count - before.get((sample, labels), 0.0)
    return dict(sorted(buckets.items()))


def bucket_quantile(buckets: dict[float, float], q: float) -> float | None:
    """Quantile ``q`` of a cumulative histogram, interpolated inside the bucket
    (as Prometheus's histogram_quantile does). None when it is empty."""
    if not buckets:
        return None
    total = buckets.get(math.inf, max(buckets.values()))
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets.items():
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            span = count - lower_count
            fraction = (rank - lower_count) / span if span else 0.0
            return lower_bound + (bound - lower_bound) * fraction
        lower_bound, lower_count = bound, count
    return lower_bound
