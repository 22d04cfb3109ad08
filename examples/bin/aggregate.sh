#!/bin/sh
# Aggregates one location's model runs over years and draws: mean deaths per year.
# Usage: aggregate.sh LOCATION OUTDIR
set -eu
loc=$1 out=$2
mkdir -p "$out/agg"
cat "$out"/model/"$loc"-*.csv | awk -F, -v loc="$loc" '
  $1 == loc { sum[$2] += $4; n[$2]++ }
  END { print "location,year,mean_deaths"; for (y in sum) printf "%s,%s,%.2f\n", loc, y, sum[y] / n[y] }
' | sort > "$out/agg/$loc.csv"
echo "aggregate $loc done"
