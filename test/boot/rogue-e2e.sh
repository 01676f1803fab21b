#!/usr/bin/env bash
# rogue-e2e.sh [BOOT/QEMU ARGS]: boots the keel image with boot/manifest-rogue.txt, where apps/rogue
# floods the serial driver's submission ring and never collects a completion. The driver must drop
# that client (EPROTO: it submitted more than it can collect) rather than wait for room in its
# completion ring, and the shell on the same driver must go on answering. Before that the rogue
# asks for the keyboard service, which its manifest line's uses= does not name: init refuses.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-rogue.XXXXXX")
trap 'rm -f "$log" "$log.err"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

feed() {
  wait_for 'keel> ' 40 || return
  wait_for 'rogue: flooded serial with [0-9]+ requests' 20 || return
  wait_for 'serial: client pid [0-9]+ gone \(EPROTO' 10
  type_serial 'echo still answering'
  type_serial 'ps'
  printf 'reboot\r' # ends the emulator (boot/qemu runs it with -no-reboot)
}
feed | "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel \
  --cmdline "init.manifest=manifest-rogue.txt" --timeout 60 "$@" >/dev/null 2>"$log.err"
check 'init: rogue \(pid [0-9]+\) may not open .keyboard. \(not in its uses=\)'
check 'rogue: open keyboard refused \(denied\)'
reject 'rogue: opened keyboard'
check 'rogue: flooded serial with [0-9]+ requests, collecting none'
check 'serial: client pid [0-9]+ gone \(EPROTO'
check '^still answering$'
check '^serial +[0-9]+ running '
report
