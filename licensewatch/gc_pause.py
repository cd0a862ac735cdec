"""The cyclic garbage collector kept out of the way of the night's bulk reads.

Reading a million users builds millions of small containers (each page's
dicts, a tuple of SKU ids a user) that live until the frames are built or for
the whole night. CPython's collector runs a full collection, which walks every
tracked object, each time enough new containers have survived: while the
accounts pull grows, that is dozens of walks over a growing heap, measured at
24 of the 1M night's 58 seconds of Graph pull (a bench of 62,100 users parsed
16 times: 31 s collected, 7 s with collection paused). Nothing a pull builds
is a reference cycle that needs the collector: it is freed by reference
counting as usual. :func:`paused` therefore pauses the collector for such a
read and then freezes what exists (:func:`gc.freeze`, no walk), so that the
night's later collections do not walk the pulled data again. Frozen objects
are still freed by reference counting when the run drops them; :func:`thaw`
at the end of the run gives them back to the collector, which then frees any
cycle that did form meanwhile. (No full collection after the read: at 1M it
cost 2.6 s, and in a process that has run many nights, such as the tests,
it walks all of them every night.)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block; what exists after it is frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def thaw() -> None:
    """Give what :func:`paused` froze back to the collector (the run is over)."""
    gc.unfreeze()
