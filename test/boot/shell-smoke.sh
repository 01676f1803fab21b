#!/usr/bin/env bash
# shell-smoke.sh [BOOT/QEMU ARGS]: the default image boots to the shell and answers it: echo, ps
# (init and the shell running; the same columns and rows as init's table in its log) and reboot
# (QEMU, run with -no-reboot, then exits with status 0).
# Short, so that every build preset runs it (label "images"; test/run runs those in build-release
# too); shell-e2e.sh is the thorough one.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-smoke.XXXXXX")
trap 'rm -f "$log" "$log.err" "$log.done"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

feed() {
  wait_for 'keel> ' 40 || return
  sleep 0.3
  type_serial 'echo smoke   test'
  type_serial 'ps'
  printf 'reboot\r'
  # Keep QEMU's input open until it has gone (the timeout catches it if it never does).
  for _ in $(seq 100); do [ -e "$log.done" ] && break; sleep 0.1; done
}

feed | { "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel --timeout 60 "$@" \
           >/dev/null 2>"$log.err"; echo $? >"$log.done"; }
status=$(cat "$log.done")
check '^Keel .+ booting'
check '^smoke test$'
check '^init +0 running'
check '^shell +[0-9]+ running'
reject 'unknown syscall|unhandled'
# ps and init's table: one column set. The shell's header and serial row are those of init's
# last table (indented there).
shell_rows=$(tr -d '\r' <"$log" | grep -aE '^(NAME|serial) ' | tail -n 2)
init_rows=$(tr -d '\r' <"$log" | grep -aE '^  (NAME|serial) ' | tail -n 2 | sed 's/^  //')
check '^NAME +PID +STATE +RESTARTS +POLICY +MEMORY +PROGRAM +LAST EVENT$'
if [ -z "$shell_rows" ] || [ "$shell_rows" != "$init_rows" ]; then
  echo "FAIL: the shell's ps and init's table differ:"; echo "$shell_rows"; echo "$init_rows"; fail=1
fi
[ "$status" = 0 ] || { echo "FAIL: boot/qemu ended with status $status, not 0 (reboot under -no-reboot)"; fail=1; }
report
