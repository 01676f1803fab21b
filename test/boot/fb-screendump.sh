#!/usr/bin/env bash
# fb-screendump.sh [--build-dir DIR]
# Boots the default image under UEFI (OVMF hands GRUB a graphics framebuffer, GRUB hands it to the
# kernel), waits until init is up, takes a screendump through a QEMU monitor socket and checks
# what the kernel's framebuffer console drew: the screen is the size the kernel logged, holds only
# the console's two colours (light grey 0xc0c0c0 text on black: no firmware or GRUB leftovers),
# enough text, and text from the very first row on. Perl (essential on Debian) talks to the
# monitor and reads the PPM.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir="$here/build"
[ "${1:-}" = --build-dir ] && build_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-fb.XXXXXX")
log="$work/serial.log" sock="$work/mon.sock" shot="$work/screen.ppm"

monitor() { # send one monitor command
  perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or exit 1;
    select(undef, undef, undef, 0.3);
    print $s "$ARGV[1]\n";
    select(undef, undef, undef, 0.5);' "$sock" "$1"
}
fail() {
  echo "FAIL: $*"
  echo "---- serial output ----"; tr -d '\r' < "$log"
  echo "---- boot/qemu stderr ----"; cat "$work/err"
  monitor quit 2>/dev/null; wait; rm -rf "$work"; exit 1
}

"$here/boot/qemu" --no-build --build-dir "$build_dir" --headless --image keel --uefi --timeout 150 \
  --serial-log "$log" -- -monitor "unix:$sock,server,nowait" </dev/null >/dev/null 2>"$work/err" &
qemu_pid=$!
for _ in $(seq 1 280); do
  grep -aq "init: start-up done" "$log" 2>/dev/null && break
  kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU ended before init was up"
  sleep 0.5
done
grep -aq "init: start-up done" "$log" || fail "init not up within 140 s"
geometry=$(grep -aoE "console: framebuffer [0-9]+x[0-9]+x32" "$log" | head -n 1 | grep -oE "[0-9]+x[0-9]+x32")
[ -n "$geometry" ] || fail "the kernel did not log a 32-bpp framebuffer console"
width=${geometry%%x*} rest=${geometry#*x} height=${rest%%x*}

sleep 1 # let the last lines reach the screen
monitor "screendump $shot" || fail "cannot reach the QEMU monitor"
want=$((width * height * 3))
for _ in $(seq 1 40); do # screendump writes the file asynchronously
  [ -f "$shot" ] && [ "$(stat -c %s "$shot")" -ge "$want" ] && break
  sleep 0.25
done
monitor quit
wait "$qemu_pid"

verdict=$(perl -e '
  my ($file, $w, $h) = @ARGV;
  open(my $f, "<:raw", $file) or do { print "no screendump"; exit };
  local $/; my $d = <$f>;
  $d =~ /^P6\s+(\d+)\s+(\d+)\s+255\s/ or do { print "not a P6 PPM"; exit };
  my $px = substr($d, $+[0]);
  print "screen is ${1}x$2, the kernel logged ${w}x$h" and exit if $1 != $w || $2 != $h;
  my ($text, $other, $top) = (0, 0, 0);
  for my $i (0 .. $w * $h - 1) {
    my $p = substr($px, $i * 3, 3);
    next if $p eq "\0\0\0";
    if ($p eq "\xc0\xc0\xc0") { $text++; $top++ if $i < $w * 16 } else { $other++ }
  }
  if ($other) { print "$other pixels are neither console background nor text"; }
  elsif ($text < 20000) { print "only $text text pixels"; }
  elsif (!$top) { print "nothing drawn in the first text row"; }
  else { print "ok: $text text pixels"; }' "$shot" "$width" "$height")
case "$verdict" in
  ok:*) echo "framebuffer ${width}x${height}: $verdict"; rm -rf "$work" ;;
  *) fail "$verdict" ;;
esac
