"""Consumption exports shared by the API and the portal: the query parameters, the
streamed CSV and the Green Button "Download My Data" feed (NAESB ESPI 3.3, Atom).

- CSV columns: local time (ISO 8601 with its offset), UTC time, kWh (3 decimals), quality.
  Hourly rows are formatted by PostgreSQL and read through a server-side cursor, so a
  response of any length is streamed with flat memory.
- The ESPI feed holds a UsagePoint, its MeterReading, the ReadingType (Wh, power of ten 0,
  interval length) and IntervalBlocks (one per local day for hours, one for the period
  otherwise) whose IntervalReadings carry value, timePeriod and ReadingQuality. The
  schemas are shipped in `metering/espi/` (Apache-2.0).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

from lxml import etree
from rest_framework import serializers

from . import selectors
from .domain import ESPI_QUALITY
from .selectors import GROUPS, PARIS, Consumption

ESPI_DIR = Path(__file__).resolve().parent / "espi"
USAGE_XSD = ESPI_DIR / "usage.xsd"
ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
MAX_PERIOD = timedelta(days=3 * 366)
CSV_HEADER = "local_time,utc_time,kwh,quality\r\n"


# --- Query parameters ----------------------------------------------------------------


def parse_instant(value: str) -> datetime:
    """An ISO date (local midnight, Europe/Paris) or date-time (naive: Europe/Paris)."""
    value = value.strip()
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=PARIS)
    instant = datetime.fromisoformat(value)
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=PARIS)


class InstantField(serializers.CharField):
    default_error_messages = {
        "invalid": "Enter an ISO date (2025-01-31) or date-time (2025-01-31T00:00:00+01:00)."
    }

    def to_internal_value(self, data) -> datetime:
        text = super().to_internal_value(data)
        try:
            return parse_instant(text)
        except ValueError:
            self.fail("invalid")


class ConsumptionQuerySerializer(serializers.Serializer):
    """period_from inclusive, period_to exclusive; at most three years."""

    period_from = InstantField()
    period_to = InstantField()
    group_by = serializers.ChoiceField(choices=GROUPS, default="day")

    def validate(self, attrs: dict) -> dict:
        if attrs["period_to"] <= attrs["period_from"]:
            raise serializers.ValidationError({"period_to": ["Must be after period_from."]})
        if attrs["period_to"] - attrs["period_from"] > MAX_PERIOD:
            raise serializers.ValidationError({"period_to": ["The period is at most 3 years."]})
        return attrs


def default_period(*, today: date, months: int = 24) -> tuple[str, str]:
    """The last `months` local months, the current one included (ISO dates)."""
    year, month = today.year, today.month - (months - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1).isoformat(), (today + timedelta(days=1)).isoformat()


def export_filename(*, supply_point, start: datetime, end: datetime, group_by: str, ext: str):
    return f"consommation-{supply_point.identifier}-{start:%Y%m%d}-{end:%Y%m%d}-{group_by}.{ext}"


# --- CSV -------------------------------------------------------------------------------


def _csv_line(row: Consumption) -> str:
    utc = row.start.astimezone(selectors.ZoneInfo("UTC"))
    return f"{row.start.isoformat()},{utc:%Y-%m-%dT%H:%M:%SZ},{row.wh / 1000:.3f},{row.quality}"


def consumption_csv(
    *,
    supply_point_id: int,
    start: datetime,
    end: datetime,
    group_by: str,
    lines_per_chunk: int = 2000,
) -> Iterator[bytes]:
    """The CSV as byte chunks of `lines_per_chunk` lines, header first."""
    yield CSV_HEADER.encode()
    lines: Iterable[str]
    if group_by == "hour":
        lines = selectors.hourly_csv_lines(supply_point_id=supply_point_id, start=start, end=end)
    else:
        rows = selectors.consumption(
            supply_point_id=supply_point_id, start=start, end=end, group_by=group_by
        )
        lines = (_csv_line(row) for row in rows)
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= lines_per_chunk:
            yield ("\r\n".join(batch) + "\r\n").encode()
            batch.clear()
    if batch:
        yield ("\r\n".join(batch) + "\r\n").encode()


# --- Green Button (ESPI) -------------------------------------------------------------

INTERVAL_SECONDS = {"hour": 3600, "day": 86400, "month": 2678400}
# ESPI codes: deltaData, electricity (secondary metered), normal, forward, energy, Wh.
READING_TYPE = {
    "accumulationBehaviour": 4,
    "commodity": 1,
    "dataQualifier": 12,
    "flowDirection": 1,
    "kind": 12,
    "powerOfTenMultiplier": 0,
    "timeAttribute": 0,
    "uom": 72,
}


def _uuid(*parts: object) -> str:
    return "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, "powernext:" + ":".join(map(str, parts)))
    )


def _stamp(instant: datetime) -> str:
    return instant.astimezone(selectors.ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent, tag: str, text: object | None = None, ns: str = ESPI):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = str(text)
    return element


def _interval(parent, tag: str, start: datetime, end: datetime) -> None:
    interval = _sub(parent, tag)
    # In UTC: between two times of one zone, Python subtracts wall clocks (DST ignored).
    seconds = end.astimezone(selectors.ZoneInfo("UTC")) - start.astimezone(
        selectors.ZoneInfo("UTC")
    )
    _sub(interval, "duration", int(seconds.total_seconds()))
    _sub(interval, "start", int(start.timestamp()))


def _entry(feed, *, key: str, title: str, href: str, up: str, related: list[str], now: str):
    entry = _sub(feed, "entry", ns=ATOM)
    _sub(entry, "id", key, ns=ATOM)
    for rel, target in [("self", href), ("up", up)] + [("related", r) for r in related]:
        link = _sub(entry, "link", ns=ATOM)
        link.set("rel", rel)
        link.set("href", target)
    _sub(entry, "title", title, ns=ATOM)
    _sub(entry, "published", now, ns=ATOM)
    _sub(entry, "updated", now, ns=ATOM)
    return _sub(entry, "content", ns=ATOM)


def _blocks(rows: list[Consumption], group_by: str) -> list[list[Consumption]]:
    """Hours in one IntervalBlock per local day; days or months in a single block."""
    if group_by != "hour":
        return [rows] if rows else []
    blocks: dict[date, list[Consumption]] = {}
    for row in rows:
        blocks.setdefault(row.start.date(), []).append(row)
    return list(blocks.values())


def green_button_feed(
    *,
    supply_point,
    rows: list[Consumption],
    group_by: str,
    start: datetime,
    end: datetime,
    now: datetime,
    base_url: str,
) -> bytes:
    """The ESPI Atom feed of one supply point's consumption in [start, end)."""
    stamp = _stamp(now)
    sp = supply_point.pk
    root = f"{base_url.rstrip('/')}/espi/1_1/resource/Subscription/{sp}"
    usage_point = f"{root}/UsagePoint/{sp}"
    meter_reading = f"{usage_point}/MeterReading/{group_by}"
    reading_type = f"{base_url.rstrip('/')}/espi/1_1/resource/ReadingType/{group_by}"

    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "espi": ESPI})
    _sub(feed, "id", _uuid(sp, "feed", group_by, start.isoformat(), end.isoformat()), ns=ATOM)
    _sub(feed, "title", f"Power Next - consommation {supply_point.identifier}", ns=ATOM)
    _sub(feed, "updated", stamp, ns=ATOM)
    link = _sub(feed, "link", ns=ATOM)
    link.set("rel", "self")
    link.set("href", f"{root}/UsagePoint")

    content = _entry(
        feed,
        key=_uuid(sp, "UsagePoint"),
        title=f"Point de livraison {supply_point.identifier}",
        href=usage_point,
        up=f"{root}/UsagePoint",
        related=[f"{usage_point}/MeterReading"],
        now=stamp,
    )
    point = _sub(content, "UsagePoint")
    _sub(_sub(point, "ServiceCategory"), "kind", 0)  # electricity

    content = _entry(
        feed,
        key=_uuid(sp, "MeterReading", group_by),
        title={"hour": "Consommation horaire", "day": "Consommation journalière"}.get(
            group_by, "Consommation mensuelle"
        ),
        href=meter_reading,
        up=f"{usage_point}/MeterReading",
        related=[f"{meter_reading}/IntervalBlock", reading_type],
        now=stamp,
    )
    _sub(content, "MeterReading")

    content = _entry(
        feed,
        key=_uuid("ReadingType", group_by),
        title="Énergie active consommée (Wh)",
        href=reading_type,
        up=f"{base_url.rstrip('/')}/espi/1_1/resource/ReadingType",
        related=[],
        now=stamp,
    )
    kind = _sub(content, "ReadingType")
    for tag in ["accumulationBehaviour", "commodity", "dataQualifier", "flowDirection"]:
        _sub(kind, tag, READING_TYPE[tag])
    _sub(kind, "intervalLength", INTERVAL_SECONDS[group_by])
    for tag in ["kind", "powerOfTenMultiplier", "timeAttribute", "uom"]:
        _sub(kind, tag, READING_TYPE[tag])

    for index, block_rows in enumerate(_blocks(rows, group_by), start=1):
        content = _entry(
            feed,
            key=_uuid(sp, "IntervalBlock", group_by, block_rows[0].start.isoformat()),
            title=f"{block_rows[0].start:%Y-%m-%d}",
            href=f"{meter_reading}/IntervalBlock/{index}",
            up=f"{meter_reading}/IntervalBlock",
            related=[],
            now=stamp,
        )
        block = _sub(content, "IntervalBlock")
        _interval(block, "interval", block_rows[0].start, block_rows[-1].end)
        for row in block_rows:
            reading = _sub(block, "IntervalReading")
            code = ESPI_QUALITY.get(row.quality)
            if code is not None:
                _sub(_sub(reading, "ReadingQuality"), "quality", code)
            _interval(reading, "timePeriod", row.start, row.end)
            _sub(reading, "value", row.wh)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")
