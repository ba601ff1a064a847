"""Data generation: values/s of the faker on name-based fields (Faker pools) against plain ones.

Three generators fill the same object of 12 string fields, one call per simulated request (a
new key each time, as for a new path parameter):

* `plain`: field names that call for no library value (`f0`...`f11`): constraint-driven
  strings, the cost of the faker itself;
* `pools`: realistic names (`name`, `email`, `city`, `company`, ...) drawn from the Faker pools
  of `mockloop.fake.pools`, in en_US and de_DE;
* `faker-direct`: the same fields drawn from a Faker instance on every call (what the pools
  avoid), for reference.

It reports objects/s and the ratio of each to `plain` measured in the same run (a ratio near 1
means name-based values cost no more than any string), and, in a fresh process each, the
one-off cost of the pools: importing Faker and building the pools these fields need.

Run: python bench/bench_fake.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, median, print_table, write_results

from mockloop.fake import SchemaFaker

FIELDS = [
    "name",
    "firstName",
    "lastName",
    "email",
    "city",
    "street",
    "zip",
    "company",
    "jobTitle",
    "phone",
    "description",
    "username",
]


def _schema(names: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": names,
        "properties": {name: {"type": "string"} for name in names},
    }


def _rate(make: Any, seconds: float) -> float:
    """Objects made per second over `seconds` (after a short warm-up)."""
    for index in range(50):
        make(index)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            make(count)
            count += 1
    return count / (time.perf_counter() - start)


def _direct(locale: str) -> Any:
    from faker import Faker

    fake = Faker(locale)
    draws = [
        fake.name,
        fake.first_name,
        fake.last_name,
        fake.email,
        fake.city,
        fake.street_address,
        fake.postcode,
        fake.company,
        fake.job,
        fake.phone_number,
        fake.sentence,
        fake.user_name,
    ]

    def make(index: int) -> dict[str, str]:
        fake.seed_instance(index)
        return {name: draw() for name, draw in zip(FIELDS, draws, strict=True)}

    return make


_COLD = """
import time
from mockloop.fake import SchemaFaker
schema = {schema!r}
start = time.perf_counter()
SchemaFaker({{}}, locale={locale!r}).generate(schema, key="k")
print(time.perf_counter() - start)
"""


def _cold(schema: dict[str, Any], locale: str, runs: int = 7) -> float:
    """Median seconds, in a fresh process (mockloop imported), to make a first object."""
    times = []
    for _ in range(runs):
        code = _COLD.format(schema=schema, locale=locale)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return median(times)


def main() -> int:
    """Measure, print the table and write `bench/results/bench_fake.json`."""
    parser = argparse.ArgumentParser(description="values/s of the faker on name-based fields")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement")
    args = parser.parse_args()
    plain_schema = _schema([f"f{i}" for i in range(len(FIELDS))])
    named_schema = _schema(FIELDS)
    rows: list[list[Any]] = []
    results: dict[str, Any] = {"machine": machine(), "seconds": args.seconds, "rates": {}}
    plain_faker = SchemaFaker({})
    plain = _rate(lambda i: plain_faker.generate(plain_schema, key=str(i)), args.seconds)
    results["rates"]["plain"] = plain
    rows.append(["plain", "-", round(plain), 1.0])
    for locale in ("en_US", "de_DE"):
        faker = SchemaFaker({}, locale=locale)
        rate = _rate(lambda i, faker=faker: faker.generate(named_schema, key=str(i)), args.seconds)
        direct = _rate(_direct(locale), args.seconds)
        results["rates"][f"pools-{locale}"] = rate
        results["rates"][f"faker-direct-{locale}"] = direct
        rows.append(["pools", locale, round(rate), round(rate / plain, 2)])
        rows.append(["faker-direct", locale, round(direct), round(direct / plain, 2)])
    print_table(["generator", "locale", "objects/s", "ratio to plain"], rows)
    cold = {
        "plain": _cold(plain_schema, "en_US"),
        "pools-en_US": _cold(named_schema, "en_US"),
        "pools-de_DE": _cold(named_schema, "de_DE"),
    }
    results["cold_first_object_s"] = cold
    print_table(
        ["fresh process", "first object (ms)", "extra over plain (ms)"],
        [[k, round(v * 1000), round((v - cold["plain"]) * 1000)] for k, v in cold.items()],
    )
    print(f"written: {write_results('bench_fake', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
