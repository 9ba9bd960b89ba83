"""``settle_heap``: start-up objects frozen, young collections rarer, later cycles
still freed. Each check runs in a fresh interpreter, whose collector it may change."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHECK = textwrap.dedent(
    """
    import gc, weakref
    from hookline_runtime.heap import YOUNG_THRESHOLD, settle_heap

    class Node:
        pass

    started = [object() for _ in range(1000)], {"config": [1, 2, 3]}
    before = gc.get_threshold()
    frozen = settle_heap()
    assert frozen == gc.get_freeze_count() > 1000, frozen
    assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2]), gc.get_threshold()

    # A cycle made after start-up is freed by the collector, once enough has been
    # allocated since: no explicit gc.collect().
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    assert gone() is not None
    keep = []
    for _ in range(YOUNG_THRESHOLD * 3):
        keep.append([])
    assert gone() is None, "the cycle made after start-up was not collected"
    print("ok")
    """
)


def test_settle_heap_freezes_start_up_and_still_frees_later_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
