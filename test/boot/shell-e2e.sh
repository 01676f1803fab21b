#!/usr/bin/env bash
# shell-e2e.sh [BOOT/QEMU ARGS]: boots the keel image, types commands into the serial console (the
# emulator's stdin) once the shell prompt is there, and checks the shell's replies in the serial
# log. The shell reaches COM1 only through the serial driver's channel (servers/serial).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-shell.XXXXXX")
trap 'rm -f "$log" "$log.err"' EXIT
: >"$log"
feed() {
  # wait for the prompt (up to 40 s), then type, one command at a time
  for _ in $(seq 400); do grep -aq 'keel> ' "$log" && break; sleep 0.1; done
  sleep 0.5
  printf 'echo hello   world\r'; sleep 2
  printf 'ps\r'; sleep 2
  printf 'bogus\r'; sleep 1
  printf 'echo tyxo\x7f\x7fpo\r'; sleep 2
}
feed | "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel --timeout 30 "$@" >/dev/null 2>"$log.err"
fail=0
clean=$(tr -d '\r' <"$log")
check() { grep -aEq -- "$1" <<<"$clean" || { echo "FAIL: serial output lacks /$1/"; fail=1; }; }
check '^keel> echo hello   world$'
check '^hello world$'
check '^serial +[0-9]+ running '
check '^shell +[0-9]+ running '
check '^hello +1 exited '
check '^bogus: unknown command; usage: '
check '^typo$'
check 'init: channel 0: shell \(pid [0-9]+\) -> serial \(pid [0-9]+\)'
if [ "$fail" = 1 ]; then
  echo "---- serial output ----"; printf '%s\n' "$clean"
  echo "---- boot/qemu stderr ----"; cat "$log.err"
fi
exit $fail
