#!/bin/sh
# The report: every location's aggregate in one table, plus the grand mean.
# Usage: report.sh OUTDIR
set -eu
out=$1
{
  echo "location,year,mean_deaths"
  cat "$out"/agg/*.csv | grep -v '^location'
} > "$out/report.csv"
awk -F, 'NR > 1 { s += $3; n++ } END { printf "report: %d location-years, mean deaths %.1f\n", n, s / n }' "$out/report.csv"
