#!/bin/sh
# e2e: a kernel built with out-of-tree patches (`kernel patch add`): the prepared
# tree carries them, so a fix written against that tree builds, loads and works,
# while the same fix does not apply to the plain kernel.
# This file builds with a cache of its own, empty at the start of every run: both trees are
# prepared and both original sides compiled here, never taken from an earlier run.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
ELIVEPATCH_CACHE=$t/cache
export ELIVEPATCH_CACHE

for name in plain local; do
	e2e_add_kernel "$name" || bail "kernel add $name"
done
elp kernel patch add local "$patches/oot-cmdline-comment.patch" > "$t/oot.log" 2>&1
check "kernel patch add succeeds" [ $? = 0 ]
check "...and records the out-of-tree patch, first, for that kernel only" \
	[ "$(q "SELECT k.name || ':' || kp.position || ':' || p.name || ':' || p.kind FROM kernel_patches kp
		JOIN kernels k ON k.id = kp.kernel_id JOIN patches p ON p.id = kp.patch_id")" = \
		"local:1:local:oot-cmdline-comment:kernel" ]
elp kernel show local > "$t/show.out" 2>&1
check "...which kernel show lists" grep -qx "  1. local:oot-cmdline-comment" "$t/show.out"

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
# the plain kernel's refused build prepared its tree before the patch failed to apply
trees=$(find "$ELIVEPATCH_CACHE/trees" -mindepth 1 -maxdepth 1 -type d | wc -l)
check "...in a prepared tree of its own: this run made two trees (got $trees)" [ "$trees" = 2 ]
check "...and the local one records the out-of-tree patch" \
	sh -c "grep -l 'out-of-tree local:oot-cmdline-comment' '$ELIVEPATCH_CACHE'/trees/*/prepared | grep -q ."

cat > "$t/init.sh" <<'INIT'
e2e_result before "$(cat /proc/cmdline)"
e2e_lp_on elp_on_oot
e2e_result patched "$(cat /proc/cmdline)"
e2e_lp_off elp_on_oot
e2e_result unpatched "$(cat /proc/cmdline)"
INIT
if [ "$rc" = 0 ] && e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/elp_on_oot.ko" &&
	e2e_boot "$t/initrd.gz" "$t/boot.log" 90; then
	e2e_check_result "the livepatch loads" "$t/boot.log" elp_on_oot_insmod 0
	e2e_check_result "...and is enabled" "$t/boot.log" elp_on_oot_enabled 1
	e2e_check_result "the livepatch changes /proc/cmdline" "$t/boot.log" patched \
		"elivepatch-on-out-of-tree"
	before=$(e2e_result "$t/boot.log" before)
	e2e_check_result "disabling it brings the command line back" "$t/boot.log" unpatched "$before"
	e2e_check_result "...and it unloads" "$t/boot.log" elp_on_oot_rmmod 0
	check "no oops, warning, stall or failed transition in the guest" e2e_guest_dmesg_ok "$t/boot.log"
else
	not_ok "boot the reference kernel with the module"
fi

t_done
