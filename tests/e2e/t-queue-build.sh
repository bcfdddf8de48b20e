#!/bin/sh
# e2e: `elivepatch queue run` builds through the same library call as `elivepatch build`:
# a queued build of cmdline-string for the reference kernel succeeds (the module is in the
# artefact store), a queued build of bad-header-only is refused with the engine's reason,
# and queued again it is refused again without a build (no new build row) until the patch changes.
# No guest is booted: t-build-livepatch.sh loads what the same build makes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref "$ks" "$E2E_CONFIG"
elp patch add "$patches/cmdline-string.patch" > /dev/null || bail "patch add cmdline-string"
elp patch add "$patches/bad-header-only.patch" > /dev/null || bail "patch add bad-header-only"
builds() { q "SELECT count(*) FROM builds"; }

elp queue add build --kernel ref --patch cmdline-string --origin e2e > /dev/null
elp queue add build --kernel ref --patch bad-header-only --origin e2e > /dev/null
t0=$(date +%s)
elp queue run > "$t/run.out" 2> "$t/run.err"
rc=$?
ok "queue run took $(($(date +%s) - t0)) s"
check "queue run exits 1: a job failed" [ "$rc" = 1 ]
check "the cmdline-string job is done" [ "$(q "SELECT state FROM jobs WHERE id = 1")" = "done" ]
art=$(q "SELECT artefact_path FROM builds WHERE status = 'succeeded'")
check "...its build succeeded with an artefact ($art)" [ -f "${art:-/nonexistent}" ]
check "...a livepatch module for the kernel" [ "$(modinfo -F livepatch "$art" 2>/dev/null)" = Y ]
check "...the runner said so" grep -q "^job 1 done: patch cmdline-string for kernel ref\$" "$t/run.out"
err=$(q "SELECT state || ': ' || error FROM jobs WHERE id = 2")
case $err in
"refused: "*"nothing to patch"*) ok "the bad-header-only job is refused, with the reason" ;;
*) not_ok "the bad-header-only job is refused, with the reason (got: $err)" ;;
esac
check "...one refused build row" [ "$(q "SELECT count(*) FROM builds WHERE status = 'refused'")" = 1 ]
n=$(builds)
elp queue add build --kernel ref --patch bad-header-only --origin e2e > /dev/null
elp queue run > /dev/null 2>&1
check "queued again, it is not built again" [ "$(builds)" = "$n" ]
case $(q "SELECT state || ': ' || error FROM jobs WHERE id = 3") in
"refused: "*"(as in job 2; not built again"*) ok "...and says it was refused in job 2" ;;
*) not_ok "...and says it was refused in job 2" ;;
esac
elp queue add build --kernel ref --patch cmdline-string --origin e2e > /dev/null
elp queue run > /dev/null 2>&1
check "a succeeded build queued again is reused, not rebuilt" \
	[ "$(builds)|$(q "SELECT state FROM jobs WHERE id = 4")" = "$n|done" ]

t_done
