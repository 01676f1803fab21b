#!/usr/bin/env bash
# shell-test-e2e.sh [BOOT/QEMU ARGS]: the shell's `test` and `bench` in the running keel image.
# init runs keeltest and keelbench as root-like children (servers/init/README.md, "Root-like
# runs"); the shell waits for each and prints its status line, then the prompt comes back.
# Checked: `test cnode` (a fast subset) and a full `test` end with "N passed, 0 failed" and the
# shell's "all passed" line; `bench syscall` prints its table and BENCH-DONE; bad arguments get the
# usage line; init's free memory (`mem`) is the same before the first run and after each
# (everything given to a run is revoked when it ends).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-shell-test.XXXXXX")
trap 'rm -f "$log" "$log.err"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

# type_long TEXT SECONDS: like type_serial, with a longer wait for the prompt (a test run).
type_long() {
  local prompts
  prompts=$(count 'keel> ')
  printf '%s\r' "$1"
  wait_for 'keel> ' "$2" $((prompts + 1))
}

feed() {
  wait_for 'keel> ' 40 || return
  sleep 0.3
  type_serial 'mem'
  type_long 'test cnode' 60
  type_serial 'mem'
  type_long 'test' 90
  type_long 'bench syscall' 60
  type_serial 'test two words'
  type_serial 'mem'
  type_serial 'echo done'
  printf '\001x' # leave QEMU (Ctrl-A x)
  sleep 5
}

feed | "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel --timeout 200 "$@" >/dev/null 2>"$log.err"
check 'init: [0-9]+ KiB set aside for root-like runs'
check "init: started keeltest \\(pid [0-9]+, program keeltest, root-like: [0-9]+ KiB untyped.*cmdline 'keeltest=cnode'\\)"
check 'keeltest: [0-9]+ tests, pool [0-9]+ KiB, [0-9]+ free slots, filter cnode, as a process of init'
check '^ok [0-9]+ cnode_copy_same_object$'
check '^ok [0-9]+ irq_handler_delivers_to_notification # skip IRQ 4 and COM1 belong to the serial driver'
check '^[1-9][0-9]{2,} passed, 0 failed$' # the full run: well over a hundred tests
check_count '^[0-9]+ passed, 0 failed$' 2
check_count '^test: keeltest \(pid [0-9]+\) exited with status 0: all passed$' 2
check 'keelbench: run by init inside the running system'
check '^BENCH-DONE$'
check '^bench: keelbench \(pid [0-9]+\) exited with status 0$'
check '^usage: test \[FILTER\]'
check '^done$'
if [ "$(count '^not ok ')" != 0 ]; then echo "FAIL: a test failed as init's child"; fail=1; fi
# init's free memory: the same before the first run and after each
mems=$(tr -d '\r' <"$log" | grep -aE '^init: [0-9]+ KiB free' | sed -E 's/^init: ([0-9]+) KiB.*/\1/')
if [ "$(wc -l <<<"$mems")" -lt 3 ] || [ "$(sort -u <<<"$mems" | wc -l)" != 1 ]; then
  echo "FAIL: init's free memory changed across test and bench runs: $(tr '\n' ' ' <<<"$mems")"; fail=1
fi
report
