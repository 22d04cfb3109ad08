#!/usr/bin/env bash
# deploy/local/r.sh -- make R and the R packages that Drover's R client and its tests use
# available, from Debian (CRAN is not needed): r-base-core, r-cran-jsonlite,
# r-cran-processx, r-cran-testthat. Installs only what is missing; as root, or through
# sudo. `npm test -- clients/r/r.test.ts` fails, naming this script, when any is missing.
set -euo pipefail

wanted=(r-base-core r-cran-jsonlite r-cran-processx r-cran-testthat)
missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[r] installed: ${wanted[*]}"
  exit 0
fi
echo "[r] installing: ${missing[*]}"
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
Rscript -e 'invisible(lapply(c("jsonlite", "processx", "testthat"), library, character.only = TRUE))'
echo "[r] ready: $(R --version | head -1)"
