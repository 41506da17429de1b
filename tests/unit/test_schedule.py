from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpbx.routing.schedule import is_open

MSK, BERLIN = ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_18 = [[d, 9 * 60, 18 * 60] for d in range(5)]


def office(timezone="Europe/Moscow", weekly=WEEKDAYS_9_TO_18, exceptions=()):
    return {"name": "Office", "timezone": timezone, "weekly": list(weekly), "exceptions": list(exceptions)}


@pytest.mark.parametrize(
    "local, expected",
    [
        (datetime(2026, 11, 23, 9, 0, tzinfo=MSK), True),  # Monday, opening minute
        (datetime(2026, 11, 23, 8, 59, tzinfo=MSK), False),
        (datetime(2026, 11, 23, 17, 59, 59, tzinfo=MSK), True),
        (datetime(2026, 11, 23, 18, 0, tzinfo=MSK), False),  # closing minute is closed
        (datetime(2026, 11, 28, 12, 0, tzinfo=MSK), False),  # Saturday
        (datetime(2026, 11, 23, 6, 30, tzinfo=UTC), True),  # 09:30 in Moscow
    ],
)
def test_weekly_hours_in_the_schedules_own_timezone(local, expected):
    assert is_open(office(), local)[0] is expected


def test_a_holiday_closes_a_working_day_and_says_so():
    schedule = office(exceptions=[["2026-12-31", "2027-01-08", True, None, None]])

    open_, reason = is_open(schedule, datetime(2027, 1, 5, 12, 0, tzinfo=MSK))  # a Tuesday

    assert open_ is False
    assert reason == "schedule 'Office' is closed on Tue 2027-01-05 12:00 Europe/Moscow: holiday 2026-12-31..2027-01-08"


def test_an_extra_working_day_opens_a_weekend_for_its_own_hours():
    schedule = office(exceptions=[["2026-11-28", "2026-11-28", False, 10 * 60, 16 * 60]])

    assert is_open(schedule, datetime(2026, 11, 28, 10, 0, tzinfo=MSK))[0] is True
    assert is_open(schedule, datetime(2026, 11, 28, 16, 0, tzinfo=MSK))[0] is False


def test_until_midnight_is_minute_1440():
    schedule = office(weekly=[[0, 22 * 60, 1440], [1, 0, 6 * 60]])

    assert is_open(schedule, datetime(2026, 11, 23, 23, 59, tzinfo=MSK))[0] is True
    assert is_open(schedule, datetime(2026, 11, 24, 0, 0, tzinfo=MSK))[0] is True
    assert is_open(schedule, datetime(2026, 11, 24, 6, 0, tzinfo=MSK))[0] is False


def test_dst_changes_keep_wall_clock_hours():
    schedule = office(timezone="Europe/Berlin")
    # Berlin leaves summer time on Sunday 2026-10-25; Monday 09:00 is 08:00 UTC, not 07:00.
    assert is_open(schedule, datetime(2026, 10, 26, 8, 0, tzinfo=UTC))[0] is True
    assert is_open(schedule, datetime(2026, 10, 26, 7, 59, tzinfo=UTC))[0] is False
    # The Friday before, still summer time: 09:00 is 07:00 UTC.
    assert is_open(schedule, datetime(2026, 10, 23, 7, 0, tzinfo=UTC))[0] is True


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(instants)
def test_a_full_week_is_always_open(at):
    assert is_open(office(weekly=[[d, 0, 1440] for d in range(7)]), at)[0] is True


@given(instants)
def test_no_interval_is_never_open(at):
    assert is_open(office(weekly=[]), at)[0] is False


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.integers(0, 1439))
def test_open_exactly_when_the_local_wall_clock_is_inside(day, minute):
    # Every local date and minute in Berlin, DST switch days included.
    local = datetime.combine(day, datetime.min.time(), tzinfo=BERLIN) + timedelta(minutes=minute)
    local = local.astimezone(UTC).astimezone(BERLIN)  # a real instant (skips the spring gap)
    expected = local.weekday() < 5 and 9 * 60 <= local.hour * 60 + local.minute < 18 * 60

    assert is_open(office(timezone="Europe/Berlin"), local.astimezone(UTC))[0] is expected


@given(st.integers(1999, 2099))
def test_a_holiday_across_new_year_covers_both_years(year):
    schedule = office(
        weekly=[[d, 0, 1440] for d in range(7)], exceptions=[[f"{year}-12-30", f"{year + 1}-01-02", True, None, None]]
    )

    for day in (date(year, 12, 30), date(year, 12, 31), date(year + 1, 1, 1), date(year + 1, 1, 2)):
        assert is_open(schedule, datetime.combine(day, datetime.min.time(), tzinfo=MSK))[0] is False
    assert is_open(schedule, datetime(year + 1, 1, 3, tzinfo=MSK))[0] is True
