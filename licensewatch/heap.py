"""Freed memory given back to the system after each stage of the night (glibc's ``malloc_trim``).

glibc's malloc gives a freed block back to the system only when it is large
(mapped on its own) or at the top of the heap. What the pulls, reconcile and
the emails free in between (the children's answers as they are unpickled,
the folded keys, the columns made Python objects for a lookup) stays
resident, and each stage's peak then comes on top of the one before: after
the 1M night's pulls the process held 1,040 MiB, of which ``malloc_trim``
gave back 343 MiB (the night's peak went from 1,679 to about 1,330 MiB with
this and the inputs dropped after reconcile).
:func:`release`, which :class:`~licensewatch.night.stages.Stages` calls after
each stage, hands the free pages back; it takes milliseconds. Elsewhere (not
Linux, or a C library without ``malloc_trim`` such as musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release() -> bool:
    """Give the heap's free pages back to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
