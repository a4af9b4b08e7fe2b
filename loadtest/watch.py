"""The watchlist: plate entries, exact and wildcard (``*`` any run, ``?`` one character), as a
watchlist file holds them (``streams watchlist load``, ``streams correlate --watchlist``).

Matching is written here rather than taken from the watchlist rule, so the ground truth does not
share the code it checks.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtest.traffic import Vehicle


@dataclass(frozen=True)
class WatchEntry:
    pattern: str
    priority: int

    @property
    def entry_id(self) -> str:
        # What streams.correlate.watchlist.read_watchlist_file names an entry of a file.
        return f"file:{self.pattern.upper()}"

    def matches(self, plate: str) -> bool:
        if "*" not in self.pattern and "?" not in self.pattern:
            return plate == self.pattern
        return _wildcard(self.pattern).fullmatch(plate) is not None


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    )


def make_watchlist(
    rng: random.Random, vehicles: list[Vehicle], convoys: int, exact: int, wildcards: int
) -> list[WatchEntry]:
    """Convoy leaders and random vehicles exactly, plus wildcard entries that match a few
    vehicles each (``?`` for a character, ``*`` for a run)."""
    entries = [WatchEntry(vehicles[2 * k].plate, 1) for k in range(convoys)]
    normal = [v for v in vehicles if v.role == "normal"]
    for vehicle in rng.sample(normal, min(exact, len(normal))):
        entries.append(WatchEntry(vehicle.plate, rng.randint(1, 3)))
    plates = [v.plate for v in vehicles]
    clones = {v.plate for v in vehicles if v.role == "clone"}
    attempts = 0
    while wildcards and attempts < 1000:
        attempts += 1
        plate = rng.choice(normal).plate
        style = attempts % 3
        if style == 0:
            pattern = plate[:2] + "?" + plate[3:]
        elif style == 1:
            pattern = "*" + plate[-5:]
        else:
            pattern = plate[:4] + "?" + plate[5:-1] + "?"
        entry = WatchEntry(pattern, 3)
        hits = sum(1 for p in plates if entry.matches(p))
        if any(entry.matches(p) for p in clones):
            continue  # clones stay off the list: their alerts are the cloned-plate rule's
        if hits <= 4 and all(e.pattern != pattern for e in entries):
            entries.append(entry)
            wildcards -= 1
    return entries
