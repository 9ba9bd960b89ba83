"""One benchmark run: start the stack, apply the workflows, run every scenario in
order, and collect every figure into a ``RunResult`` (written out by ``bench.report``)."""

from __future__ import annotations

import platform
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psutil
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from bench import scrape as prom
from bench.baseline import measure_baseline
from bench.cpu import CpuMeter
from bench.database import BenchDatabase
from bench.delivery import measure_delivery
from bench.load import LoadResult, run_wrk
from bench.plan import Plan
from bench.processes import ServiceProcess, Stack
from bench.profiling import PySpy, find_py_spy
from bench.source import CodeSource
from bench.waiters import run_waiters
from bench.workflows import REQUEST_BODY, BenchWorkflow, apply_workflows, bench_workflows
from hookline_runtime.logs import get_logger

__all__ = ["BenchRunner", "RunResult", "machine_info"]

log = get_logger(__name__)

# Scenario name -> (workflow key, which edge: push or poll), in the order they run.
LOAD_SCENARIOS: tuple[tuple[str, str, str], ...] = (
    ("lastNode save-off", "last_node_save_off", "push"),
    ("lastNode save-on (PostgreSQL)", "last_node_save_on", "push"),
    ("responseNode", "response_node", "push"),
    ("lastNode save-off, poll delivery", "last_node_save_off", "poll"),
    ("lastNode save-off, 1 MB result", "large_result", "push"),
    ("onReceived", "on_received", "push"),
    ("lastNode save-off, direct hand-off", "last_node_save_off", "direct"),
)
"""(scenario, workflow, route). Routes: ``push`` (edge → trigger → run queue →
execution → cache), ``poll`` (the same through the cache in poll mode) and
``direct``: an edge and a trigger of their own, the trigger without Redis, so it
hands each run to the execution process over gRPC (the path before the run queue,
and its fallback during a Redis outage) — the queue's own cost, measured in the same
run."""


@dataclass
class RunResult:
    """Every figure of one run."""

    plan: dict[str, Any]
    machine: dict[str, Any]
    started_at: str
    code: dict[str, Any] = field(default_factory=dict)
    load: list[LoadResult] = field(default_factory=list)
    server_side: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    waiters: dict[str, Any] | None = None
    profiles: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    startup_seconds: dict[str, float | None] = field(default_factory=dict)


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, memory, OS and Python: what the figures were measured on."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": psutil.cpu_count(logical=True), "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(), "python": platform.python_version(),
    }


class BenchRunner:
    """Runs ``plan`` with processes and logs under ``out_dir``."""

    def __init__(self, plan: Plan, out_dir: Path, redis_url: str, *, log_level: str,
                 result: RunResult, source: CodeSource) -> None:
        self.plan = plan
        self.out_dir = out_dir
        self.redis_url = redis_url
        self.redis_port = urlparse(redis_url).port or 6379
        self.log_level = log_level
        self.result = result
        self.source = source
        self.run_id = secrets.token_hex(4)

    # ---------------------------------------------------------------- stack
    def _declare(self, stack: Stack) -> dict[str, ServiceProcess]:
        cache = stack.add("cache", "cache", HOOKLINE_RESULT_WAIT="push")
        cache_poll = stack.add("cache-poll", "cache", HOOKLINE_RESULT_WAIT="poll")
        execution = stack.add("execution", "execution", HOOKLINE_CACHE_ADDR=cache.address,
                              HOOKLINE_MAX_CONCURRENT_EXECUTIONS=str(self.plan.waiters * 2))
        for c in (cache, cache_poll):
            c.env["HOOKLINE_EXECUTION_ADDR"] = execution.address
        trigger = stack.add("trigger", "trigger", HOOKLINE_EXECUTION_ADDR=execution.address,
                            HOOKLINE_CACHE_ADDR=cache.address)
        # No Redis: runs go to the execution process directly (REDIS_URL="" overrides).
        trigger_direct = stack.add("trigger-direct", "trigger", REDIS_URL="",
                                   HOOKLINE_EXECUTION_ADDR=execution.address,
                                   HOOKLINE_CACHE_ADDR=cache.address)
        upstreams = {"HOOKLINE_TRIGGER_ADDR": trigger.address,
                     "HOOKLINE_EXECUTION_ADDR": execution.address}
        edge = stack.add("edge", "edge", HOOKLINE_CACHE_ADDR=cache.address, **upstreams)
        edge_poll = stack.add("edge-poll", "edge", HOOKLINE_CACHE_ADDR=cache_poll.address,
                              **upstreams)
        edge_direct = stack.add("edge-direct", "edge", HOOKLINE_CACHE_ADDR=cache.address,
                                HOOKLINE_TRIGGER_ADDR=trigger_direct.address,
                                HOOKLINE_EXECUTION_ADDR=execution.address)
        return {"cache": cache, "cache-poll": cache_poll, "execution": execution,
                "trigger": trigger, "trigger-direct": trigger_direct, "edge": edge,
                "edge-poll": edge_poll, "edge-direct": edge_direct}

    def run(self) -> None:
        with BenchDatabase() as database_url:
            stack = Stack(self.out_dir / "logs", {
                "REDIS_URL": self.redis_url,
                "HOOKLINE_DATABASE_URL": database_url,
                "HOOKLINE_SHUTDOWN_GRACE_SECONDS": "5",
                "HOOKLINE_LOG_LEVEL": self.log_level,
            }, code_root=self.source.root,
                pythonpath=None if self.source.ref == "worktree" else self.source.pythonpath)
            (self.out_dir / "logs").mkdir(parents=True, exist_ok=True)
            procs = self._declare(stack)
            try:
                stack.start(procs["cache"], procs["cache-poll"], procs["execution"])
                stack.start(procs["trigger"], procs["trigger-direct"])
                stack.start(procs["edge"], procs["edge-poll"], procs["edge-direct"])
                self.result.startup_seconds = {n: p.ready_seconds for n, p in procs.items()}
                self._scenarios(procs)
            finally:
                for proc in procs.values():
                    code = proc.popen.poll() if proc.popen is not None else None
                    if code is not None:
                        self.result.notes.append(
                            f"{proc.name} had exited (code {code}) before the harness stopped "
                            f"it: a crash, or a signal from outside (see {proc.log_path.name})"
                        )
                self.result.exit_codes = stack.stop_all()

    # ------------------------------------------------------------ scenarios
    def _scenarios(self, procs: dict[str, ServiceProcess]) -> None:
        plan = self.plan
        workflows = bench_workflows(self.run_id, large_bytes=plan.large_bytes,
                                    wait_seconds=plan.wait_seconds)
        apply_workflows(procs["edge"].url, workflows)
        self._until_known(procs["edge-direct"], workflows["last_node_save_off"])
        self.result.baseline = measure_baseline(self.redis_url, procs["cache"].address)
        for scenario, key, route in LOAD_SCENARIOS:
            edge = procs[{"push": "edge", "poll": "edge-poll", "direct": "edge-direct"}[route]]
            cache = procs["cache-poll" if route == "poll" else "cache"]
            trigger = procs["trigger-direct" if route == "direct" else "trigger"]
            concurrencies = plan.large_concurrencies if key == "large_result" \
                else plan.concurrencies
            self._load(scenario, workflows[key], edge, cache, trigger,
                       procs["execution"], concurrencies)
        self._delivery(procs)
        if plan.profile:
            self._profile(procs, workflows["last_node_save_off"])
        self._waiters(procs, workflows["waiting"])

    @staticmethod
    def _until_known(edge: ServiceProcess, workflow: BenchWorkflow) -> None:
        """Until ``edge``'s trigger knows the workflow: the direct-route trigger has no
        Redis change feed and finds new workflows by reloading on a miss."""
        def answered() -> int:
            return httpx.post(workflow.url(edge.url), content=REQUEST_BODY, timeout=10,
                              headers={"Content-Type": "application/json"}).status_code

        until = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.2),
                         retry=retry_if_result(lambda status: status != workflow.expected_status))
        until(answered)  # RetryError after 30 s: the run stops with it

    def _load(self, scenario: str, workflow: BenchWorkflow, edge: ServiceProcess,
              cache: ServiceProcess, trigger: ServiceProcess, execution: ServiceProcess,
              concurrencies: tuple[int, ...]) -> None:
        url = workflow.url(edge.url)
        run_wrk(f"{scenario} (warm-up)", url, concurrency=16, duration_s=self.plan.warmup_s,
                body=REQUEST_BODY)
        self._drain(execution)
        meter = CpuMeter({"edge": edge.pid, "trigger": trigger.pid,
                          "execution": execution.pid, "cache": cache.pid})
        for concurrency in concurrencies:
            before = self._scrape_all(cache, execution)
            meter.start()
            result = run_wrk(scenario, url, concurrency=concurrency,
                             duration_s=self.plan.duration_s, body=REQUEST_BODY)
            # Runs that onReceived answered early still use CPU: count it up to the drain.
            drained = self._drain(execution)
            cpu = meter.stop()
            after = self._scrape_all(cache, execution)
            self.result.load.append(result)
            self.result.server_side[f"{scenario} @c={concurrency}"] = {
                **self._server_side(before, after), "drain_seconds": drained,
                "cpu": asdict(cpu), "cpu_ms_per_request": cpu.per_request_ms(result.requests),
                "others_cpu_share": round(cpu.others_share(), 3),
            }

    def _scrape_all(self, cache: ServiceProcess, execution: ServiceProcess
                    ) -> dict[str, prom.Scrape]:
        out = {}
        for name, proc in (("cache", cache), ("execution", execution)):
            out[name] = prom.scrape(f"http://{proc.metrics_address}/metrics") \
                if proc.metrics_address else {}
        return out

    @staticmethod
    def _server_side(before: dict[str, prom.Scrape], after: dict[str, prom.Scrape]
                     ) -> dict[str, Any]:
        buckets = prom.histogram_delta(before["cache"], after["cache"],
                                       "hookline_result_delivery_seconds")
        p50 = prom.bucket_quantile(buckets, 0.5)
        p99 = prom.bucket_quantile(buckets, 0.99)

        def delta(scrape_key: str, name: str, **labels: str) -> float | None:
            new = prom.value(after[scrape_key], name, **labels)
            old = prom.value(before[scrape_key], name, **labels) or 0.0
            return None if new is None else new - old

        return {
            "delivery_p50_ms_estimate": None if p50 is None else p50 * 1000,
            "delivery_p99_ms_estimate": None if p99 is None else p99 * 1000,
            "deliveries": buckets.get(float("inf")),
            "db_rows_written": delta("execution", "hookline_execution_db_writes_total",
                                     outcome="written"),
            "db_saves_skipped": delta("execution", "hookline_execution_db_writes_total",
                                      outcome="skipped"),
        }

    def _drain(self, execution: ServiceProcess, timeout: float = 120.0) -> float | None:
        """Wait until the execution service runs nothing (runs started by onReceived
        go on after their answer), so the next scenario starts on an idle stack.

        Returns the seconds it took, or None when the gauge cannot be read.
        """
        if execution.metrics_address is None:
            return None
        url = f"http://{execution.metrics_address}/metrics"

        def running() -> float | None:
            return prom.value(prom.scrape(url), "hookline_executions_running")

        started = time.monotonic()
        if running() is None:
            return None
        busy = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.1),
                        retry=retry_if_result(bool))
        try:
            busy(lambda: (running() or 0.0) > 0)
        except RetryError:
            log.warning("executions still running after drain timeout", timeout_s=timeout)
            self.result.notes.append(f"executions still running {timeout:g}s after a scenario")
        return time.monotonic() - started

    def _delivery(self, procs: dict[str, ServiceProcess]) -> None:
        push = measure_delivery(procs["cache"].address, "push",
                                samples=self.plan.delivery_push_samples)
        poll = measure_delivery(procs["cache-poll"].address, "poll",
                                samples=self.plan.delivery_poll_samples, warmup=3)
        self.result.delivery = {"push": push.to_json(), "poll": poll.to_json()}

    def _profile(self, procs: dict[str, ServiceProcess], workflow: BenchWorkflow) -> None:
        binary = find_py_spy()
        if binary is None:
            self.result.notes.append("py-spy not installed: `.venv/bin/pip install py-spy`; "
                                     "profiles skipped.")
            return
        spy = PySpy(binary, self.out_dir, duration_s=self.plan.profile_seconds, native=True)
        pids = {name: procs[name].pid for name in ("edge", "trigger", "execution", "cache")}
        url = workflow.url(procs["edge"].url)
        for fmt in ("flamegraph", "raw"):
            running = spy.start(pids, fmt)
            run_wrk(f"profile ({fmt})", url, concurrency=16,
                    duration_s=self.plan.profile_seconds + 2, body=REQUEST_BODY)
            spy.finish(running)
        self.result.profiles = [s.to_json() for s in spy.summaries(list(pids))]

    def _waiters(self, procs: dict[str, ServiceProcess], workflow: BenchWorkflow) -> None:
        result = run_waiters(
            workflow.url(procs["edge"].url), REQUEST_BODY, count=self.plan.waiters,
            wait_seconds=self.plan.wait_seconds, cache_pid=procs["cache"].pid,
            edge_pid=procs["edge"].pid, redis_url=self.redis_url, redis_port=self.redis_port,
            cache_metrics_url=f"http://{procs['cache'].metrics_address}/metrics"
            if procs["cache"].metrics_address else None,
        )
        self.result.waiters = result.to_json()
