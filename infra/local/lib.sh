# shellcheck shell=bash
# Shared helpers for infra/local/{up,down,status}. Sourced, never executed.
#
# Layout
#   <repo>/.infra/lock              flock(1) lock serialising up/down
#   <repo>/.infra/env               REDIS_URL=… KAFKA_BROKERS=… MONGODB_URI=… of running servers
#   <repo>/.infra/redis/            redis.pid redis.log port
#   <repo>/.infra/kafka/            kafka.pid cluster-id server.properties port data/ logs/
#   <repo>/.infra/ferretdb/         ferretdb.pid ferretdb.log port data/ state/
#   ${CAUSEWAY_CACHE_DIR:-~/.cache/causeway}/kafka-3.9.1/libs      broker jars (Maven Central)
#   ${CAUSEWAY_CACHE_DIR:-~/.cache/causeway}/ferretdb-1.24.2/bin   ferretdb binary (built from Go module)

set -euo pipefail

INFRA_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
INFRA_DIR="$REPO_ROOT/.infra"
CACHE_DIR="${CAUSEWAY_CACHE_DIR:-$HOME/.cache/causeway}"
# Absolute: Maven and the FerretDB build run in a directory of their own, where a relative
# path names another place.
[[ $CACHE_DIR == /* ]] || CACHE_DIR="$PWD/$CACHE_DIR"

REDIS_PORT="${CAUSEWAY_REDIS_PORT:-16379}"
KAFKA_PORT="${CAUSEWAY_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${CAUSEWAY_KAFKA_CONTROLLER_PORT:-19093}"
MONGODB_PORT="${CAUSEWAY_MONGODB_PORT:-37017}"

KAFKA_VERSION=3.9.1
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
FERRETDB_VERSION=v1.24.2
FERRETDB_HOME="$CACHE_DIR/ferretdb-${FERRETDB_VERSION#v}"
FERRETDB_BIN="$FERRETDB_HOME/bin/ferretdb"

READY_TIMEOUT="${CAUSEWAY_INFRA_READY_TIMEOUT:-90}"   # seconds per server
STOP_TIMEOUT="${CAUSEWAY_INFRA_STOP_TIMEOUT:-30}"     # seconds before SIGKILL

ALL_SERVERS=(redis kafka mongodb)

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

for _var in CAUSEWAY_REDIS_PORT:REDIS_PORT CAUSEWAY_KAFKA_PORT:KAFKA_PORT \
            CAUSEWAY_KAFKA_CONTROLLER_PORT:KAFKA_CONTROLLER_PORT CAUSEWAY_MONGODB_PORT:MONGODB_PORT; do
  _ref="${_var#*:}"
  _val="${!_ref}"
  # No leading zero: bash arithmetic reads it as octal (016379 failed without naming the
  # setting; 016501 passed as 7489, while the server was given 016501).
  if ! [[ ${_val} =~ ^[1-9][0-9]{0,4}$ ]] || ((_val > 65535)); then
    die "${_var%%:*}='${_val}' is not a valid TCP port"
  fi
done
# Passed to the readiness probe and counted in bash: "90s" failed the probe on its usage (the
# server was started, then stopped as "not ready"), and broke down's wait.
for _var in CAUSEWAY_INFRA_READY_TIMEOUT:READY_TIMEOUT CAUSEWAY_INFRA_STOP_TIMEOUT:STOP_TIMEOUT; do
  _ref="${_var#*:}"
  _val="${!_ref}"
  if ! [[ ${_val} =~ ^[0-9]{1,6}$ ]] || ((10#${_val} < 1)); then
    die "${_var%%:*}='${_val}' is not a whole number of seconds (1 or more)"
  fi
  printf -v "$_ref" '%d' "$((10#${_val}))"
done
unset _var _ref _val

# parse_servers ARGS… → global SERVERS (deduplicated, canonical names). No args = all.
parse_servers() {
  SERVERS=()
  local a name s dup
  [[ $# -eq 0 ]] && set -- "${ALL_SERVERS[@]}"
  for a in "$@"; do
    case "$a" in
      redis) name=redis ;;
      kafka) name=kafka ;;
      mongodb | mongo | ferretdb) name=mongodb ;;
      *) die "unknown server '$a' (expected: redis kafka mongodb)" ;;
    esac
    dup=0
    for s in "${SERVERS[@]}"; do [[ $s == "$name" ]] && dup=1; done
    ((dup)) || SERVERS+=("$name")
  done
}

srv_dir() {
  case "$1" in
    redis) echo "$INFRA_DIR/redis" ;;
    kafka) echo "$INFRA_DIR/kafka" ;;
    mongodb) echo "$INFRA_DIR/ferretdb" ;;
  esac
}
pid_file() { echo "$(srv_dir "$1")/$([[ $1 == mongodb ]] && echo ferretdb || echo "$1").pid"; }
# The program name (argv[0] basename) our process of that server runs as.
srv_prog() {
  case "$1" in
    redis) echo redis-server ;;
    kafka) echo java ;;
    mongodb) echo ferretdb ;;
  esac
}
# Log files worth showing when a server does not come up.
srv_logs() {
  local d
  d="$(srv_dir "$1")"
  case "$1" in
    redis) echo "$d/redis.log" ;;
    kafka) printf '%s\n' "$d/logs/server.log" "$d/logs/kafka.out" ;;
    mongodb) echo "$d/ferretdb.log" ;;
  esac
}
# Env var(s) that choose the port(s) of a server (for error messages).
srv_port_vars() {
  case "$1" in
    redis) echo "CAUSEWAY_REDIS_PORT=$REDIS_PORT" ;;
    kafka) echo "CAUSEWAY_KAFKA_PORT=$KAFKA_PORT CAUSEWAY_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" ;;
    mongodb) echo "CAUSEWAY_MONGODB_PORT=$MONGODB_PORT" ;;
  esac
}
configured_port() {
  case "$1" in
    redis) echo "$REDIS_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;;
    mongodb) echo "$MONGODB_PORT" ;;
  esac
}
# Port the running instance was started with (recorded at start), else the configured one.
running_port() {
  local f
  f="$(srv_dir "$1")/port"
  if [[ -s $f ]]; then cut -d' ' -f1 <"$f"; else configured_port "$1"; fi
}
srv_url() {
  case "$1" in
    redis) echo "redis://127.0.0.1:$2" ;;
    kafka) echo "127.0.0.1:$2" ;;
    mongodb) echo "mongodb://127.0.0.1:$2/causeway" ;;
  esac
}
srv_env_name() {
  case "$1" in
    redis) echo REDIS_URL ;;
    kafka) echo KAFKA_BROKERS ;;
    mongodb) echo MONGODB_URI ;;
  esac
}

# --- processes -------------------------------------------------------------------------------

# Alive = exists and is not a zombie (PID 1 on some sandboxes does not reap orphans).
proc_alive() {
  local stat
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ -n $stat && ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# proc_is_ours PID SERVER: alive, runs the server's program, and its command line mentions
# this repo's .infra/<server>/ directory (so another clone's servers are never touched).
proc_is_ours() {
  local pid=$1 srv=$2 argv0 cmdline
  proc_alive "$pid" || return 1
  { IFS= read -r -d '' argv0 || true; } <"/proc/$pid/cmdline" 2>/dev/null || return 1
  [[ ${argv0##*/} == "$(srv_prog "$srv")" ]] || return 1
  cmdline=" $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  # The path must start an argument or follow "=" / ":" (…=file:<dir>/), so /x/work/main/.infra
  # is not mistaken for /work/main/.infra.
  [[ $cmdline == *[\ =:]"$(srv_dir "$srv")/"* ]]
}

# our_pid SERVER: prints the pid from the pid file if that process is ours and alive.
our_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -s $f ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n $pid ]] && proc_is_ours "$pid" "$1" && echo "$pid"
}

# stray_pids SERVER: every live process of ours for that server (pid file or not).
stray_pids() {
  local needle f pid
  needle="$(srv_dir "$1")/"
  for f in $(grep -slF -- "$needle" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    [[ $pid == "$$" || $pid == "${BASHPID:-}" ]] && continue
    proc_is_ours "$pid" "$1" && echo "$pid"
  done
  return 0
}

# port_in_use PORT: something listens on it (any local address).
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
# port_owner PORT: "(python3 pid 123)" when ss can tell, else nothing.
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null |
    sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/(\1 pid \2)/p' | head -n1 || true
}

# --- locking ---------------------------------------------------------------------------------

# Holds fd 9 on .infra/lock until the script exits. Every server is launched with 9>&- so the
# lock is never inherited by a long-running child.
acquire_lock() {
  mkdir -p "$INFRA_DIR"
  exec 9>"$INFRA_DIR/lock"
  if ! flock -n 9; then
    log "another infra/local up/down is running; waiting for $INFRA_DIR/lock …"
    flock -w 1800 9 || die "timed out waiting for $INFRA_DIR/lock"
  fi
}

# --- env file --------------------------------------------------------------------------------

# Rewrites .infra/env with one line per server that is running now.
write_env() {
  local tmp srv
  mkdir -p "$INFRA_DIR"
  tmp="$(mktemp "$INFRA_DIR/.env.XXXXXX")"
  {
    echo "# Written by infra/local/up|down — servers running now. Source it: set -a; . .infra/env; set +a"
    for srv in "${ALL_SERVERS[@]}"; do
      if our_pid "$srv" >/dev/null; then
        echo "$(srv_env_name "$srv")=$(srv_url "$srv" "$(running_port "$srv")")"
      fi
    done
  } >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$INFRA_DIR/env"
}

# --- stopping --------------------------------------------------------------------------------

# stop_server SERVER [quiet]: SIGTERM, then SIGKILL after STOP_TIMEOUT; returns once gone.
stop_server() {
  local srv=$1 quiet=${2:-} pids=() pid alive waited=0 p
  pid="$(our_pid "$srv" || true)"
  [[ -n $pid ]] && pids+=("$pid")
  for p in $(stray_pids "$srv"); do
    [[ $p == "$pid" ]] || { pids+=("$p"); log "$srv: found stray process $p of ours (no pid file)"; }
  done
  if [[ ${#pids[@]} -eq 0 ]]; then
    [[ -n $quiet ]] || log "$srv: not running"
    rm -f "$(pid_file "$srv")" "$(srv_dir "$srv")/port"
    return 0
  fi
  log "$srv: stopping pid ${pids[*]} (SIGTERM)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while :; do
    alive=()
    for p in "${pids[@]}"; do proc_alive "$p" && alive+=("$p"); done
    [[ ${#alive[@]} -eq 0 ]] && break
    if ((waited >= STOP_TIMEOUT * 10)); then
      log "$srv: still alive after ${STOP_TIMEOUT}s; SIGKILL ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      for _ in $(seq 1 100); do
        alive=()
        for p in "${pids[@]}"; do proc_alive "$p" && alive+=("$p"); done
        [[ ${#alive[@]} -eq 0 ]] && break
        sleep 0.1
      done
      [[ ${#alive[@]} -eq 0 ]] || { log "$srv: could not kill ${alive[*]}"; return 1; }
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$(pid_file "$srv")" "$(srv_dir "$srv")/port"
  # Exited processes are reparented to PID 1; give it a moment to reap them so ps stays clean.
  for _ in $(seq 1 30); do
    alive=()
    for p in "${pids[@]}"; do [[ -e /proc/$p ]] && alive+=("$p"); done
    [[ ${#alive[@]} -eq 0 ]] && break
    sleep 0.1
  done
  [[ -n $quiet ]] || log "$srv: stopped"
}

# --- probe -----------------------------------------------------------------------------------

# probe SERVER PORT TIMEOUT [PID] → exit 0 ready, 1 no answer, 2 node deps missing, 4 process died
probe() {
  local srv=$1 port=$2 timeout=$3 pid=${4:-} args=()
  [[ -n $pid ]] && args+=(--pid "$pid")
  node "$INFRA_SCRIPT_DIR/probe.mjs" --timeout "$timeout" "${args[@]}" "$srv" "$(srv_url "$srv" "$port")"
}

show_logs() {
  local f
  while IFS= read -r f; do
    [[ -s $f ]] || continue
    log "---- last 30 lines of $f ----"
    tail -n 30 "$f" >&2
  done < <(srv_logs "$1")
}
