"""Arrow's buffers from the C library's allocator, which gives freed memory back.

pandas keeps the frames' text in Arrow buffers (pyarrow). Arrow's default
pool on Linux, mimalloc, keeps the pages of freed buffers for Arrow's own
later use: the temporary columns of a sort, a take or a cast stay resident
after they are dropped, and the night's high-water mark climbs stage by stage
(the findings.csv table of 40,036 findings left 56 MiB resident with mimalloc,
26 MiB with the system allocator; the 1M night's reconcile peaked 109 MiB
lower). glibc's malloc returns large blocks to the system when they are freed
and shares the rest with Python's objects. :func:`use_system_allocator` makes
it Arrow's pool for the process, unless the operator chose one with Arrow's
own ``ARROW_DEFAULT_MEMORY_POOL``.
"""

from __future__ import annotations

import os
from typing import Final

#: Arrow's own setting (``system``, ``jemalloc``, ``mimalloc``): when set, it is obeyed.
POOL_ENV: Final = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> bool:
    """Make glibc's malloc the Arrow pool; False when pyarrow is absent or a pool was chosen."""
    if os.environ.get(POOL_ENV):
        return False
    try:
        import pyarrow
    except ImportError:  # pandas then keeps text in Python objects: nothing to choose
        return False
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return True
