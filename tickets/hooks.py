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


# --- Ombudsman remedies -------------------------------------------------------------------
# When a supervisor records an ombudsman's remedy as carried out, the apps above settle
# what it involves (billing books the money remedy on the customer's account). A handler
# is called as ``handler(complaint=complaint, actor=user, now=now)`` inside the same
# transaction, once, when the remedy is first marked done; raising aborts the marking.

RemedyHandler = Callable[..., Any]

_remedy_handlers: list[RemedyHandler] = []


def register_remedy_handler(handler: RemedyHandler) -> None:
    if handler not in _remedy_handlers:
        _remedy_handlers.append(handler)


def remedy_handlers() -> tuple[RemedyHandler, ...]:
    return tuple(_remedy_handlers)


__all__ = [
    "BreachHandler",
    "RemedyHandler",
    "breach_handlers",
    "register_breach_handler",
    "register_remedy_handler",
    "remedy_handlers",
    "unregister_breach_handler",
]
