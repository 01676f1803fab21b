# Helpers for the end-to-end shell tests (sourced by shell-e2e.sh and kbd-e2e.sh). The test boots
# the keel image with boot/qemu, whose serial console is the emulator's stdin/stdout: `feed`
# functions write to QEMU's stdin and read the serial log ($log) to wait for answers, so each step
# waits exactly as long as the guest needs (up to a limit) instead of a fixed sleep.

# wait_for REGEX [SECONDS] [COUNT]: until the log (CRs removed) has COUNT (default 1) lines matching.
wait_for() {
  local re=$1 limit=${2:-20} want=${3:-1}
  for _ in $(seq $((limit * 10))); do
    [ "$(tr -d '\r' <"$log" | grep -acE -- "$re")" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "e2e: timed out waiting for /$re/ ($want)" >&2
  return 1
}

# count REGEX: matching lines in the log so far.
count() { tr -d '\r' <"$log" | grep -acE -- "$1"; }

# last_match REGEX SED: the last matching line, rewritten by a sed expression (to pick a field).
last_match() { tr -d '\r' <"$log" | grep -aE -- "$1" | tail -n 1 | sed -E "$2"; }

# pid_of NAME: the pid init gave NAME at its last start ("init: started NAME (pid N, ..."). Tests
# ask instead of assuming manifest order, so a line added to the manifest keeps them green.
pid_of() { last_match "^init: started $1 \\(pid [0-9]+" 's/.*\(pid ([0-9]+).*/\1/'; }

# type_serial TEXT: type TEXT on the serial console, then Enter; waits for the next prompt.
type_serial() {
  local prompts
  prompts=$(count 'keel> ')
  printf '%s\r' "$1"
  wait_for 'keel> ' 20 $((prompts + 1))
}

# monitor CMD...: send QEMU monitor commands on the socket $mon (one per argument).
monitor() {
  python3 - "$mon" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(50):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
for cmd in sys.argv[2:]:
    s.sendall((cmd + "\n").encode())
    time.sleep(0.03)
time.sleep(0.2)
s.close()
PY
}

# type_keyboard TEXT: press the keys for TEXT on the emulated PS/2 keyboard (sendkey), then Enter.
# Letters, digits, space, '-' and upper case (with Shift); "<up>" anywhere in TEXT presses Up.
type_keyboard() {
  local text=$1 keys=() c i
  while [ -n "$text" ]; do
    if [ "${text:0:4}" = "<up>" ]; then keys+=("sendkey up"); text=${text:4}; continue; fi
    c=${text:0:1}; text=${text:1}
    case "$c" in
      [a-z0-9]) keys+=("sendkey $c") ;;
      [A-Z]) keys+=("sendkey shift-$(tr 'A-Z' 'a-z' <<<"$c")") ;;
      ' ') keys+=("sendkey spc") ;;
      -) keys+=("sendkey minus") ;;
      *) echo "type_keyboard: no key for '$c'" >&2; return 1 ;;
    esac
  done
  keys+=("sendkey ret")
  local prompts
  prompts=$(count 'keel> ')
  monitor "${keys[@]}"
  wait_for 'keel> ' 20 $((prompts + 1))
}

fail=0
# (grep -q on a pipe would stop reading early and, under pipefail, fail the pipe with SIGPIPE.)
check() { grep -aEq -- "$1" < <(tr -d '\r' <"$log") || { echo "FAIL: serial output lacks /$1/"; fail=1; }; }
reject() { ! grep -aEq -- "$1" < <(tr -d '\r' <"$log") || { echo "FAIL: serial output has /$1/"; fail=1; }; }
check_count() { # check_count REGEX MIN
  local n
  n=$(count "$1")
  [ "$n" -ge "$2" ] || { echo "FAIL: /$1/ appears $n time(s), expected at least $2"; fail=1; }
}
report() {
  [ -n "${E2E_KEEP_LOG:-}" ] && tr -d '\r' <"$log" >"$E2E_KEEP_LOG" # for a wrapper's own checks
  if [ "$fail" = 1 ] || [ -n "${E2E_SHOW:-}" ]; then
    echo "---- serial output ----"; tr -d '\r' <"$log"
    echo "---- boot/qemu stderr ----"; cat "$log.err"
  fi
  exit $fail
}
