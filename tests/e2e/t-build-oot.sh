#!/bin/sh
# e2e: a kernel built with out-of-tree patches (`kernel patch add`): the prepared
# tree carries them, so a fix written against that tree builds, loads and works,
# while the same fix does not apply to the plain kernel.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

for name in plain local; do
	e2e_add_kernel "$name" || bail "kernel add $name"
done
elp kernel patch add local "$patches/oot-cmdline-comment.patch" > "$t/oot.log" 2>&1
check "kernel patch add records the out-of-tree patch" [ $? = 0 ]

elp build --kernel plain --patch "$patches/on-oot-cmdline.patch" -o "$t/plain.ko" \
	> "$t/plain.out" 2> "$t/plain.err"
check "the fix does not apply to the plain kernel" [ $? != 0 ]
check "...saying which file and hunk" grep -q "does not apply: fs/proc/cmdline.c" "$t/plain.err"
check "...and records no artefact" \
	[ "$(q "SELECT count(*) FROM builds WHERE artefact_path IS NOT NULL")" = 0 ]

elp build --kernel local --patch "$patches/on-oot-cmdline.patch" --name elp_on_oot \
	-o "$t/elp_on_oot.ko" > "$t/local.out" 2> "$t/local.err"
rc=$?
check "the fix builds for the kernel with its out-of-tree patch" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/local.err" | tail -n 5
check "...in a prepared tree of its own" \
	[ "$(find "$ELIVEPATCH_CACHE/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)" -ge 2 ]

cat > "$t/init.sh" <<'INIT'
e2e_result before "$(cat /proc/cmdline)"
insmod /root/elp_on_oot.ko
e2e_lp_wait elp_on_oot 30
e2e_result patched "$(cat /proc/cmdline)"
echo 0 > /sys/kernel/livepatch/elp_on_oot/enabled
e2e_lp_wait elp_on_oot 30
e2e_result unpatched "$(cat /proc/cmdline)"
INIT
if [ "$rc" = 0 ] && e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/elp_on_oot.ko" &&
	e2e_boot "$t/initrd.gz" "$t/boot.log" 90; then
	e2e_check_result "the livepatch changes /proc/cmdline" "$t/boot.log" patched \
		"elivepatch-on-out-of-tree"
	before=$(e2e_result "$t/boot.log" before)
	e2e_check_result "disabling it brings the command line back" "$t/boot.log" unpatched "$before"
	check "no oops or warning in the guest" e2e_guest_dmesg_ok "$t/boot.log"
else
	not_ok "boot the reference kernel with the module"
fi

t_done
