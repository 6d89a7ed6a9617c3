/**
 * @module
 * The node-side supervisor: a POSIX sh script (busybox ash, dash, bash) that
 * mesh sends over SSH with every call and runs there. It keeps no daemon of
 * its own: qemu runs detached (-daemonize) with its pid file, QMP socket,
 * console and log in `$MESH_WORKLOAD_ROOT/<uuid>/` (root default
 * /run/mesh/workloads; tests give each node its own). Every verb prints one
 * JSON line.
 *
 *   start <uuid> <spec line>...   spec lines: "mem <kB>", "cpus <n>",
 *                                 "volume <path> <url or ->", "tap <ifname> <bridge>",
 *                                 "arg <qemu argv element>" (the first is the binary)
 *   stop <uuid> [timeout s]       QMP system_powerdown (with socat or nc -U), then
 *                                 SIGTERM (qemu quits cleanly), SIGKILL after 5 s
 *   status <uuid>                 {"state":"running|stopped|failed","pid",...}
 *
 * Exit codes: 0 done (status: always), 1 failed, 2 usage, 3 not enough
 * memory or CPUs on this node.
 */

/** The script's text. */
export const SUPERVISOR_SH = String.raw`#!/bin/sh
# mesh workload supervisor (sent by mesh with every call; edit mesh, not this copy)
set -f # no globbing: spec words are paths and URLs
root="${"$"}{MESH_WORKLOAD_ROOT:-/run/mesh/workloads}"
verb="$1"
uuid="$2"
case "$uuid" in
  ""|*/*|.*) echo '{"state":"failed","error":"usage: start|stop|status <uuid> ..."}'; exit 2 ;;
esac
dir="$root/$uuid"
pidfile="$dir/qemu.pid"

# A JSON string of $1: backslashes and quotes escaped, control characters dropped.
js() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# True while process $1 runs (a zombie has stopped; init may reap it late).
alive() {
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The pid of this workload's qemu when it runs (its command line names our run dir).
live_pid() {
  [ -f "$pidfile" ] || return 1
  p=$(cat "$pidfile" 2>/dev/null)
  case "$p" in ""|*[!0-9]*) return 1 ;; esac
  alive "$p" || return 1
  tr '\000' ' ' <"/proc/$p/cmdline" | grep -F -q -- "$dir/" || return 1
  echo "$p"
}

last_error() {
  [ -s "$dir/error" ] && { cat "$dir/error"; return; }
  [ -s "$dir/qemu.log" ] && { tail -n 1 "$dir/qemu.log"; return; }
  echo "qemu exited"
}

status() {
  if p=$(live_pid); then
    rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$p/status" 2>/dev/null)
    now=$(date +%s)
    since=$(stat -c %Y "$pidfile" 2>/dev/null || echo "$now")
    printf '{"uuid":%s,"state":"running","pid":%s,"memory_kb":%s,"uptime_s":%s%s}\n' \
      "$(js "$uuid")" "$p" "${"$"}{rss:-null}" "$((now - since))" "$1"
    return 0
  fi
  st=$(cat "$dir/state" 2>/dev/null)
  case "$st" in
    running|failed)
      echo failed >"$dir/state"
      printf '{"uuid":%s,"state":"failed","pid":null,"error":%s%s}\n' \
        "$(js "$uuid")" "$(js "$(last_error)")" "$1" ;;
    *) printf '{"uuid":%s,"state":"stopped","pid":null%s}\n' "$(js "$uuid")" "$1" ;;
  esac
}

fail() {
  printf '%s\n' "$1" >"$dir/error"
  echo failed >"$dir/state"
  printf '{"uuid":%s,"state":"failed","pid":null,"error":%s}\n' "$(js "$uuid")" "$(js "$1")"
  exit "${"$"}{2:-1}"
}

fetch() { # url path
  tmp="$2.part.$$"
  if command -v wget >/dev/null 2>&1; then
    wget -q -O "$tmp" "$1" 2>"$dir/fetch.log"
  elif command -v curl >/dev/null 2>&1; then
    curl -fsS -o "$tmp" "$1" 2>"$dir/fetch.log"
  else
    echo "neither wget nor curl" >"$dir/fetch.log"; false
  fi || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$2"
}

taps_down() {
  [ -f "$dir/taps" ] || return 0
  while read -r t; do
    [ -n "$t" ] && ip link del "$t" 2>/dev/null
  done <"$dir/taps"
  rm -f "$dir/taps"
}

start() {
  mkdir -p "$dir" || { echo '{"state":"failed","error":"cannot create the run directory"}'; exit 1; }
  if p=$(live_pid); then status ',"already":true'; exit 0; fi
  rm -f "$dir/error" "$dir/qmp.sock" "$pidfile"
  printf '%s\n' "$@" >"$dir/spec"
  mem=0; cpus=1; warn=""
  while IFS= read -r line; do
    case "$line" in
      "mem "*) mem=${"$"}{line#mem } ;;
      "cpus "*) cpus=${"$"}{line#cpus } ;;
    esac
  done <"$dir/spec"
  avail=$(sed -n 's/^MemAvailable:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)
  n=$(nproc 2>/dev/null || echo 1)
  [ "${"$"}{avail:-0}" -ge "$mem" ] ||
    fail "needs $mem kB of memory; this node has ${"$"}{avail:-0} kB available" 3
  [ "$n" -ge "$cpus" ] || fail "needs $cpus CPUs; this node has $n" 3
  while IFS= read -r line; do
    case "$line" in
      "volume "*)
        set -- ${"$"}{line#volume }
        [ -e "$1" ] && continue
        [ "$2" = "-" ] && fail "volume $1 is missing and has no source"
        mkdir -p "${"$"}{1%/*}" 2>/dev/null
        fetch "$2" "$1" || fail "cannot fetch $2 to $1: $(tail -n 1 "$dir/fetch.log")" ;;
    esac
  done <"$dir/spec"
  taps_down
  while IFS= read -r line; do
    case "$line" in
      "tap "*)
        set -- ${"$"}{line#tap }
        ip link show "$1" >/dev/null 2>&1 || ip tuntap add dev "$1" mode tap ||
          fail "cannot create tap $1"
        echo "$1" >>"$dir/taps"
        ip link set "$1" up
        if [ -d "/sys/class/net/$2" ]; then
          ip link set "$1" master "$2" || fail "cannot attach $1 to $2"
        else
          warn="$warn bridge $2 does not exist, $1 is not attached;"
        fi ;;
    esac
  done <"$dir/spec"
  set --
  while IFS= read -r line; do
    case "$line" in "arg "*) set -- "$@" "${"$"}{line#arg }" ;; esac
  done <"$dir/spec"
  command -v "$1" >/dev/null 2>&1 || { taps_down; fail "$1 is not installed on this node"; }
  echo running >"$dir/state"
  if ! "$@" </dev/null >"$dir/qemu.log" 2>&1; then
    taps_down
    fail "$1 failed: $(tail -n 1 "$dir/qemu.log")"
  fi
  if [ -n "$warn" ]; then status ",\"warning\":$(js "${"$"}{warn# }")"; else status; fi
}

qmp() { # send QMP commands, when a tool here can talk to a unix socket
  msg='{"execute":"qmp_capabilities"}
{"execute":"'"$1"'"}'
  [ -S "$dir/qmp.sock" ] || return 1
  if command -v socat >/dev/null 2>&1; then
    printf '%s\n' "$msg" | socat -t 1 - "UNIX-CONNECT:$dir/qmp.sock" >/dev/null 2>&1
  elif nc -h 2>&1 | grep -q -- '-U'; then
    printf '%s\n' "$msg" | nc -w 1 -U "$dir/qmp.sock" >/dev/null 2>&1
  else
    return 1
  fi
}

gone_within() { # pid seconds
  i=0
  while alive "$1" && [ "$i" -lt "$(($2 * 10))" ]; do
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  ! alive "$1"
}

stop() {
  timeout="${"$"}{3:-30}"
  how="none"
  if p=$(live_pid); then
    if qmp system_powerdown && gone_within "$p" "$timeout"; then
      how="powerdown"
    else
      kill -TERM "$p" 2>/dev/null
      if gone_within "$p" 5; then how="term"; else kill -KILL "$p" 2>/dev/null; how="kill"; gone_within "$p" 2; fi
    fi
  fi
  [ -d "$dir" ] || { status ',"how":"none"'; exit 0; }
  taps_down
  echo stopped >"$dir/state"
  rm -f "$pidfile" "$dir/qmp.sock"
  status ",\"how\":\"$how\""
}

case "$verb" in
  start) shift 2; start "$@" ;;
  stop) stop "$@" ;;
  status) [ -d "$dir" ] || { status; exit 0; }; status ;;
  *) echo '{"state":"failed","error":"usage: start|stop|status <uuid> ..."}'; exit 2 ;;
esac
`;
