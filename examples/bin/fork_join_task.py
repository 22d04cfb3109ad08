"""The tasks of examples/fork_join.py, standard library only.

    fork_join_task.py prep --out DIR                 inputs for every location
    fork_join_task.py location --loc N --out DIR     one location's estimate
    fork_join_task.py summary --out DIR              every location's estimate in one table
"""

import argparse
import csv
import os
import random
import sys


def prep(out: str) -> None:
    os.makedirs(os.path.join(out, "locations"), exist_ok=True)
    with open(os.path.join(out, "inputs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["location", "population"])
        for loc in range(1, 101):
            w.writerow([loc, random.Random(loc).randint(10_000, 1_000_000)])
    print("prep: inputs for 100 locations")


def location(loc: int, out: str) -> None:
    # Location 4 fails on its first attempt, as a flaky node would; Drover retries it.
    marker = os.path.join(out, f".flaky-{loc}")
    if loc == 4 and not os.path.exists(marker):
        open(marker, "w").close()
        sys.exit(f"location {loc}: lost the connection to the data store")
    with open(os.path.join(out, "inputs.csv"), newline="") as f:
        population = next(
            int(r["population"]) for r in csv.DictReader(f) if int(r["location"]) == loc
        )
    deaths = (
        sum(random.Random(loc * 1000 + d).random() for d in range(1000)) / 1000 * population / 100
    )
    with open(os.path.join(out, "locations", f"{loc}.csv"), "w", newline="") as f:
        csv.writer(f).writerows([["location", "deaths"], [loc, f"{deaths:.1f}"]])
    print(f"location {loc}: {deaths:.1f} deaths")


def summary(out: str) -> None:
    folder = os.path.join(out, "locations")
    rows = []
    for name in sorted(os.listdir(folder), key=lambda n: int(n.split(".")[0])):
        with open(os.path.join(folder, name), newline="") as f:
            rows.extend(csv.DictReader(f))
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["location", "deaths"])
        w.writerows([r["location"], r["deaths"]] for r in rows)
    total = sum(float(r["deaths"]) for r in rows)
    print(f"summary: {len(rows)} locations, {total:.0f} deaths")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["prep", "location", "summary"])
    parser.add_argument("--loc", type=int)
    parser.add_argument("--out", required=True)
    a = parser.parse_args()
    if a.step == "prep":
        prep(a.out)
    elif a.step == "location":
        location(a.loc, a.out)
    else:
        summary(a.out)


if __name__ == "__main__":
    main()
