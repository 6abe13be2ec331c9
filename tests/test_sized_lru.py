"""service/sized_lru.py: the one size-bounded LRU (metadata bodies, decode attributes,
pixel payloads)."""

from __future__ import annotations

from service.sized_lru import SizedLRU


def test_evicts_least_recently_used_and_says_how_many() -> None:
    lru: SizedLRU[str, str] = SizedLRU(100, largest=100)
    assert lru.put_sized("a", "A", 40) == 0
    assert lru.put_sized("b", "B", 40) == 0
    assert lru.get("a") == "A"  # a is now the most recent
    assert lru.put_sized("c", "C", 60) == 1  # 140 > 100: b goes
    assert lru.get("b") is None and lru.get("a") == "A" and lru.size == 100
    assert lru.put_sized("d", "D", 100) == 2  # everything else goes
    assert len(lru) == 1
    lru.clear()
    assert len(lru) == 0 and lru.size == 0 and lru.get("d") is None


def test_values_larger_than_the_largest_are_not_kept() -> None:
    quarter: SizedLRU[str, str] = SizedLRU(100)  # by default a quarter of the bound
    assert quarter.put_sized("big", "x", 26) == 0 and quarter.get("big") is None
    quarter.put_sized("fits", "y", 25)
    assert quarter.get("fits") == "y"
    whole: SizedLRU[str, str] = SizedLRU(100, largest=100)
    whole.put_sized("big", "x", 100)
    assert whole.get("big") == "x"
