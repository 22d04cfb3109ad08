#!/bin/sh
# A stand-in for a model run: one location and year, writes a small CSV of estimates.
# Usage: model.sh LOCATION YEAR OUTDIR
set -eu
loc=$1 year=$2 out=$3
mkdir -p "$out/model"
# Location 7 in 2021 fails on its first attempt, as a flaky node or a full disk would;
# Drover retries it.
marker="$out/.flaky-$loc-$year"
if [ "$loc" = 7 ] && [ "$year" = 2021 ] && [ ! -e "$marker" ]; then
  touch "$marker"
  echo "model $loc/$year: lost the connection to the data store, giving up" >&2
  exit 3
fi
sleep 0.3
awk -v loc="$loc" -v year="$year" 'BEGIN {
  srand(loc * 10000 + year)
  print "location,year,draw,deaths"
  for (d = 1; d <= 100; d++) printf "%s,%s,%d,%.2f\n", loc, year, d, 1000 * (1 + rand())
}' > "$out/model/$loc-$year.csv"
echo "model $loc/$year done"
