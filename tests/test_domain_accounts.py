import pytest

from accounts.domain import account_number_format, account_number_is_valid, account_number_new


def test_new_account_numbers_carry_a_valid_check_digit():
    numbers = {account_number_new() for _ in range(200)}
    assert all(len(n) == 10 and account_number_is_valid(n) for n in numbers)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("1234567897", True),  # Luhn check digit 7
        ("1234567890", False),  # wrong check digit
        ("123 456 7897", True),
        ("123456789", False),  # too short
        ("12345678970", False),  # too long
        ("12345A7897", False),
    ],
)
def test_account_number_check(number, valid):
    assert account_number_is_valid(number) is valid


def test_account_number_is_grouped_for_reading_aloud():
    assert account_number_format("1234567897") == "123 456 7897"


def test_single_digit_typos_are_caught():
    number = account_number_new(randbelow=lambda n: 12345678)
    for i in range(10):
        for d in "0123456789":
            if d != number[i]:
                assert not account_number_is_valid(number[:i] + d + number[i + 1 :])
