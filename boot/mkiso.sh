#!/usr/bin/env bash
# mkiso.sh OUT.iso GRUB_CFG KERNEL [MODULE...]: lay out an ISO tree and run grub-mkrescue.
# The image is hybrid: it boots from CD or disk, under BIOS and UEFI, and can be dd'ed to a stick.
set -euo pipefail
out=$1 cfg=$2 kernel=$3
shift 3
root=$(mktemp -d "${out%.iso}.root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/boot/grub" "$root/modules"
cp "$cfg" "$root/boot/grub/grub.cfg"
cp "$kernel" "$root/boot/kernel.elf"
for m in "$@"; do cp "$m" "$root/modules/"; done
log=$(mktemp)
if ! grub-mkrescue -o "$out.tmp" "$root" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log" "$out.tmp"
  echo "mkiso: grub-mkrescue failed (need grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools)" >&2
  exit 1
fi
rm -f "$log"
mv "$out.tmp" "$out"
