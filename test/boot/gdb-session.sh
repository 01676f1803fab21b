#!/usr/bin/env bash
# gdb-session.sh [--build-dir DIR]: the gdb session of docs/debugging.md, run by gdb in batch mode
# against boot/qemu --gdb with boot/keel-gdb.py. The commands are the document's ```gdb block (so
# the document cannot drift); checked: the breakpoint set with keel-break stops in the serial
# driver and not in another process running the same address, its backtrace names
# keel_service_wait and the driver's main, stepi steps, a kernel breakpoint is hit, keel-ps names
# the processes with their pids, and keel-bt walks the serial driver's stack while it sleeps.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=$here/build
[ "${1:-}" = --build-dir ] && build_dir=$2
command -v gdb >/dev/null || { echo "gdb-session: gdb is not installed (cmake/setup-host.sh installs it)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keel-gdb.XXXXXX")
qemu_pid=""
cleanup() {
  [ -n "$qemu_pid" ] && kill -TERM -- "-$qemu_pid" 2>/dev/null
  [ -n "${KEEP_GDB_OUT:-}" ] && cp "$tmp/gdb.out" "$KEEP_GDB_OUT"
  rm -rf "$tmp"
}
trap cleanup EXIT

# A free port: other boots (and other users' gdb sessions) may hold 1234.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$here/boot/qemu" --build-dir "$build_dir" --no-build --headless --image keel --gdb --gdb-port "$port" \
  --timeout 100 </dev/null >"$tmp/serial" 2>"$tmp/qemu.err" &
qemu_pid=$!

{
  echo "set pagination off"
  echo "set confirm off"
  echo "target remote :$port"
  awk '/<!-- session: test\/boot\/gdb-session.sh -->/ { want = 1; next }
       want && /^```gdb/ { inside = 1; next }
       inside && /^```/ { exit }
       inside { print }' "$here/docs/debugging.md"
  echo "kill"
} >"$tmp/session.gdb"
grep -q keel-break "$tmp/session.gdb" || { echo "FAIL: no session block in docs/debugging.md"; exit 1; }
for _ in $(seq 50); do # until QEMU listens
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
  sleep 0.1
done
timeout 90 gdb -q --batch -nx -x "$here/boot/keel-gdb.py" -x "$tmp/session.gdb" "$build_dir/kernel.elf" \
  >"$tmp/gdb.out" 2>&1
status=$?

fail=0
check() { grep -aEq -- "$1" "$tmp/gdb.out" || { echo "FAIL: gdb output lacks /$1/"; fail=1; }; }
[ "$status" = 0 ] || { echo "FAIL: gdb exited with status $status"; fail=1; }
check '^keel: shell is running$'
check '^keel: stops only in serial \(pid [0-9]+, VSpace root 0x[0-9a-f]+\)$'
check '^Breakpoint 1, keel_service_wait '
check '^#1 +0x[0-9a-f]+ in main \(\) at .*servers/serial/main\.c:[0-9]+$'
check '^\* serial +[0-9]+ 0x'            # keel-ps while stopped there: the CPU is in serial's VSpace
check '^Breakpoint 2, log_invoke '
check '^#0 +log_invoke '
for p in init serial ps2kbd console shell; do check "^[* ] $p +[0-9]+ 0x[0-9a-f]+ +[0-9]+ "; done
check '^serial \(pid [0-9]+\), VSpace root 0x'
check '^#0 +0x[0-9a-f]+ in keel_service_wait \+ [0-9]+$'
check '^#1 +0x[0-9a-f]+ in main \+ [0-9]+$'
if grep -aq "Python Exception\|Error occurred" "$tmp/gdb.out"; then echo "FAIL: a command failed"; fail=1; fi
if [ "$fail" = 1 ]; then
  echo "---- gdb session ----"; cat "$tmp/session.gdb"
  echo "---- gdb output ----"; cat "$tmp/gdb.out"
  echo "---- boot/qemu stderr ----"; cat "$tmp/qemu.err"
fi
exit $fail
