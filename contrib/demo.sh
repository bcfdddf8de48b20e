#!/bin/sh
# make demo: build a livepatch for Debian's kernel from contrib/examples/cmdline.patch and
# show it working in a qemu guest: /proc/cmdline before, live patched, and after disabling.
#   1. fetch the reference kernel (image, headers, source) once: tests/e2e/fetch-kernel.sh
#   2. build build/elivepatch
#   3. catalogue the kernel from its source tarball and image: the tool derives the rest,
#      the symbol table by booting the image once (cached)
#   4. elivepatch build --patch contrib/examples/cmdline.patch
#   5. boot the kernel with the module in an initramfs and watch /proc/cmdline
# The prepared kernel tree is cached in $ELIVEPATCH_CACHE (default
# /var/cache/elivepatch-test/cache), so a second run takes seconds.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib.sh"
E2E_LIB_DIR=$top/tests/e2e
. "$top/tests/e2e/lib.sh"
ELIVEPATCH_CACHE=${ELIVEPATCH_CACHE:-/var/cache/elivepatch-test/cache}
export ELIVEPATCH_CACHE

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

step "fetching the reference kernel (Debian's linux-image, -headers, -source)"
e2e_kernel || die "cannot fetch the reference kernel (apt-get update?)"
echo "kernel $E2E_RELEASE in $E2E_DIR"

step "building build/elivepatch"
make -C "$top" --no-print-directory all > /dev/null || die "make failed"
elp_bin=$top/build/elivepatch

e2e_tmpdir || die "temp dir"
t=$E2E_TMP
elp() { "$elp_bin" --db "$t/catalogue.db" "$@"; }

step "elivepatch kernel add --source $(basename "$E2E_SOURCE_TARBALL") --image $(basename "$E2E_VMLINUZ")"
echo "(release, config, headers and modules from the unpacked package; the symbol table"
echo " from a boot of the image in qemu, kept in $ELIVEPATCH_CACHE/symbols)"
elp kernel add --source "$E2E_SOURCE_TARBALL" --image "$E2E_VMLINUZ" || die "kernel add failed"

step "the fix"
cat "$top/contrib/examples/cmdline.patch"

step "elivepatch build --kernel $E2E_RELEASE --patch contrib/examples/cmdline.patch"
s=$(date +%s)
ko=$(elp build --kernel "$E2E_RELEASE" --patch "$top/contrib/examples/cmdline.patch" \
	-o "$t/elp_cmdline.ko") || die "build failed"
echo "$ko  ($(($(date +%s) - s)) s)"
modinfo "$ko" | grep -E '^(name|vermagic|livepatch|elivepatch_patch):'

step "booting $E2E_RELEASE in qemu with the module"
cat > "$t/init.sh" <<'GUEST'
echo "DEMO before:   $(cat /proc/cmdline)"
insmod /root/elp_cmdline.ko && e2e_lp_wait elp_cmdline 30
echo "DEMO patched:  $(cat /proc/cmdline)"
echo 0 > /sys/kernel/livepatch/elp_cmdline/enabled && e2e_lp_wait elp_cmdline 30
echo "DEMO disabled: $(cat /proc/cmdline)"
GUEST
e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$ko" || die "initramfs"
e2e_boot "$t/initrd.gz" "$t/boot.log" 120 || die "boot failed (log: $t/boot.log)"
echo
tr -d '\r' < "$t/boot.log" | grep -E '^DEMO |livepatch: ' | sed 's/^DEMO //'
