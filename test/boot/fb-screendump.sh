#!/usr/bin/env bash
# fb-screendump.sh [--build-dir DIR]
# Boots the default image under UEFI (OVMF hands GRUB a graphics framebuffer, GRUB hands it to the
# kernel), waits until the shell is up, takes a screendump through a QEMU monitor socket and
# checks the hand-over of the screen: the kernel drew its log with its framebuffer console, then
# gave the screen to the root task, and the console server (servers/console) cleared it and drew
# its title and the shell's greeting. The screen is the size the kernel logged, holds only the
# console server's colours (light grey 0xc0c0c0 text on black, white on blue 0x0000aa in the
# title: no firmware, GRUB or kernel-log leftovers in other colours), the first text row is the
# title, and there is text below it. Perl (essential on Debian) talks to the monitor and reads the
# PPM.
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
up() { grep -aq "keel> " "$log" 2>/dev/null && grep -aq "console: client pid [0-9]* connected" "$log"; }
for _ in $(seq 1 280); do
  up && break
  kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU ended before the shell was up"
  sleep 0.5
done
up || fail "the shell was not up on the console within 140 s"
grep -aq "console: the screen (framebuffer .*) now belongs to the root task" "$log" ||
  fail "the kernel did not log handing the screen to the root task"
geometry=$(grep -aoE "console: framebuffer [0-9]+x[0-9]+x32" "$log" | head -n 1 | grep -oE "[0-9]+x[0-9]+x32")
[ -n "$geometry" ] || fail "the kernel did not log a 32-bpp framebuffer console"
width=${geometry%%x*} rest=${geometry#*x} height=${rest%%x*}

sleep 1 # let the last lines reach the screen (the shell's greeting follows its connection)
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
  my ($text, $other, $title, $title_text, $title_other) = (0, 0, 0, 0, 0);
  for my $i (0 .. $w * $h - 1) {
    my $p = substr($px, $i * 3, 3);
    if ($i < $w * 16) { # the title row: white on blue
      if ($p eq "\0\0\xaa") { $title++ } elsif ($p eq "\xff\xff\xff") { $title_text++ } else { $title_other++ }
      next;
    }
    next if $p eq "\0\0\0";
    if ($p eq "\xc0\xc0\xc0") { $text++ } else { $other++ }
  }
  if ($title_other) { print "$title_other pixels of the first row are not the title colours"; }
  elsif ($title_text < 300) { print "only $title_text title text pixels"; }
  elsif ($other) { print "$other pixels are neither console background nor text"; }
  elsif ($text < 1000) { print "only $text text pixels below the title"; }
  else { print "ok: title ($title_text pixels) and $text text pixels"; }' "$shot" "$width" "$height")
case "$verdict" in
  ok:*) echo "framebuffer ${width}x${height}: $verdict"; rm -rf "$work" ;;
  *) fail "$verdict" ;;
esac
