"""Shared helpers of the demo generator: moments relative to ``as_of``, timestamps, GUIDs, picks.

Everything random is drawn from the one generator passed in, so the same seed
and ``as_of`` always give the same organization.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import random
import time
from datetime import date

DAY = 86_400
_GUID_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_GUID_V4 = (0x4 << 76) | (0x2 << 62)


class Moments:
    """Moments relative to ``as_of`` midnight UTC, drawn from the generator's random stream."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.base = calendar.timegm((as_of.year, as_of.month, as_of.day, 0, 0, 0, 0, 0, 0))

    def ago(self, low: int, high: int) -> int:
        """A moment more than ``low`` and less than ``high + 1`` whole days before as_of."""
        return self.base - low * DAY - 1 - int(self.rng.random() * ((high - low + 1) * DAY - 1))


@functools.cache
def _date(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * DAY))


@functools.cache
def _time(s: int) -> str:
    return f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"


def iso(epoch: int) -> str:
    """Epoch seconds as Graph writes a timestamp: ``2019-12-31T08:30:00Z``."""
    days, seconds = divmod(epoch, DAY)  # few distinct days and times: format each once
    return _date(days) + _time(seconds)


def day(epoch: int) -> str:
    """Epoch seconds as a calendar date: ``2019-12-31``."""
    return _date(epoch // DAY)


def guid(rng: random.Random) -> str:
    """A random version-4 GUID in Graph's lower-case spelling."""
    bits = rng.getrandbits(128) & _GUID_MASK | _GUID_V4  # version 4, RFC 4122 variant
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
    """One value of ``(values, cumulative weights)``."""
    values, cumulative = table
    return values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
