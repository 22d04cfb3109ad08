#!/usr/bin/env bash
# Make Postgres and NATS (with JetStream) reachable for development, tests and
# the demo, on a machine that may have neither.
#
# Usage: services.sh up | down | env | status
#
#   up      For each service use, in order: the URL in the environment
#           (DROVER_DATABASE_URL / DROVER_NATS_URL) when it answers; else,
#           only when that variable is unset, the default
#           (postgres://postgres@127.0.0.1:5432/drover, nats://127.0.0.1:4222
#           with JetStream); else a private instance under DROVER_SERVICES_DIR
#           (default /var/tmp/drover-services-<user>: the caller's own, 0700,
#           refused when it is a symlink or someone else's), installing
#           postgresql / nats-server from Debian when missing (as root). The
#           private Postgres takes passwords only (scram-sha-256) over TCP; its
#           superuser's password is generated once into postgres.password
#           (0600) in that folder. Creates the database when missing. Prints
#           two eval-able lines on stdout (the database URL with its password):
#             export DROVER_DATABASE_URL=...
#             export DROVER_NATS_URL=...
#           With DROVER_SERVICES_ONLY=postgres, only Postgres (and its line).
#   down    Stop the private instances this script started (data is kept).
#   env     Like up, but never starts or installs anything; exit 1 when a
#           service is not reachable.
#   status  Human-readable lines about each service.
#   nats-bin  The path of nats-server (installed from Debian when missing).
#
# All progress goes to stderr, prefixed [services].
set -euo pipefail

readonly DEFAULT_PG_URL="postgres://postgres@127.0.0.1:5432/drover"
readonly DEFAULT_NATS_URL="nats://127.0.0.1:4222"
readonly PG_PORT_BASE=15432
readonly NATS_PORT_BASE=14222

DIR="${DROVER_SERVICES_DIR:-/var/tmp/drover-services-$(id -un)}"
STATE="$DIR/state"
PG_SECRET="$DIR/postgres.password"
PG_ROOT="$DIR/pg"
PG_DATA="$PG_ROOT/data"
PG_LOG="$PG_ROOT/postgres.log"
NATS_ROOT="$DIR/nats"
NATS_STORE="$NATS_ROOT/store"
NATS_PID="$NATS_ROOT/pid"
NATS_LOG="$NATS_ROOT/log"

MODE=""          # up | env | status
PG_URL=""        # resolved URL
PG_SRC=""        # env | default | private
NATS_URL=""
NATS_SRC=""
STATE_PG_PORT=""
STATE_NATS_PORT=""

export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-3}"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Hide a password in a URL before logging it.
redact() { sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# ---------------------------------------------------------------- network --

# tcp_open HOST PORT: something accepts connections there.
tcp_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# First port from BASE upward on which nothing listens (and not EXCLUDE).
free_port() {
  local base="$1" exclude="${2:-}" p
  for ((p = base; p < base + 500; p++)); do
    [[ "$p" == "$exclude" ]] && continue
    if ! tcp_open 127.0.0.1 "$p"; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "no free port found in ${base}-$((base + 499)) on 127.0.0.1"
}

# --------------------------------------------------------------- packages --

APT_UPDATED=0
apt_update() {
  [[ "$APT_UPDATED" -eq 1 ]] && return 0
  log "apt-get update"
  apt-get -q -o DPkg::Lock::Timeout=300 update >&2 || die "apt-get update failed"
  APT_UPDATED=1
}

# install_pkgs PKG...: Debian packages, as root, without starting daemons.
install_pkgs() {
  is_root || die "missing $*: install with 'apt-get install $*' (as root), or set DROVER_DATABASE_URL / DROVER_NATS_URL to running servers"
  command -v apt-get >/dev/null || die "missing $* and apt-get is not available: install them by hand"
  local policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt_update
  fi
  log "installing $* with apt-get"
  local -a cmd=(apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "$@")
  if ! DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >&2; then
    apt_update
    DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >&2 || rc=$?
  fi
  if [[ "$created_policy" -eq 1 ]]; then rm -f "$policy"; fi
  [[ "$rc" -eq 0 ]] || die "apt-get install $* failed (see the apt-get output above)"
}

have_psql() { command -v psql >/dev/null; }

ensure_psql() {
  have_psql && return 0
  install_pkgs postgresql-client
  hash -r
  have_psql || die "psql still missing after installing postgresql-client"
}

# --------------------------------------------------------------- postgres --

# pg_parse URL: sets PG_HOST PG_PORT PG_DB PG_ADMIN_URL (same server, db postgres).
pg_parse() {
  local url="$1" authority="" path="" query=""
  PG_HOST=127.0.0.1 PG_PORT=5432 PG_DB="" PG_ADMIN_URL="$url"
  if [[ "$url" =~ ^(postgres(ql)?://)([^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
    authority="${BASH_REMATCH[3]}"
    path="${BASH_REMATCH[4]}"
    query="${BASH_REMATCH[5]}"
    PG_ADMIN_URL="${BASH_REMATCH[1]}${authority}/postgres${query}"
    PG_DB="${path#/}"
    local hostport="${authority##*@}"
    if [[ "$hostport" =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then
      PG_HOST="${BASH_REMATCH[1]}"
      PG_PORT="${BASH_REMATCH[3]:-5432}"
    elif [[ "$hostport" =~ ^([^:,]*)(:([0-9]+))?$ ]]; then
      PG_HOST="${BASH_REMATCH[1]:-127.0.0.1}"
      PG_PORT="${BASH_REMATCH[3]:-5432}"
    fi
  fi
}

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# pg_answers URL: the server answers (its postgres db, or the db itself).
pg_answers() {
  local url="$1"
  pg_parse "$url"
  if ! have_psql; then
    tcp_open "$PG_HOST" "$PG_PORT" || return 1
    [[ "$MODE" == up ]] || return 0 # cannot tell more without psql
    ensure_psql
  fi
  psql_q "$PG_ADMIN_URL" -c 'select 1' >/dev/null 2>&1 && return 0
  psql_q "$url" -c 'select 1' >/dev/null 2>&1
}

# pg_ensure_db URL: create its database when missing.
pg_ensure_db() {
  local url="$1" q
  pg_parse "$url"
  [[ -n "$PG_DB" && "$PG_DB" != postgres ]] || return 0
  ensure_psql
  q="select 1 from pg_database where datname = :'db'"
  if [[ "$(psql_q "$PG_ADMIN_URL" -v db="$PG_DB" <<<"$q" 2>/dev/null)" == 1 ]]; then
    return 0
  fi
  log "creating database $PG_DB"
  local err
  if ! err="$(psql_q "$PG_ADMIN_URL" -v db="$PG_DB" <<<'create database :"db"' 2>&1)"; then
    # Lost a race with another creator?
    [[ "$(psql_q "$PG_ADMIN_URL" -v db="$PG_DB" <<<"$q" 2>/dev/null)" == 1 ]] ||
      die "could not create database $PG_DB on $(redact "$PG_ADMIN_URL"): $err"
  fi
}

pg_bindir() {
  local ver="" d=""
  ver="$(cat "$PG_DATA/PG_VERSION" 2>/dev/null || true)"
  if [[ -n "$ver" && -x "/usr/lib/postgresql/$ver/bin/pg_ctl" ]]; then
    printf '%s\n' "/usr/lib/postgresql/$ver/bin"
    return 0
  fi
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/pg_ctl" && -x "$d/initdb" ]]; then
    [[ -z "$ver" ]] || log "warning: $PG_DATA is from PostgreSQL $ver but only $d is installed"
    printf '%s\n' "$d"
    return 0
  fi
  d="$(command -v initdb 2>/dev/null || true)"
  if [[ -n "$d" ]]; then
    dirname "$d"
    return 0
  fi
  return 1
}

# as_pg CMD...: run as the postgres user when root (Postgres refuses root),
# else as the current user; from a directory that user can reach.
# fd 9 (the lock) is closed so a started server does not keep holding it.
as_pg() {
  if is_root; then
    (cd "$DIR" && runuser -u postgres -- "$@" 9>&-)
  else
    (cd "$DIR" && "$@" 9>&-)
  fi
}

private_pg_url() {
  printf 'postgres://postgres:%s@127.0.0.1:%s/drover\n' "$(pg_secret)" "$1"
}

# pg_secret: the private Postgres superuser's password, made on first use (0600; letters
# and digits only, so it needs no escaping in a URL).
pg_secret() {
  if [[ ! -s "$PG_SECRET" ]]; then
    prepare_dir
    (
      umask 077
      head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$PG_SECRET.tmp.$$"
    )
    mv -f "$PG_SECRET.tmp.$$" "$PG_SECRET"
  fi
  [[ ! -L "$PG_SECRET" && -O "$PG_SECRET" ]] || die "$PG_SECRET is not a file of $(id -un): refusing it"
  chmod 600 "$PG_SECRET"
  cat "$PG_SECRET"
}

private_pg_alive() {
  [[ -n "$STATE_PG_PORT" ]] || return 1
  pg_answers "$(private_pg_url "$STATE_PG_PORT")"
}

write_pg_conf() {
  local port="$1" conf="$PG_DATA/drover.conf"
  cat >"$conf" <<EOF
# Written by deploy/local/services.sh on each start.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 256MB
EOF
  # Over TCP a password, always; the socket lives in the data folder (0700, the
  # server's own user), where only that user and root can reach it.
  local hba="$PG_DATA/pg_hba.conf"
  cat >"$hba" <<EOF
# Written by deploy/local/services.sh on each start.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
EOF
  if is_root; then chown postgres: "$conf" "$hba"; fi
  chmod 600 "$conf" "$hba"
}

# pg_set_password BINDIR PORT: the superuser's password is the generated secret (a data
# folder made before passwords were asked gets it here).
pg_set_password() {
  local bindir="$1" port="$2" secret
  secret="$(pg_secret)"
  as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DATA" -p "$port" -U postgres -d postgres \
    -v pw="$secret" <<<"alter role postgres password :'pw'" >&2 ||
    die "could not set the private postgres password: read $PG_LOG"
}

start_private_pg() {
  local bindir port
  if ! bindir="$(pg_bindir)"; then
    install_pkgs postgresql
    hash -r
    bindir="$(pg_bindir)" || die "PostgreSQL server binaries not found after installing postgresql (looked in /usr/lib/postgresql/*/bin)"
  fi
  have_psql || ensure_psql

  if is_root && ! id -u postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    useradd --system --user-group --home-dir "$PG_ROOT" --shell /usr/sbin/nologin postgres ||
      die "could not create the postgres user"
  fi
  mkdir -p "$PG_ROOT"
  if is_root; then chown postgres: "$PG_ROOT"; fi
  chmod 700 "$PG_ROOT"
  as_pg test -w "$PG_ROOT" ||
    die "$PG_ROOT is not reachable by the postgres user: every parent directory of DROVER_SERVICES_DIR must be traversable (chmod o+x)"

  if ! as_pg test -f "$PG_DATA/PG_VERSION"; then
    log "initdb in $PG_DATA ($bindir)"
    rm -rf "$PG_DATA"
    # initdb reads the password as the server's user: a copy of its own, removed after.
    local pwfile="$PG_ROOT/initdb.password"
    (umask 077 && pg_secret >"$pwfile")
    if is_root; then chown postgres: "$pwfile"; fi
    as_pg "$bindir/initdb" -D "$PG_DATA" -A scram-sha-256 --pwfile="$pwfile" -U postgres \
      -E UTF8 --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1 ||
      { rm -f "$pwfile"; die "initdb failed: read $PG_ROOT/initdb.log"; }
    rm -f "$pwfile"
    printf "\ninclude = 'drover.conf'\n" >>"$PG_DATA/postgresql.conf"
  fi

  port="$STATE_PG_PORT"
  if [[ -z "$port" ]] || tcp_open 127.0.0.1 "$port"; then
    port="$(free_port "$PG_PORT_BASE" "$STATE_NATS_PORT")"
  fi
  write_pg_conf "$port"
  log "starting private postgres on 127.0.0.1:$port (log: $PG_LOG)"
  as_pg "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s start >&2 ||
    die "postgres failed to start: read $PG_LOG"
  STATE_PG_PORT="$port"
  save_state
  pg_set_password "$bindir" "$port"
  pg_answers "$(private_pg_url "$port")" ||
    die "private postgres started but does not answer on 127.0.0.1:$port: read $PG_LOG"
}

stop_private_pg() {
  if ! as_pg test -f "$PG_DATA/postmaster.pid" 2>/dev/null; then
    log "private postgres: not running"
    return 0
  fi
  local bindir
  bindir="$(pg_bindir)" || die "pg_ctl not found to stop the private postgres"
  log "stopping private postgres ($PG_DATA)"
  as_pg "$bindir/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 -s stop >&2 ||
    die "pg_ctl stop failed: read $PG_LOG"
}

# resolve_pg: sets PG_URL and PG_SRC, or returns 1 (env mode, nothing answers).
resolve_pg() {
  local envurl="${DROVER_DATABASE_URL:-}"
  if [[ -n "$envurl" ]]; then
    if pg_answers "$envurl"; then
      PG_URL="$envurl" PG_SRC=env
      return 0
    fi
    log "DROVER_DATABASE_URL=$(redact "$envurl") does not answer: trying a private postgres"
  elif pg_answers "$DEFAULT_PG_URL"; then
    PG_URL="$DEFAULT_PG_URL" PG_SRC=default
    return 0
  fi
  if private_pg_alive; then
    PG_URL="$(private_pg_url "$STATE_PG_PORT")" PG_SRC=private
    return 0
  fi
  [[ "$MODE" == up ]] || return 1
  lock
  load_state
  if ! private_pg_alive; then start_private_pg; fi
  PG_URL="$(private_pg_url "$STATE_PG_PORT")" PG_SRC=private
}

# ------------------------------------------------------------------- nats --

# nats_parse URL: sets NATS_HOST NATS_PORT (first server of a list).
nats_parse() {
  local url="${1%%,*}"
  url="${url#*://}"
  url="${url##*@}"
  url="${url%%/*}"
  NATS_HOST=127.0.0.1 NATS_PORT=4222
  if [[ "$url" =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then
    NATS_HOST="${BASH_REMATCH[1]}"
    NATS_PORT="${BASH_REMATCH[3]:-4222}"
  elif [[ "$url" =~ ^([^:]*)(:([0-9]+))?$ ]]; then
    NATS_HOST="${BASH_REMATCH[1]:-127.0.0.1}"
    NATS_PORT="${BASH_REMATCH[3]:-4222}"
  fi
}

# nats_info HOST PORT: print the server's INFO line.
nats_info() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r -t 2 line <&3 && printf "%s\n" "$line"' \
    _ "$1" "$2" 2>/dev/null
}

# nats_answers URL: a NATS server answers there with JetStream enabled.
NATS_WHY=""
nats_answers() {
  local info
  nats_parse "$1"
  NATS_WHY="no answer"
  info="$(nats_info "$NATS_HOST" "$NATS_PORT")" || return 1
  if [[ "$info" != INFO* ]]; then
    NATS_WHY="not a NATS server"
    return 1
  fi
  if [[ "$info" != *'"jetstream":true'* ]]; then
    NATS_WHY="JetStream is not enabled"
    return 1
  fi
  NATS_WHY=""
}

private_nats_url() { printf 'nats://127.0.0.1:%s\n' "$1"; }

nats_pid() {
  local pid
  [[ -r "$NATS_PID" ]] || return 1
  pid="$(tr -dc '0-9' <"$NATS_PID")"
  [[ -n "$pid" ]] || return 1
  pid_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null || echo nats-server)" == nats-server* ]] || return 1
  printf '%s\n' "$pid"
}

private_nats_alive() {
  [[ -n "$STATE_NATS_PORT" ]] || return 1
  nats_answers "$(private_nats_url "$STATE_NATS_PORT")"
}

nats_bin() {
  local b
  for b in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
    if [[ -n "$b" && -x "$b" ]]; then
      printf '%s\n' "$b"
      return 0
    fi
  done
  return 1
}

start_private_nats() {
  local bin port pid i
  if ! bin="$(nats_bin)"; then
    install_pkgs nats-server
    hash -r
    bin="$(nats_bin)" || die "nats-server not found after installing the nats-server package"
  fi
  if pid="$(nats_pid)"; then
    # Ours, alive, but not answering: replace it.
    log "private nats (pid $pid) does not answer: restarting it"
    kill "$pid" 2>/dev/null || true
    wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
  fi
  mkdir -p "$NATS_STORE"
  chmod 700 "$NATS_ROOT" "$NATS_STORE"
  port="$STATE_NATS_PORT"
  if [[ -z "$port" ]] || tcp_open 127.0.0.1 "$port"; then
    port="$(free_port "$NATS_PORT_BASE" "$STATE_PG_PORT")"
  fi
  log "starting private nats-server on 127.0.0.1:$port with JetStream (log: $NATS_LOG)"
  rm -f "$NATS_PID"
  # Early failures (before -l takes over) land in the same log; both append.
  # shellcheck disable=SC2094
  setsid nohup "$bin" -a 127.0.0.1 -p "$port" -js -sd "$NATS_STORE" -P "$NATS_PID" -l "$NATS_LOG" \
    </dev/null >>"$NATS_LOG" 2>&1 9>&- &
  pid=$!
  disown "$pid" 2>/dev/null || true
  STATE_NATS_PORT="$port"
  save_state
  for ((i = 0; i < 100; i++)); do
    if nats_answers "$(private_nats_url "$port")"; then return 0; fi
    if ! pid_alive "$pid"; then
      die "nats-server exited at start: read $NATS_LOG"
    fi
    sleep 0.1
  done
  die "nats-server did not answer with JetStream on 127.0.0.1:$port within 10 s ($NATS_WHY): read $NATS_LOG"
}

# pid_alive PID: running (a zombie waiting to be reaped counts as gone).
pid_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

wait_gone() {
  local pid="$1" i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

stop_private_nats() {
  local pid
  if ! pid="$(nats_pid)"; then
    log "private nats: not running"
    rm -f "$NATS_PID" 2>/dev/null || true
    return 0
  fi
  log "stopping private nats-server (pid $pid)"
  kill "$pid" 2>/dev/null || true
  if ! wait_gone "$pid"; then
    log "nats-server (pid $pid) did not stop within 10 s: killing it"
    kill -9 "$pid" 2>/dev/null || true
    wait_gone "$pid" || die "could not stop nats-server pid $pid (log: $NATS_LOG)"
  fi
  rm -f "$NATS_PID" 2>/dev/null || true
}

resolve_nats() {
  local envurl="${DROVER_NATS_URL:-}"
  if [[ -n "$envurl" ]]; then
    if nats_answers "$envurl"; then
      NATS_URL="$envurl" NATS_SRC=env
      return 0
    fi
    log "DROVER_NATS_URL=$(redact "$envurl") does not answer ($NATS_WHY): trying a private nats-server"
  elif nats_answers "$DEFAULT_NATS_URL"; then
    NATS_URL="$DEFAULT_NATS_URL" NATS_SRC=default
    return 0
  fi
  if private_nats_alive; then
    NATS_URL="$(private_nats_url "$STATE_NATS_PORT")" NATS_SRC=private
    return 0
  fi
  [[ "$MODE" == up ]] || return 1
  lock
  load_state
  if ! private_nats_alive; then start_private_nats; fi
  NATS_URL="$(private_nats_url "$STATE_NATS_PORT")" NATS_SRC=private
}

# ------------------------------------------------------------------ state --

load_state() {
  STATE_PG_PORT="" STATE_NATS_PORT=""
  [[ -r "$STATE" ]] || return 0
  local key val
  while IFS='=' read -r key val; do
    [[ "$val" =~ ^[0-9]+$ ]] || continue
    case "$key" in
      pg_port) STATE_PG_PORT="$val" ;;
      nats_port) STATE_NATS_PORT="$val" ;;
    esac
  done <"$STATE"
}

save_state() {
  local tmp="$STATE.tmp.$$"
  printf 'pg_port=%s\nnats_port=%s\n' "$STATE_PG_PORT" "$STATE_NATS_PORT" >"$tmp"
  mv -f "$tmp" "$STATE"
}

prepare_dir() {
  # The folder is ours or refused: in a shared /var/tmp another user could have made it
  # first, or planted a symlink to somewhere a root caller would then write.
  [[ ! -L "$DIR" ]] || die "$DIR is a symlink: refusing it (remove it, or set DROVER_SERVICES_DIR)"
  mkdir -p "$DIR" || die "cannot create $DIR (set DROVER_SERVICES_DIR to a writable directory)"
  [[ -d "$DIR" && ! -L "$DIR" ]] || die "$DIR is not a folder: refusing it"
  [[ -O "$DIR" ]] || die "$DIR belongs to another user: refusing it (set DROVER_SERVICES_DIR)"
  local sub
  for sub in "$STATE" "$PG_ROOT" "$NATS_ROOT" "$DIR/.lock"; do
    [[ ! -L "$sub" ]] || die "$sub is a symlink: refusing it"
  done
  # Nobody else may list or read it (NATS's store, the state file). As root, the postgres
  # user must still pass through to its own folder (pg/, 0700 and its own): 0711.
  if is_root; then chmod 711 "$DIR" 2>/dev/null || true; else chmod 700 "$DIR" 2>/dev/null || true; fi
  [[ -w "$DIR" ]] || die "$DIR is not writable (set DROVER_SERVICES_DIR to a writable directory)"
}

LOCKED=0
lock() {
  [[ "$LOCKED" -eq 1 ]] && return 0
  prepare_dir
  exec 9>"$DIR/.lock"
  if command -v flock >/dev/null; then
    flock -w 120 9 || die "timed out waiting for $DIR/.lock (another services.sh running?)"
  fi
  LOCKED=1
}

# --------------------------------------------------------------- commands --

print_exports() {
  printf 'export DROVER_DATABASE_URL=%q\n' "$PG_URL"
  printf 'export DROVER_NATS_URL=%q\n' "$NATS_URL"
}

cmd_up() {
  MODE=up
  load_state
  resolve_pg
  pg_ensure_db "$PG_URL"
  log "postgres: $PG_SRC $(redact "$PG_URL")"
  # DROVER_SERVICES_ONLY=postgres: NATS is the caller's business (drover up starts an
  # authenticated one of its own).
  if [[ "${DROVER_SERVICES_ONLY:-}" == postgres ]]; then
    printf 'export DROVER_DATABASE_URL=%q\n' "$PG_URL"
    return 0
  fi
  resolve_nats
  log "nats: $NATS_SRC $(redact "$NATS_URL")"
  print_exports
}

cmd_env() {
  MODE="env"
  load_state
  local ok=1
  resolve_pg || { log "postgres: nothing answers (run: $0 up)"; ok=0; }
  resolve_nats || { log "nats: nothing answers (run: $0 up)"; ok=0; }
  [[ "$ok" -eq 1 ]] || exit 1
  print_exports
}

cmd_down() {
  if [[ ! -d "$DIR" ]]; then
    log "nothing to stop ($DIR does not exist)"
    return 0
  fi
  lock
  load_state
  stop_private_nats
  if [[ -d "$PG_ROOT" ]]; then stop_private_pg; else log "private postgres: not created"; fi
}

cmd_status() {
  MODE=status
  load_state
  local ok=0 envurl
  echo "services dir: $DIR"

  envurl="${DROVER_DATABASE_URL:-}"
  if [[ -n "$envurl" ]]; then
    if pg_answers "$envurl"; then
      echo "postgres (env):     $(redact "$envurl") answers"
    else
      echo "postgres (env):     $(redact "$envurl") does NOT answer"
    fi
  else
    if pg_answers "$DEFAULT_PG_URL"; then
      echo "postgres (default): $DEFAULT_PG_URL answers"
    else
      echo "postgres (default): $DEFAULT_PG_URL does not answer"
    fi
  fi
  if [[ -n "$STATE_PG_PORT" ]]; then
    if private_pg_alive; then
      echo "postgres (private): $(private_pg_url "$STATE_PG_PORT") running (data $PG_DATA, log $PG_LOG)"
    else
      echo "postgres (private): port $STATE_PG_PORT stopped (data $PG_DATA, log $PG_LOG)"
    fi
  else
    echo "postgres (private): not created"
  fi

  envurl="${DROVER_NATS_URL:-}"
  if [[ -n "$envurl" ]]; then
    if nats_answers "$envurl"; then
      echo "nats (env):         $(redact "$envurl") answers with JetStream"
    else
      echo "nats (env):         $(redact "$envurl") does NOT answer ($NATS_WHY)"
    fi
  else
    if nats_answers "$DEFAULT_NATS_URL"; then
      echo "nats (default):     $DEFAULT_NATS_URL answers with JetStream"
    else
      echo "nats (default):     $DEFAULT_NATS_URL does not answer ($NATS_WHY)"
    fi
  fi
  if [[ -n "$STATE_NATS_PORT" ]]; then
    local pid
    if private_nats_alive; then
      pid="$(nats_pid || echo '?')"
      echo "nats (private):     $(private_nats_url "$STATE_NATS_PORT") running, pid $pid (store $NATS_STORE, log $NATS_LOG)"
    else
      echo "nats (private):     port $STATE_NATS_PORT stopped (store $NATS_STORE, log $NATS_LOG)"
    fi
  else
    echo "nats (private):     not created"
  fi

  MODE="env"
  if resolve_pg && resolve_nats 2>/dev/null; then
    echo "in use: postgres $PG_SRC $(redact "$PG_URL"); nats $NATS_SRC $(redact "$NATS_URL")"
    ok=1
  else
    echo "in use: not all services reachable (run: $0 up)"
  fi 2>/dev/null
  [[ "$ok" -eq 1 ]]
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    nats-bin) nats_bin || { install_pkgs nats-server && nats_bin; } ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
