"""Supply-point identifiers (accounts.identifiers): pure Python, no database.

Where the vectors come from:

- MPAN: the mpan package (PyPI "mpan" 2.1.0, github.com/limejump/mpan). Its
  README.md / docs/validation.md list "2499999999991" and "001112221312345678907"
  as valid and "2499999999990" as a bad checksum; docs/parsing.md adds
  "2099999999993" and "1312345678907"; tests/common.py has the INVALID and
  UNPARSEABLE lists; tests/test_mpan.py parses "018011002099999999386",
  "1099999999997" and "1030006718997". The package ships no valid list of its own
  ("for privacy reasons", tests/common.py), and two of the test_mpan.py parsing
  fixtures have a wrong check digit (mpan's own is_valid says False for them), so
  they are used here as wrong-check-digit cases.
- EIC: python-stdnum 2.2, the docstring of stdnum/eu/eic.py and
  tests/test_eu_eic.doctest of github.com/arthurdejong/python-stdnum.
- PRM: there is no public check digit, so any 14 digits will do; these are made up.
"""

import pickle

import pytest

from accounts.identifiers import (
    MPAN_WEIGHTS,
    IdentifierError,
    Market,
    display,
    mpan_check_digit,
    normalise,
)

PRM = Market.FR_PRM
MPAN = Market.GB_MPAN
EIC = Market.EIC


@pytest.mark.parametrize(
    ("market", "raw", "stored"),
    [
        # PRM: 14 digits, spaces of any kind ignored.
        (PRM, "09123456789012", "09123456789012"),
        (PRM, "0912 3456 7890 12", "09123456789012"),
        (PRM, "09 12 34 56 78 90 12", "09123456789012"),
        (PRM, " 30001234567890\t", "30001234567890"),
        (PRM, "3000\u00a01234\u202f567890", "30001234567890"),  # no-break spaces
        (PRM, "00000000000000", "00000000000000"),
        # MPAN core (13 digits).
        (MPAN, "2499999999991", "2499999999991"),  # README.md, docs/validation.md
        (MPAN, "1312345678907", "1312345678907"),  # README.md, docs/parsing.md
        (MPAN, "2099999999993", "2099999999993"),  # README.md, docs/parsing.md
        (MPAN, "1030006718997", "1030006718997"),  # tests/test_mpan.py::test_is_long
        (MPAN, "24 9999 9999 991", "2499999999991"),  # spaces tolerated
        (MPAN, "S 2499999999991", "2499999999991"),  # "S" box of a bill
        # Full 21-digit MPAN, stored as its core.
        (MPAN, "001112221312345678907", "1312345678907"),  # README.md, docs/parsing.md
        (MPAN, "00 111 222 13 1234 5678 907", "1312345678907"),
        (MPAN, "S 00 111 222 1312345678907", "1312345678907"),
        (MPAN, "s001112221312345678907", "1312345678907"),
        (MPAN, "00111AB21312345678907", "1312345678907"),  # letters in the LLFC, as mpan's RE_LONG
        # EIC, upper-cased.
        (EIC, "22XWATTPLUS----G", "22XWATTPLUS----G"),  # stdnum/eu/eic.py docstring
        (EIC, "22xwattplus----g", "22XWATTPLUS----G"),
        (EIC, " 22XWATTPLUS ----G ", "22XWATTPLUS----G"),
        (EIC, "10YDE-VE-------2", "10YDE-VE-------2"),  # tests/test_eu_eic.doctest
        (EIC, "10YCH-SWISSGRIDZ", "10YCH-SWISSGRIDZ"),  # tests/test_eu_eic.doctest
        (EIC, "23X--150408-AS-5", "23X--150408-AS-5"),  # tests/test_eu_eic.doctest
        (EIC, "59Z0000000021522", "59Z0000000021522"),  # tests/test_eu_eic.doctest
        # The market may be given as its string value.
        ("FR_PRM", "09123456789012", "09123456789012"),
        ("GB_MPAN", "2499999999991", "2499999999991"),
        ("EIC", "22XWATTPLUS----G", "22XWATTPLUS----G"),
    ],
)
def test_valid_identifiers_are_normalised(market, raw, stored):
    assert normalise(market, raw) == stored
    assert normalise(market, stored) == stored  # the stored form is a fixed point
    assert normalise(market, display(market, stored)) == stored  # display reads back


@pytest.mark.parametrize(
    ("market", "raw", "code", "message"),
    [
        # PRM
        (PRM, "0912345678901", "wrong_length", "A PRM must be 14 digits, got 13."),
        (PRM, "091234567890123", "wrong_length", "A PRM must be 14 digits, got 15."),
        (PRM, "", "wrong_length", "A PRM must be 14 digits, got 0."),
        (PRM, "0912345678901A", "wrong_format", "A PRM may contain only digits"),
        (PRM, "0912-3456-7890-12", "wrong_format", "A PRM may contain only digits"),
        (PRM, "０９１２３４５６７８９０１２", "wrong_format", "only digits"),  # full-width digits
        # MPAN: check digit
        # mpan README.md and tests/common.py INVALID ("bad checksum").
        (MPAN, "2499999999990", "wrong_check_digit", "check digit does not match"),
        # mpan tests/common.py INVALID ("bad distributor"); its check digit should be 7 too.
        (MPAN, "8699999999991", "wrong_check_digit", "check digit does not match"),
        # mpan tests/test_mpan.py parsing fixture; its check digit should be 0.
        (MPAN, "1099999999997", "wrong_check_digit", "check digit does not match"),
        # mpan tests/test_mpan.py parsing fixture; its core's check digit should be 0.
        (MPAN, "018011002099999999386", "wrong_check_digit", "check digit does not match"),
        (MPAN, "S 01 801 100 20 9999 9999 386", "wrong_check_digit", "check digit does not match"),
        # MPAN: length
        # mpan tests/common.py UNPARSEABLE.
        (
            MPAN,
            "42",
            "wrong_length",
            "must be 13 digits (the core) or 21 digits (the full number), got 2.",
        ),
        (MPAN, "249999999999", "wrong_length", "got 12."),
        (MPAN, "24999999999911", "wrong_length", "got 14."),
        (MPAN, "00111222131234567890", "wrong_length", "got 20."),
        (MPAN, "0011122213123456789070", "wrong_length", "got 22."),
        # MPAN: format
        # mpan tests/common.py UNPARSEABLE.
        (MPAN, "Not an MPAN", "wrong_format", "An MPAN may contain only digits"),
        (MPAN, "24999999999O1", "wrong_format", "only digits"),  # letter O for zero
        (MPAN, "24-9999-9999-991", "wrong_format", "only digits"),
        (MPAN, "SS2499999999991", "wrong_format", "only digits"),
        # Letters are allowed in the line loss factor class only.
        (MPAN, "00111AB2131234567890X", "wrong_format", "only digits"),
        # EIC
        # stdnum/eu/eic.py docstring.
        (EIC, "22XWATTPLUS----X", "wrong_check_digit", "check character does not match"),
        (EIC, "10YDE-VE-------3", "wrong_check_digit", "check character does not match"),
        (EIC, "23X--130302DLGW-", "wrong_format", "cannot be '-'"),  # stdnum/eu/eic.py docstring
        (EIC, "22XWATTPLUS---G", "wrong_length", "An EIC must be 16 characters, got 15."),
        (EIC, "22XWATTPLUS----GG", "wrong_length", "An EIC must be 16 characters, got 17."),
        (EIC, "22XWATTPLUS_---G", "wrong_format", "only letters A-Z, digits and '-'"),
        (EIC, "22XWATTPLÜS----G", "wrong_format", "only letters A-Z, digits and '-'"),
    ],
)
def test_invalid_identifiers_are_refused(market, raw, code, message):
    with pytest.raises(IdentifierError) as caught:
        normalise(market, raw)
    assert caught.value.code == code
    assert message in caught.value.message
    assert str(caught.value) == caught.value.message
    assert caught.value.market is Market(market)


@pytest.mark.parametrize("market", ["BE_EAN", "fr_prm", "", None, 42])
def test_unknown_market(market):
    with pytest.raises(IdentifierError) as caught:
        normalise(market, "09123456789012")
    assert caught.value.code == "unknown_market"
    assert str(caught.value).startswith("Unknown market")
    assert "FR_PRM, GB_MPAN, EIC" in str(caught.value)
    with pytest.raises(IdentifierError):
        display(market, "09123456789012")


def test_identifier_error_is_a_value_error_and_survives_pickling():
    with pytest.raises(ValueError, match="got 3"):
        normalise(PRM, "123")
    error = IdentifierError("wrong_length", "A PRM must be 14 digits, got 3.", market=PRM)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, copy.market) == (error.code, error.message, PRM)
    with pytest.raises(ValueError, match="unknown identifier error code"):
        IdentifierError("nonsense", "message")


@pytest.mark.parametrize(
    ("market", "value", "shown"),
    [
        (PRM, "09123456789012", "09 12 34 56 78 90 12"),
        (PRM, "0912 3456 7890 12", "09 12 34 56 78 90 12"),
        (MPAN, "1234567890123", "12 3456 7890 123"),  # by shape: its check digit is wrong
        (MPAN, "2499999999991", "24 9999 9999 991"),
        (MPAN, "S 00 111 222 1312345678907", "13 1234 5678 907"),
        (EIC, "22xwattplus----g", "22XWATTPLUS----G"),
        ("GB_MPAN", "1312345678907", "13 1234 5678 907"),
    ],
)
def test_display_groups_for_reading_aloud(market, value, shown):
    assert display(market, value) == shown
    assert "".join(shown.split()) == "".join(display(market, shown).split())


@pytest.mark.parametrize(
    ("market", "value"),
    [
        (PRM, "0912345678901"),
        (PRM, "PRM inconnu"),
        (MPAN, "42"),
        (MPAN, "Not an MPAN"),
        (EIC, "22XWATTPLUS_---G"),
    ],
)
def test_display_shows_a_value_of_the_wrong_shape_as_given(market, value):
    assert display(market, value) == value


@pytest.mark.parametrize(
    ("core", "digit"),
    [
        ("2499999999991", "1"),  # mpan README.md
        ("1312345678907", "7"),  # mpan README.md
        ("2099999999993", "3"),  # mpan docs/parsing.md
        ("1030006718997", "7"),  # mpan tests/test_mpan.py
        ("2099999999386", "0"),  # core of mpan's tests/test_mpan.py fixture, which prints 6
        ("1099999999997", "0"),  # mpan tests/test_mpan.py fixture, which prints 7
        ("8699999999991", "7"),  # mpan tests/common.py INVALID, which prints 1
    ],
)
def test_mpan_check_digit(core, digit):
    assert mpan_check_digit(core[:12]) == digit


def test_mpan_check_digit_worked_by_hand():
    # shared/domain.md: weights on the first 12 digits, (sum mod 11) mod 10.
    # 1312345678907: 3*1 + 5*3 + 7*1 + 13*2 + 17*3 + 19*4 + 23*5 + 29*6 + 31*7
    # + 37*8 + 41*9 + 43*0 = 1349; 1349 mod 11 = 7; 7 mod 10 = 7.
    assert MPAN_WEIGHTS == (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
    assert sum(w * int(d) for w, d in zip(MPAN_WEIGHTS, "131234567890", strict=True)) == 1349
    assert mpan_check_digit("131234567890") == "7"
    # 100000000000 -> 3 mod 11 = 3; 000000000001 -> 43 mod 11 = 10, and 10 mod 10 = 0.
    assert mpan_check_digit("100000000000") == "3"
    assert mpan_check_digit("000000000001") == "0"


@pytest.mark.parametrize("bad", ["", "12345678901", "1234567890123", "12345678901A"])
def test_mpan_check_digit_needs_twelve_digits(bad):
    with pytest.raises(ValueError):
        mpan_check_digit(bad)


def test_every_wrong_mpan_check_digit_is_refused():
    core = "2499999999991"
    for digit in "0123456789":
        candidate = core[:12] + digit
        if digit == core[12]:
            assert normalise(MPAN, candidate) == core
        else:
            with pytest.raises(IdentifierError) as caught:
                normalise(MPAN, candidate)
            assert caught.value.code == "wrong_check_digit"


def test_identifiers_module_imports_no_django():
    import ast
    from pathlib import Path

    import accounts.identifiers as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "enum", "re", "stdnum"}
