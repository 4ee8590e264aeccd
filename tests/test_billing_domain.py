"""Billing rules against hand-computed figures (the arithmetic is in the comments)."""

from datetime import date
from decimal import Decimal as D
from itertools import product

import pytest

from billing import domain
from billing.domain import Rates, Segment

VAT20 = D("0.20")


def rates(standing, excise="0.02980", vat_standing=VAT20, vat_energy=VAT20, **unit):
    return Rates(
        standing_per_day=D(standing),
        unit={code.upper(): D(v) for code, v in unit.items()},
        excise_per_kwh=D(excise),
        vat_standing=D(vat_standing),
        vat_energy=D(vat_energy),
    )


def test_money_rounds_half_up_not_to_even():
    assert domain.money(D("0.125")) == D("0.13")
    assert domain.money(D("0.135")) == D("0.14")
    assert domain.money(D("-0.125")) == D("-0.13")


def test_hp_hc_invoice():
    seg = Segment(
        date(2026, 1, 1),
        date(2026, 2, 1),
        "Heures creuses",
        rates("0.35000", hp="0.20000", hc="0.15000"),
        {"HP": D("312.5"), "HC": D("187.25")},
    )
    lines = domain.segment_lines(seg)
    assert [(line.kind, line.quantity, line.amount) for line in lines] == [
        ("STANDING", D(31), D("10.85")),  # 31 × 0.35
        ("ENERGY_HP", D("312.500"), D("62.50")),  # 312.5 × 0.20
        ("ENERGY_HC", D("187.250"), D("28.09")),  # 187.25 × 0.15 = 28.0875
        ("EXCISE", D("499.750"), D("14.89")),  # 499.75 × 0.0298 = 14.89255
    ]
    t = domain.totals(lines)
    assert (t.net, t.vat, t.gross) == (
        D("116.33"),
        D("23.27"),
        D("139.60"),
    )  # 116.33 × 0.2 = 23.266


def test_tariff_change_in_the_middle_of_the_period():
    # 100 kWh read over 1–30 April; new prices from 11 April: 10 days, then 20.
    first, second = domain.apportion(100, [10, 20])
    assert (first, second) == (D("33.333"), D("66.667"))
    segments = [
        Segment(
            date(2026, 4, 1), date(2026, 4, 11), "Base", rates("0.30", base="0.18"), {"BASE": first}
        ),
        Segment(
            date(2026, 4, 11),
            date(2026, 5, 1),
            "Base",
            rates("0.32", excise="0.03", base="0.19"),
            {"BASE": second},
        ),
    ]
    lines = [line for seg in segments for line in domain.segment_lines(seg)]
    assert [line.amount for line in lines] == [
        D("3.00"),  # 10 × 0.30
        D("6.00"),  # 33.333 × 0.18 = 5.99994
        D("0.99"),  # 33.333 × 0.0298 = 0.9933
        D("6.40"),  # 20 × 0.32
        D("12.67"),  # 66.667 × 0.19 = 12.66673
        D("2.00"),  # 66.667 × 0.03 = 2.00001
    ]
    t = domain.totals(lines)
    assert (t.net, t.vat, t.gross) == (D("31.06"), D("6.21"), D("37.27"))


def test_vat_is_rounded_once_per_rate_not_per_line():
    seg = Segment(
        date(2026, 1, 1),
        date(2026, 1, 2),
        "Heures creuses",
        rates("0.40", vat_standing="0.055", hp="0.20", hc="0.15"),
        {"HP": D("0.125"), "HC": D("0.2")},
    )
    lines = domain.segment_lines(seg)
    # Standing 0.40 at 5.5 %; at 20 %: HP 0.025 → 0.03, HC 0.03, excise 0.325 × 0.0298 → 0.01.
    assert [line.amount for line in lines] == [D("0.40"), D("0.03"), D("0.03"), D("0.01")]
    t = domain.totals(lines)
    assert t.vat_by_rate == {
        D("0.055"): (D("0.40"), D("0.02")),  # 0.022
        D("0.20"): (D("0.07"), D("0.01")),  # 0.014; line by line it would be 0.01 + 0.01 + 0.00
    }
    assert (t.net, t.vat, t.gross) == (D("0.47"), D("0.03"), D("0.50"))


def test_a_register_the_tariff_does_not_price_is_an_error():
    seg = Segment(
        date(2026, 1, 1), date(2026, 1, 2), "Base", rates("0.3", base="0.2"), {"HP": D(1)}
    )
    with pytest.raises(ValueError, match="no HP rate"):
        domain.segment_lines(seg)


def test_the_standing_charge_counts_days_not_hours_across_the_clock_change():
    # March 2026 has a 23-hour day (29 March in Paris): still 31 days of standing charge.
    seg = Segment(
        date(2026, 3, 1), date(2026, 4, 1), "Base", rates("0.30", base="0.2"), {"BASE": D(0)}
    )
    assert domain.segment_lines(seg)[0].amount == D("9.30")
    seg = Segment(
        date(2026, 10, 1), date(2026, 11, 1), "Base", rates("0.30", base="0.2"), {"BASE": D(0)}
    )
    assert domain.segment_lines(seg)[0].quantity == 31  # 25-hour day on 25 October


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [10, 20], ["33.333", "66.667"]),
        (1, [1, 1, 1], ["0.333", "0.333", "0.334"]),
        (620, [45, 17], ["450.000", "170.000"]),
        (D("0.001"), [1, 1], ["0.000", "0.001"]),
    ],
)
def test_apportion_adds_up_exactly(total, weights, parts):
    got = domain.apportion(total, weights)
    assert got == [D(p) for p in parts]
    assert sum(got) == D(total)


def test_apportion_refuses_no_weight():
    with pytest.raises(ValueError):
        domain.apportion(10, [0, 0])


@pytest.mark.parametrize(
    ("issued", "jurisdiction", "earliest"),
    [
        (date(2026, 3, 15), "FR", date(2025, 1, 15)),
        (date(2026, 3, 15), "GB", date(2025, 3, 15)),
        (date(2026, 3, 31), "FR", date(2025, 1, 31)),
        (date(2025, 12, 31), "FR", date(2024, 10, 31)),
        (date(2026, 4, 30), "FR", date(2025, 2, 28)),  # clamped to February's last day
        (date(2025, 2, 28), "GB", date(2024, 2, 28)),
    ],
)
def test_back_billing_start(issued, jurisdiction, earliest):
    assert domain.back_billing_start(issued_on=issued, jurisdiction=jurisdiction) == earliest


def test_back_billing_cap_drops_old_consumption():
    r = rates("0.30", base="0.20")
    segments = [
        Segment(date(2024, 11, 1), date(2024, 12, 1), "Base", r, {"BASE": D(100)}),
        Segment(date(2024, 12, 1), date(2025, 2, 1), "Base", r, {"BASE": D(620)}),
        Segment(date(2025, 2, 1), date(2025, 3, 1), "Base", r, {"BASE": D(280)}),
    ]
    earliest = domain.back_billing_start(issued_on=date(2026, 3, 15), jurisdiction="FR")
    capped = domain.cap_back_billing(segments, earliest=earliest)
    # Nov is gone (100 kWh, 30 days); of Dec–Jan (62 days, 620 kWh) 45 days before
    # 15 January go (450 kWh) and 17 days stay (170 kWh).
    assert capped.written_off_kwh == D(550)
    assert capped.written_off_days == 75
    assert [(s.start, s.end, s.kwh["BASE"]) for s in capped.segments] == [
        (date(2025, 1, 15), date(2025, 2, 1), D("170.000")),
        (date(2025, 2, 1), date(2025, 3, 1), D(280)),
    ]
    lines = [line for seg in capped.segments for line in domain.segment_lines(seg)]
    assert lines[0].quantity == 17  # standing charge only for the days still billable


def test_instalments_add_up_and_fall_monthly():
    plan = domain.instalments(total=D("100.00"), count=3, first_due=date(2026, 1, 31))
    assert plan == [
        (date(2026, 1, 31), D("33.34")),
        (date(2026, 2, 28), D("33.33")),
        (date(2026, 3, 31), D("33.33")),
    ]
    twelve = domain.instalments(total=D("1234.56"), count=12, first_due=date(2026, 5, 5))
    assert sum(amount for _day, amount in twelve) == D("1234.56")


@pytest.mark.parametrize("count", [2, 13])
def test_instalment_count_is_bounded(count):
    with pytest.raises(ValueError, match="3 to 12"):
        domain.instalments(total=D(100), count=count, first_due=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2026, 10, 31), "2025-2026"),
        (date(2026, 11, 1), "2026-2027"),
        (date(2027, 3, 31), "2026-2027"),
    ],
)
def test_assistance_season(day, season):
    assert domain.assistance_season(day) == season


@pytest.mark.parametrize(
    ("today", "requested", "already", "refused"),
    [
        (date(2026, 5, 10), date(2026, 6, 10), False, None),
        (date(2026, 5, 10), date(2026, 6, 20), False, "au plus 30 jours"),
        (date(2026, 5, 10), date(2026, 5, 14), False, "doit suivre"),
        (date(2026, 5, 26), date(2026, 6, 10), False, "10 jours après"),
        (date(2026, 5, 10), date(2026, 6, 10), True, "déjà bénéficié"),
    ],
)
def test_extension_rules(today, requested, already, refused):
    why = domain.extension_refusal(
        due=date(2026, 5, 15),
        requested=requested,
        today=today,
        max_days=30,
        already_extended=already,
    )
    assert (why is None) if refused is None else (refused in why)


@pytest.mark.parametrize(
    ("machine", "table"),
    [("dispute", domain.DISPUTE_TRANSITIONS), ("invoice", domain.INVOICE_TRANSITIONS)],
)
def test_every_transition_is_allowed_or_refused_by_the_table(machine, table):
    for source, target in product(table, table):
        if target in table[source]:
            domain.check_transition(table, machine, source, target)
        else:
            with pytest.raises(domain.IllegalTransition):
                domain.check_transition(table, machine, source, target)


def test_dispute_ends_only_in_its_final_states():
    finals = {s for s, targets in domain.DISPUTE_TRANSITIONS.items() if not targets}
    assert finals == {"CREDITED", "REFUNDED", "REJECTED"}
    assert set(domain.DISPUTE_TRANSITIONS) - finals == domain.DISPUTE_OPEN
