#!/usr/bin/env bash
# kbd-e2e.sh [BOOT/QEMU ARGS]: the PS/2 keyboard end to end. Boots the keel image with a second
# QEMU monitor on a Unix socket and presses keys on the emulated keyboard with `sendkey` (what a
# user typing in QEMU's window does); the shell's answers come back on the serial log. Checked:
# a command typed on the keyboard (with Shift), the Up arrow re-running it, the shell carrying on
# from the keyboard alone while the serial driver is killed for good and started again from the
# keyboard (`run serial`), and the keyboard driver killed and started again with the shell
# reconnecting to it.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-kbd.XXXXXX")
mon="$log.mon"
trap 'rm -f "$log" "$log.err" "$mon"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

feed() {
  wait_for 'keel> ' 40 || return
  wait_for 'ps2kbd: client pid [0-9]+ connected' 10 || return
  sleep 0.3
  type_keyboard 'echo Keyboard 42 works'
  type_keyboard '<up>'
  # The serial driver stopped for good: the shell's output has nowhere to go, its input still comes
  # from the keyboard, and `run serial` typed there brings the console back.
  local serial shell
  serial=$(pid_of serial) shell=$(pid_of shell)
  printf 'kill %s\r' "$serial"
  wait_for "init: serial \\(pid $serial\\) killed by shell \\(pid $shell\\); not restarted" 10
  sleep 0.5
  monitor 'sendkey r' 'sendkey u' 'sendkey n' 'sendkey spc' 'sendkey s' 'sendkey e' 'sendkey r' 'sendkey i' \
          'sendkey a' 'sendkey l' 'sendkey ret'
  wait_for '^run: serial started as pid [0-9]+' 20
  type_serial 'echo serial is back'
  # The keyboard driver stopped and started again: the shell reopens its channel.
  type_serial "kill $(pid_of ps2kbd)"
  type_serial 'run ps2kbd'
  wait_for "init: channel [0-9]+: shell \\(pid $shell\\) -> ps2kbd" 10 2
  sleep 0.3
  type_keyboard 'echo again'
  type_serial 'ps'
  monitor quit
  sleep 5
}

feed | "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel --timeout 80 "$@" \
  -- -monitor "unix:$mon,server,nowait" >/dev/null 2>"$log.err"
check 'ps2kbd: PS/2 keyboard driver ready'
check '^(keel> )?echo Keyboard 42 works$'
check_count '^Keyboard 42 works$' 2
check '^kill: pid [0-9]+ stopped for good|init: serial \(pid [0-9]+\) killed by shell \(pid [0-9]+\); not restarted'
check '^run: serial started as pid [0-9]+$'
check '^serial is back$'
check '^kill: pid [0-9]+ stopped for good'
check '^run: ps2kbd started as pid [0-9]+$'
check 'echo again$'
check '^again$'
check '^ps2kbd +[0-9]+ running '
report
