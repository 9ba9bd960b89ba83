"""Pure computations of the harness: profile summaries, histogram quantiles, the bar."""

from __future__ import annotations

import math

import pytest

from bench.bar import DIRECT, SAVE_OFF, SAVE_ON, check_bar
from bench.load import LoadResult
from bench.profiling import summarise_collapsed
from bench.scrape import Scrape, bucket_quantile, histogram_delta

COLLAPSED = """\
main (runtime/cli.py:1);call (hookline_edge/controllers/webhooks.py:10);sendmsg (libc.so.6) 6
main (runtime/cli.py:1);call (hookline_edge/controllers/webhooks.py:12);loads (json/__init__.py:3) 2
main (runtime/cli.py:1);gc_collect_main (libpython3.11.so.1.0) 2
main (runtime/cli.py:1);BaseEventLoop._run_once (asyncio/base_events.py:1);epoll_wait (libc.so.6) 90
"""


def test_profile_summary_leaves_idle_waits_out_and_groups_by_package_and_function() -> None:
    summary = summarise_collapsed(COLLAPSED)

    assert (summary.samples, summary.idle_samples) == (10, 90)
    assert dict(summary.own_by_package) == {
        "libc (system calls: socket writes, wake-ups)": 60.0,
        "json": 20.0,
        "CPython (interpreter, GC)": 20.0,
    }
    # Both lines of `call` count once per stack, as one function.
    assert summary.hookline_inclusive == [("call (controllers/webhooks.py)", 80.0)]


def test_frames_of_a_service_in_its_folder_count_under_its_package() -> None:
    summary = summarise_collapsed(
        "main (hookline_launcher/cli.py:1);"
        "store (/srv/hookline/services/cache/hookline_cache/domain/delivery.py:7) 3\n")

    assert dict(summary.own_by_package) == {"hookline hookline_cache/domain/delivery": 100.0}
    assert summary.hookline_inclusive == [("store (domain/delivery.py)", 100.0)]


def test_bucket_quantile_interpolates_inside_the_bucket_of_the_delta() -> None:
    name = "d_seconds"
    before: Scrape = {(f"{name}_bucket", (("le", "0.001"),)): 5.0,
              (f"{name}_bucket", (("le", "0.01"),)): 5.0,
              (f"{name}_bucket", (("le", "+Inf"),)): 5.0}
    after: Scrape = {(f"{name}_bucket", (("le", "0.001"),)): 55.0,
             (f"{name}_bucket", (("le", "0.01"),)): 105.0,
             (f"{name}_bucket", (("le", "+Inf"),)): 105.0}

    buckets = histogram_delta(before, after, name)

    assert buckets == {0.001: 50.0, 0.01: 100.0, math.inf: 100.0}
    assert bucket_quantile(buckets, 0.5) == pytest.approx(0.001)
    assert bucket_quantile(buckets, 0.75) == pytest.approx(0.0055)
    assert bucket_quantile({}, 0.5) is None


def _load(scenario: str, concurrency: int, rps: float, p50: float) -> LoadResult:
    return LoadResult(scenario, concurrency, 10.0, int(rps * 10), rps, int(rps * 10), 0, {}, {},
                      p50, p50 * 3, p50, p50 * 2, p50 * 3, p50 * 4)


def test_performance_bar_passes_and_fails_line_by_line() -> None:
    load = [_load(SAVE_OFF, 16, 1200.0, 10.0), _load(SAVE_OFF, 1, 100.0, 2.5),
            _load(SAVE_ON, 16, 1000.0, 20.0), _load(DIRECT, 16, 800.0, 15.0)]
    delivery = {"push": {"p50_ms": 0.8}, "poll": {"p50_ms": 60.0}}
    waiters = {"requested": 5000, "cache_redis_subscribed_peak": 1,
               "cache_redis_connections_peak": 6, "cache_redis_connections_before": 2}

    lines = check_bar(load, delivery, waiters)

    assert [line.passed for line in lines] == [True, True, True, True, False, True, False]
    assert "75x" in lines[3].measured
    assert "1.20x" in lines[4].measured
    assert "1.50x" in lines[5].measured  # the queue against the direct hand-off
    assert "growth 4" in lines[6].measured


def test_performance_bar_says_what_was_not_measured() -> None:
    lines = check_bar([], {}, None)

    assert all(line.passed is None for line in lines)
    assert all(line.measured == "not measured" for line in lines)


def test_a_comparison_states_medians_and_their_ratios() -> None:
    from bench.comparison import Round, Side, summary

    def side(version: str, *rps: float) -> Side:
        return Side(version, "0123456789abcdef", [
            Round(version, value, 10.0, 0, 1000 / value, 0.05, {}) for value in rps])

    lines = summary(side("c408994", 900.0, 1000.0, 1100.0), side("HEAD", 1000.0, 1200.0, 950.0))

    assert lines[0].startswith("c408994 (0123456789ab): median 1,000 req/s over 3 rounds "
                               "(min 900, max 1,100)")
    assert lines[1].startswith("HEAD (0123456789ab): median 1,000 req/s")
    assert lines[2] == "throughput HEAD / c408994: 1.00x"
    assert lines[3] == "CPU per request HEAD / c408994: 1.00x"
