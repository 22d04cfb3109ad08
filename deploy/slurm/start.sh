#!/usr/bin/env bash
# deploy/slurm/start.sh -- bring up a REAL single-node Slurm cluster (Debian 12, slurm-wlm
# 22.05) for the slurm-bridge's tests and CI, without systemd: daemons are started
# directly and tracked by PID files. Run as root. Stop it with deploy/slurm/stop.sh.
#
# Idempotent and fast when up (< 1 s): with every daemon alive and the generated config
# unchanged it only checks that the node answers. If the config changed, slurmctld/slurmd
# (and slurmdbd) are restarted. Uses a running MariaDB that answers as root with no
# password, else installs and starts one.
#
# The cluster: one node advertising SLURM_LAB_CPUS CPUs (default 8, so that array tasks
# start in parallel even on a 2-core machine), partitions `debug` (default, no time limit)
# and `short` (1 h, 4 CPUs, 8 GiB per node), accounting through slurmdbd (sacct works),
# cgroup v1 memory enforcement when the host allows it (a job over --mem then ends
# OUT_OF_MEMORY), MaxArraySize=100001 (the bridge reads it back from `scontrol show config`).
#
# Environment knobs (all optional):
#   SLURM_LAB_DIR         state/log/pid dir                      (default ${TMPDIR:-/tmp}/drover-slurm)
#   SLURM_LAB_ACCOUNTING  slurmdbd | none                        (default slurmdbd)
#   SLURM_LAB_CGROUPS     auto | yes | no  (cgroup v1 enforcement) (default auto)
#   SLURM_LAB_CPUS        CPUs advertised for the node           (default 8); may exceed
#                         nproc (SlurmdParameters=config_overrides). Throughput of tiny jobs is
#                         ~CPUs jobs/s (scheduler runs once a second), so e.g. 32 gives ~30 jobs/s.
#   SLURM_LAB_GATHER      linux | cgroup  (JobAcctGatherType)    (default linux)
#   SLURM_LAB_CLUSTER     ClusterName                            (default lab)
#   SLURM_LAB_USERS       extra unix users to add to the accounting DB (space separated)
#   SLURM_LAB_DB_PASS     password for the MariaDB 'slurm' user  (default slurmlab)
set -euo pipefail

LAB=${SLURM_LAB_DIR:-${TMPDIR:-/tmp}/drover-slurm}
# One start/stop at a time (test files may run this concurrently). flock -o: the daemons
# started below must not inherit the lock.
if [ -z "${SLURM_LAB_LOCKED:-}" ] && command -v flock >/dev/null; then
  mkdir -p "$(dirname "$LAB")"
  SLURM_LAB_LOCKED=1 exec flock -o "$LAB.lock" "$BASH" "$0" "$@"
fi
ACCOUNTING=${SLURM_LAB_ACCOUNTING:-slurmdbd}
CGROUPS=${SLURM_LAB_CGROUPS:-auto}
CLUSTER=${SLURM_LAB_CLUSTER:-lab}
CPUS=${SLURM_LAB_CPUS:-8}
DBPASS=${SLURM_LAB_DB_PASS:-slurmlab}
NODE=$(hostname -s)
CONF_DIR=/etc/slurm           # compiled-in default of the Debian clients (sbatch, sacct, ...)
SLURM_USER=slurm
T0=$(date +%s%N)
exec 3>&1   # log() writes here, so messages survive redirections inside wait_for

log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[slurm %4d.%01ds] %s\n' $((ms/1000)) $((ms%1000/100)) "$*" >&3; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
case "$ACCOUNTING" in slurmdbd|none) ;; *) die "SLURM_LAB_ACCOUNTING must be slurmdbd or none";; esac

# alive <pidfile> <comm>: true if the pid in <pidfile> is a live process named <comm>
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc 0-9 < "$1"); [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
# wait_for <seconds> <description> <command...>
wait_for() {
  local t=$1 what=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
  log "$what: ready"
}
stop_pidfile() { # stop_pidfile <pidfile> <comm>
  alive "$1" "$2" || return 0
  local pid; pid=$(tr -dc 0-9 < "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$1"
}

# ---------------------------------------------------------------- packages
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_install() {
  local missing=() p created_policy=0
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # keep the packages' postinst from (trying to) start daemons through init scripts
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created_policy=1
  fi
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$LAB/log/apt.log" 2>&1; then
    apt-get update -q >>"$LAB/log/apt.log" 2>&1
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LAB/log/apt.log" 2>&1 \
      || { [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; tail -20 "$LAB/log/apt.log"; die "apt-get install failed"; }
  fi
  [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "installed: ${missing[*]}"
}

mkdir -p "$LAB/log" "$LAB/pids" "$LAB/slurmd" "$LAB/ctld"
chmod 755 "$LAB" "$LAB/log" "$LAB/pids"
# apt lists may be empty on a fresh container image
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then log "apt-get update"; apt-get update -q >"$LAB/log/apt-update.log" 2>&1; fi

PKGS=(munge slurm-client slurmctld slurmd)
[ "$ACCOUNTING" = slurmdbd ] && PKGS+=(slurmdbd)
apt_install "${PKGS[@]}"
id "$SLURM_USER" >/dev/null 2>&1 || die "user $SLURM_USER missing (should be created by slurm-wlm-basic-plugins)"
chown "$SLURM_USER:$SLURM_USER" "$LAB/log" "$LAB/pids" "$LAB/ctld"
# slurmctld/slurmdbd run as $SLURM_USER: every parent of $LAB must be traversable by it
runuser -u "$SLURM_USER" -- test -w "$LAB/ctld" -a -w "$LAB/log" \
  || die "$SLURM_USER cannot write $LAB/ctld or $LAB/log (a parent directory not o+x?)"

# ---------------------------------------------------------------- munge
MUNGE_STARTED_PID="$LAB/pids/munged.pid"    # only written if this script started munged
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"
  install -d -o munge -g munge -m 0700 /etc/munge
  if command -v mungekey >/dev/null; then runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
if alive /run/munge/munged.pid munged; then
  log "munged already running (pid $(cat /run/munge/munged.pid))"
else
  runuser -u munge -- /usr/sbin/munged --force </dev/null >>"$LAB/log/munged.start.log" 2>&1 3>&-
  wait_for 20 munged alive /run/munge/munged.pid munged || die "munged did not start (see /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$MUNGE_STARTED_PID"
fi
munge -n | unmunge >/dev/null || die "munge/unmunge round trip failed"

# ---------------------------------------------------------------- cgroups?
cgroup_v1_ok() {
  local d
  for d in memory freezer; do
    [ -w "/sys/fs/cgroup/$d/cgroup.procs" ] || return 1
  done
  d=/sys/fs/cgroup/memory/slurm_lab_probe_$$
  mkdir "$d" 2>/dev/null || return 1
  echo $((64 << 20)) > "$d/memory.limit_in_bytes" 2>/dev/null || { rmdir "$d"; return 1; }
  rmdir "$d"
}
case "$CGROUPS" in
  yes)  USE_CGROUP=1 ;;
  no)   USE_CGROUP=0 ;;
  auto) if cgroup_v1_ok; then USE_CGROUP=1; else USE_CGROUP=0; fi ;;
  *) die "SLURM_LAB_CGROUPS must be auto|yes|no" ;;
esac
log "cgroup v1 enforcement: $([ $USE_CGROUP = 1 ] && echo yes || echo no)"

# ---------------------------------------------------------------- MariaDB + slurmdbd
DB_STARTED_PID="$LAB/pids/mariadb.pid"      # only exists if this script started mariadbd
db_root() { # run SQL as DB root; socket first, then TCP 127.0.0.1 (root, empty password)
  mariadb -uroot "$@" 2>/dev/null || mariadb -uroot -h127.0.0.1 -P3306 "$@"
}
db_sql() { db_root -e "$1"; }
db_ping() { command -v mariadb >/dev/null && db_root -N -e 'select 1' >/dev/null 2>&1; }

if [ "$ACCOUNTING" = slurmdbd ]; then
  if alive "$DB_STARTED_PID" mariadbd && db_ping; then
    log "mariadbd (started by this script) already running (pid $(cat "$DB_STARTED_PID"))"
  elif db_ping; then
    log "using already-running MariaDB/MySQL (root, no password); it will not be stopped by stop.sh"
  else
    apt_install mariadb-server
    if alive "$DB_STARTED_PID" mariadbd; then :; else
      install -d -o mysql -g mysql -m 0755 /run/mysqld
      if [ ! -d /var/lib/mysql/mysql ]; then
        log "initialising /var/lib/mysql"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$LAB/log/mariadb-install-db.log" 2>&1
      fi
      log "starting mariadbd"
      setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
        --bind-address=127.0.0.1 --port=3306 --socket=/run/mysqld/mysqld.sock \
        --innodb-buffer-pool-size=1024M --innodb-lock-wait-timeout=900 --skip-log-bin \
        </dev/null >>"$LAB/log/mariadb.log" 2>&1 3>&- &
      dbpid=$!
      db_up() { [ -d "/proc/$dbpid" ] || { tail -20 "$LAB/log/mariadb.log" >&3; die "mariadbd exited"; }; db_ping; }
      wait_for 60 mariadbd db_up || { tail -20 "$LAB/log/mariadb.log"; die "mariadbd did not come up"; }
      cat /run/mysqld/mysqld.pid > "$DB_STARTED_PID" 2>/dev/null || echo "$dbpid" > "$DB_STARTED_PID"
    fi
  fi
  db_sql "
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
CREATE USER IF NOT EXISTS 'slurm'@'%' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'%' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'%';
FLUSH PRIVILEGES;"
fi

# ---------------------------------------------------------------- config files
mem_avail_mb=$(awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo)
mem_total_mb=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
REALMEM=$(( mem_avail_mb * 90 / 100 ))
[ "$REALMEM" -lt "$mem_total_mb" ] || REALMEM=$(( mem_total_mb - 256 ))
# RealMemory must never exceed what slurmd detects, or the node is drained ("Low RealMemory").
# It is recomputed on each run; keep it stable across re-runs unless it would be too high:
if [ -f "$LAB/realmem" ] && [ "$(cat "$LAB/realmem")" -le "$mem_total_mb" ]; then REALMEM=$(cat "$LAB/realmem"); fi
echo "$REALMEM" > "$LAB/realmem"

changed=0
write_conf() { # write_conf <path> <owner> <mode>; content on stdin; sets changed=1 on change
  local tmp; tmp=$(mktemp)
  cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"
  else install -o "$2" -g "$2" -m "$3" "$tmp" "$1"; rm -f "$tmp"; changed=1; log "wrote $1"; fi
  chown "$2:$2" "$1"; chmod "$3" "$1"
}
mkdir -p "$CONF_DIR"

# default memory for jobs without --mem (else a job would get the whole node's memory)
DEFMEM=$(( REALMEM / CPUS )); [ "$DEFMEM" -le 1024 ] || DEFMEM=1024

if [ $USE_CGROUP = 1 ]; then
  PROCTRACK=proctrack/cgroup; TASKPLUGIN=task/cgroup; GATHER_PARAMS="#JobAcctGatherParams= (cgroup enforces --mem)"
else
  PROCTRACK=proctrack/linuxproc; TASKPLUGIN=task/none; GATHER_PARAMS="JobAcctGatherParams=OverMemoryKill"
fi
if [ "$ACCOUNTING" = slurmdbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
else
  ACCT="AccountingStorageType=accounting_storage/none"
fi

write_conf "$CONF_DIR/slurm.conf" root 0644 <<EOF
# generated by deploy/slurm/start.sh
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=$SLURM_USER
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$LAB/pids/slurmctld.pid
SlurmdPidFile=$LAB/pids/slurmd.pid
StateSaveLocation=$LAB/ctld
SlurmdSpoolDir=$LAB/slurmd
SlurmctldLogFile=$LAB/log/slurmctld.log
SlurmdLogFile=$LAB/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# trust slurm.conf over detected hardware (lets SLURM_LAB_CPUS exceed nproc without draining)
SlurmdParameters=config_overrides
ProctrackType=$PROCTRACK
TaskPlugin=$TASKPLUGIN
# timers (short, for tests)
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
# scheduling
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEFMEM
MaxJobCount=200000
MaxArraySize=100001
# accounting
$ACCT
JobAcctGatherType=jobacct_gather/${SLURM_LAB_GATHER:-linux}
JobAcctGatherFrequency=task=1
$GATHER_PARAMS
JobCompType=jobcomp/filetxt
JobCompLoc=$LAB/log/jobcomp.txt
# the node
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REALMEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
# a second partition with limits, so queue registration and fallback queues can be tested
PartitionName=short Nodes=ALL MaxTime=01:00:00 MaxCPUsPerNode=4 MaxMemPerNode=8192 State=UP
EOF

MEMSW=no; [ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] && MEMSW=yes
write_conf "$CONF_DIR/cgroup.conf" root 0644 <<EOF
# generated by deploy/slurm/start.sh (only used when ProctrackType/TaskPlugin are cgroup)
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainDevices=no
ConstrainRAMSpace=yes
AllowedRAMSpace=100
ConstrainSwapSpace=$MEMSW
AllowedSwapSpace=0
EOF

slurm_changed=$changed; changed=0
if [ "$ACCOUNTING" = slurmdbd ]; then
  write_conf "$CONF_DIR/slurmdbd.conf" "$SLURM_USER" 0600 <<EOF
# generated by deploy/slurm/start.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=$SLURM_USER
DebugLevel=info
LogFile=$LAB/log/slurmdbd.log
PidFile=$LAB/pids/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
fi

dbd_changed=$changed
# config changed: restart the affected daemons that are running
restart=()
[ "$slurm_changed" = 1 ] && restart+=(slurmd slurmctld)
[ "$dbd_changed" = 1 ] && restart+=(slurmd slurmctld slurmdbd)
[ "$ACCOUNTING" = none ] && restart+=(slurmdbd)     # not wanted any more
for d in slurmd slurmctld slurmdbd; do
  [[ " ${restart[*]} " == *" $d "* ]] || continue
  if alive "$LAB/pids/$d.pid" "$d"; then log "config changed: stopping $d"; stop_pidfile "$LAB/pids/$d.pid" "$d"; fi
done

# ---------------------------------------------------------------- slurmdbd
if [ "$ACCOUNTING" = slurmdbd ]; then
  if alive "$LAB/pids/slurmdbd.pid" slurmdbd; then log "slurmdbd already running"; else
    log "starting slurmdbd"
    /usr/sbin/slurmdbd </dev/null >>"$LAB/log/slurmdbd.start.log" 2>&1 3>&-
    wait_for 60 slurmdbd sacctmgr -n -P list cluster format=cluster \
      || { tail -20 "$LAB/log/slurmdbd.log"; die "slurmdbd did not come up"; }
  fi
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    log "registered cluster $CLUSTER in slurmdbd"
  fi
  # users other than root need an association for their jobs to be attributed properly
  if [ -n "${SLURM_LAB_USERS:-}" ]; then
    sacctmgr -n -P list account lab format=account | grep -qx lab || sacctmgr -i add account lab cluster="$CLUSTER" >/dev/null
    for u in $SLURM_LAB_USERS; do
      sacctmgr -n -P list user "$u" format=user | grep -qx "$u" || sacctmgr -i add user "$u" account=lab cluster="$CLUSTER" >/dev/null
    done
  fi
fi

# ---------------------------------------------------------------- slurmctld + slurmd
if alive "$LAB/pids/slurmctld.pid" slurmctld; then log "slurmctld already running"; else
  log "starting slurmctld"
  /usr/sbin/slurmctld </dev/null >>"$LAB/log/slurmctld.start.log" 2>&1 3>&-
  wait_for 60 slurmctld scontrol ping || { tail -20 "$LAB/log/slurmctld.log"; die "slurmctld did not come up"; }
fi
if alive "$LAB/pids/slurmd.pid" slurmd; then log "slurmd already running"; else
  log "starting slurmd"
  /usr/sbin/slurmd -N "$NODE" </dev/null >>"$LAB/log/slurmd.start.log" 2>&1 3>&-
  wait_for 20 slurmd alive "$LAB/pids/slurmd.pid" slurmd || { tail -20 "$LAB/log/slurmd.log"; die "slurmd did not come up"; }
fi

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1; }
resumed=0
end=$(( $(date +%s) + 90 ))
while :; do
  st=$(node_state)
  case "$st" in
    idle|mixed|allocated) break ;;
    *drain*|down*|*fail*)
      if [ $resumed = 0 ]; then
        log "node state '$st' ($(sinfo -h -N -n "$NODE" -o %E)); resuming"
        scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true; resumed=1
      fi ;;
  esac
  [ "$(date +%s)" -lt "$end" ] || { sinfo -N -l; tail -20 "$LAB/log/slurmd.log"; die "node $NODE never became idle (state: $st)"; }
  sleep 0.2
done
log "node $NODE is $st -- cluster $CLUSTER up (accounting=$ACCOUNTING, cgroups=$USE_CGROUP, CPUs=$CPUS, RealMemory=${REALMEM}M)"
