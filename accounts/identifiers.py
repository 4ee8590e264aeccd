"""Supply-point identifiers: French PRM, British MPAN and European EIC.

Pure rules, like ``domain.py``: no Django, no ORM, no clock, no I/O. Give
``normalise`` what a person typed and it returns the form to store, or raises
``IdentifierError`` with a machine-readable ``code`` and an English ``message``.
``display`` groups a stored value for reading aloud.

- **PRM** (France, Enedis): 14 digits. There is no public check digit, so only
  the length and the characters can be checked.
- **MPAN** (Great Britain): the 13-digit core is stored. The full 21-character
  number (top line: profile class 2, meter time switch code 3, line loss factor
  class 3, then the core) is accepted and reduced to its core; so is the "S"
  that bills print in front of it. The top line is not checked against the
  industry's code lists, since it is not stored and can change over the life of
  a supply point. The core's last digit is checked: weights 3 5 7 13 17 19 23
  29 31 37 41 43 on the first 12 digits, check digit = (sum mod 11) mod 10.
- **EIC** (Europe): 16 characters from A-Z, 0-9 and "-", with a mod-37 check
  character (``stdnum.eu.eic``). Stored in upper case.

Spaces (any whitespace) are ignored everywhere.
"""

from __future__ import annotations

import enum
import re

from stdnum import exceptions as stdnum_exceptions
from stdnum.eu import eic as stdnum_eic

__all__ = [
    "MPAN_WEIGHTS",
    "IdentifierError",
    "Market",
    "display",
    "mpan_check_digit",
    "normalise",
]


class Market(enum.StrEnum):
    """A ``str``: ``Market.GB_MPAN == "GB_MPAN"``, and the plain string is accepted too."""

    FR_PRM = "FR_PRM"
    GB_MPAN = "GB_MPAN"
    EIC = "EIC"


class IdentifierError(ValueError):
    """An identifier that cannot be stored; ``str(exc)`` is ``exc.message``."""

    UNKNOWN_MARKET = "unknown_market"
    WRONG_LENGTH = "wrong_length"
    WRONG_FORMAT = "wrong_format"
    WRONG_CHECK_DIGIT = "wrong_check_digit"
    CODES = frozenset({UNKNOWN_MARKET, WRONG_LENGTH, WRONG_FORMAT, WRONG_CHECK_DIGIT})

    def __init__(self, code: str, message: str, *, market: Market | None = None) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown identifier error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.market = market

    def __reduce__(self):
        return (_rebuild_error, (self.code, self.message, self.market))


def _rebuild_error(code: str, message: str, market: Market | None) -> IdentifierError:
    return IdentifierError(code, message, market=market)


PRM_DIGITS = 14
MPAN_CORE_DIGITS = 13
MPAN_FULL_LENGTH = 21
EIC_LENGTH = 16

# Domain rule (shared/domain.md, "Identifier checks"); 11 is left out on purpose.
MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)

_DIGITS = re.compile(r"[0-9]*")
# Top line: profile class (2 digits), meter time switch code (3 digits), line
# loss factor class (3 characters: digits, or letters as the mpan parser allows),
# then the 13-digit core.
_MPAN_FULL = re.compile(r"[0-9]{2}[0-9]{3}[0-9A-Z]{3}(?P<core>[0-9]{13})")


def normalise(market: str, raw: str) -> str:
    """The canonical stored form of ``raw``, or ``IdentifierError``."""
    market = _market(market)
    value = _shape(market, raw)
    if market is Market.GB_MPAN and mpan_check_digit(value[:12]) != value[12]:
        raise IdentifierError(
            IdentifierError.WRONG_CHECK_DIGIT,
            "The MPAN check digit does not match: please check the number.",
            market=market,
        )
    if market is Market.EIC:
        _eic_validate(value)
    return value


def display(market: str, value: str) -> str:
    """``value`` grouped for reading aloud.

    PRM: seven pairs, the way French speakers read long numbers
    ("09 12 34 56 78 90 12"). MPAN: the core as distributor, then 4, 4 and 3
    digits ("12 3456 7890 123"). EIC: upper case, otherwise unchanged, since "-"
    is part of the code.

    Grouping goes by shape only and never refuses a value (it is for showing
    stored data, old rows included; ``normalise`` is the gate): a value without
    the shape of its market's identifier is returned as given. An unknown
    market is still refused.
    """
    market = _market(market)
    try:
        shaped = _shape(market, value)
    except IdentifierError:
        return value
    if market is Market.FR_PRM:
        return " ".join(shaped[i : i + 2] for i in range(0, PRM_DIGITS, 2))
    if market is Market.GB_MPAN:
        return f"{shaped[:2]} {shaped[2:6]} {shaped[6:10]} {shaped[10:]}"
    return shaped


def mpan_check_digit(first_twelve: str) -> str:
    """The check digit of an MPAN core, from its first 12 digits."""
    if len(first_twelve) != len(MPAN_WEIGHTS) or not _is_digits(first_twelve):
        raise ValueError("the first 12 digits of an MPAN core are needed")
    total = sum(w * int(d) for w, d in zip(MPAN_WEIGHTS, first_twelve, strict=True))
    return str(total % 11 % 10)


def _market(market: str) -> Market:
    try:
        return Market(market)
    except (ValueError, TypeError):
        choices = ", ".join(m.value for m in Market)
        raise IdentifierError(
            IdentifierError.UNKNOWN_MARKET,
            f"Unknown market {market!r}: expected one of {choices}.",
        ) from None


def _is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


def _shape(market: Market, raw: str) -> str:
    """Spaces removed, case and MPAN form settled; length and characters checked
    for PRM and MPAN (the EIC's are checked with its check character)."""
    if not isinstance(raw, str):
        raise IdentifierError(
            IdentifierError.WRONG_FORMAT, "An identifier must be text.", market=market
        )
    compact = "".join(raw.split())
    if market is Market.FR_PRM:
        return _prm_shape(compact)
    if market is Market.GB_MPAN:
        return _mpan_core(compact)
    return compact.upper()


def _prm_shape(compact: str) -> str:
    if not _is_digits(compact):
        raise IdentifierError(
            IdentifierError.WRONG_FORMAT,
            "A PRM may contain only digits (spaces are ignored).",
            market=Market.FR_PRM,
        )
    if len(compact) != PRM_DIGITS:
        raise IdentifierError(
            IdentifierError.WRONG_LENGTH,
            f"A PRM must be {PRM_DIGITS} digits, got {len(compact)}.",
            market=Market.FR_PRM,
        )
    return compact


def _mpan_core(compact: str) -> str:
    """The 13-digit core of a core or full MPAN, its check digit not yet checked."""
    if compact[:1] in ("S", "s"):
        compact = compact[1:]
    full = _MPAN_FULL.fullmatch(compact.upper())
    if full:
        return full.group("core")
    if not _is_digits(compact):
        raise IdentifierError(
            IdentifierError.WRONG_FORMAT,
            "An MPAN may contain only digits (spaces and a leading 'S' are ignored).",
            market=Market.GB_MPAN,
        )
    if len(compact) != MPAN_CORE_DIGITS:
        raise IdentifierError(
            IdentifierError.WRONG_LENGTH,
            f"An MPAN must be {MPAN_CORE_DIGITS} digits (the core) or "
            f"{MPAN_FULL_LENGTH} digits (the full number), got {len(compact)}.",
            market=Market.GB_MPAN,
        )
    return compact


def _eic_validate(compact: str) -> None:
    try:
        stdnum_eic.validate(compact)
    except stdnum_exceptions.InvalidLength:  # a subclass of InvalidFormat: caught first
        code = IdentifierError.WRONG_LENGTH
        message = f"An EIC must be {EIC_LENGTH} characters, got {len(compact)}."
    except stdnum_exceptions.InvalidChecksum:
        code = IdentifierError.WRONG_CHECK_DIGIT
        message = "The EIC check character does not match: please check the code."
    except stdnum_exceptions.InvalidFormat:
        code = IdentifierError.WRONG_FORMAT
        if len(compact) == EIC_LENGTH and compact.endswith("-"):
            message = "The last character of an EIC is its check character and cannot be '-'."
        else:
            message = "An EIC may contain only letters A-Z, digits and '-' (spaces are ignored)."
    except stdnum_exceptions.ValidationError:
        code = IdentifierError.WRONG_FORMAT
        message = "This is not a valid EIC."
    else:
        return
    raise IdentifierError(code, message, market=Market.EIC)
