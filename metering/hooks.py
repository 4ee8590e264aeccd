"""Extension points that later apps register into (billing is planned, not built).

`rebill_requests` holds callables ``(supply_point_id, start, end)`` called after a
re-estimation changed reads between `start` and `end`, so the invoices resting on
them can be flagged for rebilling. Billing appends its handler at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

RebillRequest = Callable[[int, datetime, datetime], None]

rebill_requests: list[RebillRequest] = []


def rebill_request(supply_point_id: int, start: datetime, end: datetime) -> None:
    for handler in list(rebill_requests):
        handler(supply_point_id, start, end)
