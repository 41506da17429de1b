import pytest

from vpbx.routing.numbers import to_e164


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+74951112233", "RU", "+74951112233"),
        ("74951112233", "RU", "+74951112233"),  # international without plus
        ("84951112233", "RU", "+74951112233"),  # national trunk prefix 8
        ("4951112233", "RU", "+74951112233"),  # national significant number
        ("+380441234567", "RU", "+380441234567"),
        ("380441234567", "RU", "+380441234567"),  # foreign, international without plus
        ("0441234567", "UA", "+380441234567"),  # Ukrainian national format
        ("+1 (202) 555-0123", "RU", "+12025550123"),
        ("101", "RU", None),  # an extension, not a number
        ("", "RU", None),
        ("abc", "RU", None),
        ("+", "RU", None),
    ],
)
def test_carrier_formats_read_as_e164(raw, region, expected):
    assert to_e164(raw, region) == expected
