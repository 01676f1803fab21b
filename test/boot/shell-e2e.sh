#!/usr/bin/env bash
# shell-e2e.sh [BOOT/QEMU ARGS]: boots the keel image, types commands into the serial console (the
# emulator's stdin) and checks the shell's replies in the serial log. The shell reaches COM1 only
# through the serial driver's channel (servers/serial), and init's calls for the rest.
# Checked: echo, ps (init, serial, ps2kbd, shell as separate processes), caps, run, kill and
# restart with bad and good pids, history (ESC [ A re-runs the last line), the serial driver
# restarted 7 times with the shell reconnecting each time and init's free memory the same after
# the 2nd and the 7th restart (channel memory is reused), and reboot (QEMU, run with -no-reboot,
# then exits by itself: status 0 instead of the timeout's 124).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/keel-shell.XXXXXX")
trap 'rm -f "$log" "$log.err"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

feed() {
  wait_for 'keel> ' 40 || return
  sleep 0.3
  type_serial 'echo hello   world'
  type_serial 'ps'
  type_serial 'bogus'
  printf 'echo tyxo\x7f\x7fpo\r'; wait_for '^typo$' 10
  local serial shell
  serial=$(pid_of serial) shell=$(pid_of shell)
  type_serial "caps $serial"
  type_serial 'caps 4x'
  type_serial 'run hello'
  type_serial 'run nosuchprogram'
  type_serial 'kill 999'
  type_serial 'kill'
  type_serial 'kill 0'
  type_serial "kill $shell"
  type_serial 'echo hist1'
  printf '\x1b[A\r'; wait_for '^hist1$' 10 2
  local i
  for i in 1 2 3 4 5 6 7; do
    type_serial "restart $serial"
    serial=$(last_match '^restart: pid [0-9]+ stopped and started again as pid [0-9]+' 's/.* as pid ([0-9]+).*/\1/')
    type_serial "echo after restart $i"
    [ "$i" = 2 ] && type_serial 'mem'
  done
  type_serial 'mem'
  printf 'reboot\r'
  sleep 10 # QEMU should be gone by now; the timeout catches it if not
}

feed | "$here/boot/qemu" --no-build --headless --serial-log "$log" --image keel --timeout 80 "$@" >/dev/null 2>"$log.err"
status=$?
check '^(keel> )?echo hello   world$' # (another process's log line may come before it)
check '^hello world$'
for p in init serial ps2kbd console shell; do check "^$p +[0-9]+ running "; done
check '^hello +[0-9]+ exited '
check '^bogus: unknown command; usage: '
check '^typo$'
check 'init: channel [0-9]+: shell \(pid [0-9]+\) -> serial \(pid [0-9]+\)'
check 'init: channel [0-9]+: shell \(pid [0-9]+\) -> ps2kbd \(pid [0-9]+\)'
# caps of the serial driver: its own objects, the port range, IRQ handler and service notification
check '^ +1  tcb +rwgG'
check '^ +16  ioport +rwgG +0x3ff +ioport0$'
check '^ +[0-9]+  \(not copyable\) .* irq4$'
check '^ +[0-9]+  notification .* service$'
check '^usage: caps PID'
check '^run: hello started as pid [0-9]+$'
check_count "^hello: hello, world from 'hello'" 2
check '^run: nosuchprogram: no such program$'
check '^kill: pid 999: no such pid$'
check '^usage: kill PID'
check '^kill: refused: pid 0 is init$'
check "^kill: refused: pid $(pid_of shell) is this shell$"
check_count '^hist1$' 2
check_count '^after restart [0-9]$' 7
check "init: serial \\(pid [0-9]+\\) killed by shell \\(pid $(pid_of shell)\\); starting it again"
# init's free memory after the 2nd and the 7th restart of the serial driver: the same
mems=$(tr -d '\r' <"$log" | grep -aE '^init: [0-9]+ KiB free' | sed -E 's/^init: ([0-9]+) KiB.*/\1/')
if [ "$(wc -l <<<"$mems")" -lt 2 ] || [ "$(head -n 1 <<<"$mems")" != "$(tail -n 1 <<<"$mems")" ]; then
  echo "FAIL: init's free memory changed across serial restarts: $(tr '\n' ' ' <<<"$mems")"; fail=1
fi
check 'init: reboot asked by shell'
[ "$status" = 0 ] || { echo "FAIL: boot/qemu ended with status $status, not 0 (reboot under -no-reboot)"; fail=1; }
report
