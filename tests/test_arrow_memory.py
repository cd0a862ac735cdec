"""licensewatch.arrow_memory: Arrow's buffers from glibc's malloc, unless the operator chose."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from licensewatch import arrow_memory


@pytest.fixture(autouse=True)
def _pool_restored() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_the_system_allocator_becomes_arrows_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(arrow_memory.POOL_ENV, raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert arrow_memory.use_system_allocator()
    assert pa.default_memory_pool().backend_name == "system"
    assert pa.array(["text from now on"]).buffers()[-1] is not None  # and it allocates


def test_a_pool_the_operator_chose_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(arrow_memory.POOL_ENV, "mimalloc")
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert not arrow_memory.use_system_allocator()
    assert pa.default_memory_pool().backend_name == "mimalloc"
