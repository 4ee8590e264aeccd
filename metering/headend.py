"""Adapters to the outside: the meters' head-end system (remote reads) and SMS.

Each has a small Protocol and a fake used in development and tests. The
implementation is chosen by a dotted path in settings:

- ``METERING_HEADEND`` (default ``metering.headend.FakeHeadEnd``);
- ``METERING_SMS`` (default ``metering.headend.LoggingSms``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class HeadEndError(Exception):
    """The head-end could not read the register (no answer, meter unreachable)."""


class HeadEndTimeout(HeadEndError):
    """The head-end did not answer within the timeout."""


class HeadEnd(Protocol):
    def read_register(self, meter_serial: str, register: str, *, timeout: float) -> int:
        """The register's current index in kWh; raises HeadEndError or HeadEndTimeout."""
        ...


@dataclass
class FakeHeadEnd:
    """A head-end that answers as told: ``mode`` is "success", "fail" or "timeout".

    On success it returns ``values[(serial, register)]``, else ``values[register]``,
    else ``default``; with no value at all it fails like an unreachable meter.
    """

    mode: str = "success"
    values: dict = field(default_factory=dict)
    default: int | None = None
    calls: list[tuple[str, str, float]] = field(default_factory=list)

    def read_register(self, meter_serial: str, register: str, *, timeout: float) -> int:
        self.calls.append((meter_serial, register, timeout))
        if self.mode == "timeout":
            raise HeadEndTimeout(f"no answer from {meter_serial} within {timeout:g} s")
        if self.mode == "fail":
            raise HeadEndError(f"meter {meter_serial} unreachable")
        value = self.values.get((meter_serial, register), self.values.get(register, self.default))
        if value is None:
            raise HeadEndError(f"meter {meter_serial} has no {register} value")
        return int(value)


def headend_get() -> HeadEnd:
    path = getattr(settings, "METERING_HEADEND", "metering.headend.FakeHeadEnd")
    return import_string(path)()


class SmsSender(Protocol):
    def send(self, *, to: str, body: str) -> None: ...


class LoggingSms:
    """Development and test SMS: logs the message and keeps it in `outbox`."""

    outbox: ClassVar[list[tuple[str, str]]] = []

    def send(self, *, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)
        LoggingSms.outbox.append((to, body))


def sms_get() -> SmsSender:
    path = getattr(settings, "METERING_SMS", "metering.headend.LoggingSms")
    return import_string(path)()
