"""Extension points that later apps fill without accounts importing them.

Billing, for example, registers a check that refuses erasure while a balance
or a dispute is open; accounts only knows the list, never the app.
"""

from collections.abc import Callable

# Each blocker takes an Account and returns a reason (str) to refuse, or None.
erasure_blockers: list[Callable[[object], str | None]] = []


def register_erasure_blocker(check: Callable[[object], str | None]) -> Callable:
    if check not in erasure_blockers:
        erasure_blockers.append(check)
    return check
