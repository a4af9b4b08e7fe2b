"""Retrospective search over the warehouse: one request model per query kind, one entry point.

    from streams.search import KINDS, run_search
    result = run_search(warehouse, KINDS["plate"](plate="浙A8*5", fuzzy=True))

Every value reaches the warehouse as a bound parameter; see ``docs/search.md`` for the exact
definition of each kind.
"""

from streams.search.queries import KINDS, SearchResult, run_search
from streams.search.requests import (
    AlertSearch,
    Area,
    AreaSearch,
    CollisionSearch,
    CollisionSet,
    CorrelationSearch,
    CotravelSearch,
    DeviceStatsSearch,
    FaceSearch,
    FirstSeenSearch,
    PlateSearch,
    SearchRequest,
    TrajectorySearch,
)

__all__ = [
    "KINDS",
    "AlertSearch",
    "Area",
    "AreaSearch",
    "CollisionSearch",
    "CollisionSet",
    "CorrelationSearch",
    "CotravelSearch",
    "DeviceStatsSearch",
    "FaceSearch",
    "FirstSeenSearch",
    "PlateSearch",
    "SearchRequest",
    "SearchResult",
    "TrajectorySearch",
    "run_search",
]
