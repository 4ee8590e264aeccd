"""What happens next when an SLA clock breaches, registered by the apps above tickets.

The tickets app sits below metering (and the others) in the import layers, so it
cannot call their workflows itself. An app registers a handler at start-up
(``AppConfig.ready``) for the clocks it owns, keyed by the clock's stop event (which
each clock copies from its definition, so a running clock keeps its routing even if
the policy is edited). ``clocks_sweep`` calls the handlers of each clock breached in
its pass, once, after the breach is recorded, each in its own savepoint.

A handler is called as ``handler(clock=clock_instance, now=now)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BreachHandler = Callable[..., Any]

_breach_handlers: dict[str, list[BreachHandler]] = {}


def register_breach_handler(stop_event: str, handler: BreachHandler) -> None:
    handlers = _breach_handlers.setdefault(stop_event, [])
    # ready() can run more than once in a process (test runners, autoreload).
    if handler not in handlers:
        handlers.append(handler)


def unregister_breach_handler(stop_event: str, handler: BreachHandler) -> None:
    handlers = _breach_handlers.get(stop_event, [])
    if handler in handlers:
        handlers.remove(handler)


def breach_handlers(stop_event: str) -> tuple[BreachHandler, ...]:
    return tuple(_breach_handlers.get(stop_event, ()))


__all__ = [
    "BreachHandler",
    "breach_handlers",
    "register_breach_handler",
    "unregister_breach_handler",
]
