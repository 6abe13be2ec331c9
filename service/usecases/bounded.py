"""Ordered, bounded, concurrent mapping: at most `window` results computed or waiting.

The shape the volume stream (service.usecases.volumes.slices.SliceStream) uses, for any work:
results come back in input order, the pool is refilled as each one is handed
out, so memory is bounded by the window, not by the number of items. `start()`
computes the first window before anything is sent, so an early failure can
still become a problem body; a later failure is raised from the iteration.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class OrderedPool(Generic[Item, Result]):
    """`work(item)` for every item, `window` at a time, yielded in order."""

    def __init__(self, work: Callable[[Item], Result], items: Sequence[Item], window: int, *,
                 name: str = "ordered-pool") -> None:
        self._work = work
        self._items = items
        self._window = max(1, int(window))
        self._pool = ThreadPoolExecutor(max_workers=self._window, thread_name_prefix=name)
        self._pending: deque[Future[Result]] = deque()
        self._next = 0

    def __len__(self) -> int:
        return len(self._items)

    def _submit(self) -> None:
        while len(self._pending) < self._window and self._next < len(self._items):
            self._pending.append(self._pool.submit(self._work, self._items[self._next]))
            self._next += 1

    def start(self) -> OrderedPool[Item, Result]:
        """Compute the first window; raise its first failure (in order) and close."""
        self._submit()
        try:
            for future in list(self._pending):
                future.result()
        except BaseException:
            self.close()
            raise
        return self

    def __iter__(self) -> Iterator[Result]:
        try:
            while self._pending:
                result = self._pending.popleft().result()
                self._submit()  # refill before handing the result out: keep the pool busy
                yield result
        finally:
            self.close()

    def close(self) -> None:
        """Cancel what has not started; running work finishes in the background."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
