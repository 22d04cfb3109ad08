#!/usr/bin/env bash
# deploy/slurm/stop.sh -- stop what deploy/slurm/start.sh started, by PID file only.
# Cancels remaining jobs first (so no slurmstepd is left behind), then stops
# slurmd, slurmctld, slurmdbd, mariadbd (only if start.sh started it) and
# munged (only if start.sh started it).  State/logs in $SLURM_LAB_DIR are kept;
# --purge deletes them too: job ids then restart at 1, but the accounting DB in
# /var/lib/mysql is kept, so old records with the same ids remain (sacct shows the
# newest per id unless --duplicates).
set -uo pipefail
LAB=${SLURM_LAB_DIR:-${TMPDIR:-/tmp}/drover-slurm}
# One start/stop at a time (test files may run this concurrently). flock -o: the daemons
# started below must not inherit the lock.
if [ -z "${SLURM_LAB_LOCKED:-}" ] && command -v flock >/dev/null; then
  mkdir -p "$(dirname "$LAB")"
  SLURM_LAB_LOCKED=1 exec flock -o "$LAB.lock" "$BASH" "$0" "$@"
fi
PURGE=0; [ "${1:-}" = --purge ] && PURGE=1

log() { echo "[slurm] $*"; }
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc 0-9 < "$1"); [ -n "$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
stop_pidfile() { # stop_pidfile <pidfile> <comm> [timeout_s]
  local pf=$1 comm=$2 t=${3:-30} pid
  if ! alive "$pf" "$comm"; then rm -f "$pf"; return 0; fi
  pid=$(tr -dc 0-9 < "$pf")
  log "stopping $comm (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq $((t * 5))); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  if [ -d "/proc/$pid" ]; then log "$comm did not exit, SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.5; fi
  rm -f "$pf"
}

# 1. cancel all jobs while the controller is still up, wait until no step daemons remain
if alive "$LAB/pids/slurmctld.pid" slurmctld; then
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 150); do
      [ -z "$(squeue -h -t R,CG,PD -o %A 2>/dev/null)" ] && break; sleep 0.2
    done
  fi
fi

# 2. daemons, reverse start order
stop_pidfile "$LAB/pids/slurmd.pid"    slurmd
stop_pidfile "$LAB/pids/slurmctld.pid" slurmctld
stop_pidfile "$LAB/pids/slurmdbd.pid"  slurmdbd
stop_pidfile "$LAB/pids/mariadb.pid"   mariadbd 60   # only exists if start.sh started it
if [ -s "$LAB/pids/munged.pid" ]; then                # only exists if start.sh started it
  if cmp -s "$LAB/pids/munged.pid" /run/munge/munged.pid || alive "$LAB/pids/munged.pid" munged; then
    stop_pidfile "$LAB/pids/munged.pid" munged
  fi
  rm -f "$LAB/pids/munged.pid"
fi

if [ $PURGE = 1 ]; then
  log "purging $LAB"
  rm -rf "$LAB"
fi
log "done"
