"""OrderedPool: order kept, at most `window` items computed ahead, failures where they belong."""

from __future__ import annotations

import threading
import time

import pytest

from service.usecases.bounded import OrderedPool


def test_results_in_input_order_whatever_finishes_first() -> None:
    def work(item: int) -> int:
        time.sleep(0.002 * (10 - item))  # later items finish first
        return item * item

    assert list(OrderedPool(work, list(range(10)), 4).start()) == [n * n for n in range(10)]


def test_no_more_than_the_window_is_computed_ahead() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        return item

    pool = OrderedPool(work, list(range(20)), 3).start()
    assert sorted(started) == [0, 1, 2]
    iterator = iter(pool)
    assert next(iterator) == 0
    time.sleep(0.05)
    assert sorted(started) == [0, 1, 2, 3]  # one handed out, one more submitted
    assert list(iterator) == list(range(1, 20))


def test_a_failure_in_the_first_window_raises_from_start() -> None:
    def work(item: int) -> int:
        if item == 1:
            raise LookupError("item 1")
        return item

    with pytest.raises(LookupError, match="item 1"):
        OrderedPool(work, [0, 1, 2, 3], 2).start()


def test_a_later_failure_raises_from_the_iteration_after_the_good_results() -> None:
    def work(item: int) -> int:
        if item == 5:
            raise LookupError("item 5")
        return item

    got: list[int] = []
    with pytest.raises(LookupError, match="item 5"):
        for result in OrderedPool(work, list(range(8)), 2).start():
            got.append(result)
    assert got == [0, 1, 2, 3, 4]
