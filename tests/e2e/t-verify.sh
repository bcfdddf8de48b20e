#!/bin/sh
# e2e: `elivepatch verify` on the host boots the reference kernel in qemu with each build:
# a good livepatch passes, with its function redirected while patched and not after, and the
# patch's own check script (--check) seeing the new /proc/cmdline; the same build fails when
# its check script does not see what it expects; one whose new function oopses and one whose
# transition never finishes get a failing verdict with the reason; verdicts and 'verify'
# events are recorded.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

ELP=${ELIVEPATCH:-$here/../../build/elivepatch}
[ -x "$ELP" ] || bail "elivepatch binary at $ELP (make)"
e2e_kernel || bail "reference kernel available (tests/e2e/fetch-kernel.sh)"
e2e_tmpdir || bail "temp dir"
t=$E2E_TMP
db=$t/db/catalogue.db
elp() { "$ELP" --db "$db" "$@"; }

sample=$(e2e_source_file samples/livepatch/livepatch-sample.c) || bail "livepatch-sample.c"
mkdir -p "$t/mod"
cp "$sample" "$t/mod/livepatch-sample.c"
# the new cmdline_proc_show writes through a NULL pointer: oops when /proc/cmdline is read
sed -e 's/^\(\t*\)seq_printf(m, "%s\\n", "this has been live patched");$/\1*(volatile int *)0 = 1;/' \
	-e 's/livepatch_cmdline_proc_show/livepatch_oops_cmdline_proc_show/' \
	"$sample" > "$t/mod/livepatch-oops.c"
grep -q 'volatile int' "$t/mod/livepatch-oops.c" || bail "oopsing variant of the sample"
# one whose transition never finishes
cp "$(dirname "$0")/fixtures/livepatch-stall.c" "$t/mod/" || bail "livepatch-stall.c"
printf 'obj-m += livepatch-sample.o livepatch-oops.o livepatch-stall.o\n' > "$t/mod/Kbuild"
if make -C "$E2E_HEADERS" M="$t/mod" modules > "$t/build.log" 2>&1; then
	ok "test livepatch modules build against the headers"
else
	tail -n 20 "$t/build.log" | sed 's/^/# /'
	bail "test livepatch modules build against the headers"
fi

# the kernel, with its image (verify needs no source: a stand-in tree), one build per module
mkdir -p "$t/src/scripts" "$t/src/kernel/livepatch" && touch "$t/src/Makefile" "$t/src/Kconfig" "$t/src/Kbuild" \
	"$t/src/scripts/Makefile.build"
elp kernel add --name ref --release "$E2E_RELEASE" --source "$t/src" \
	--config "$E2E_CONFIG" --build "$E2E_HEADERS" --image "$E2E_VMLINUZ" > "$t/out" 2>&1 ||
	{ sed 's/^/# /' "$t/out"; bail "kernel add --image"; }
kid=$(sqlite3 "$db" "SELECT id FROM kernels WHERE name = 'ref'")
n=0
for m in sample oops stall; do
	n=$((n + 1))
	ko=$t/mod/livepatch-$m.ko
	sqlite3 "$db" "INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256,
		status, artefact_path, artefact_sha256, created_at) VALUES ($n, $kid, '$E2E_RELEASE',
		'livepatch_$m', 'i$n', 'succeeded', '$ko', '$(sha256sum "$ko" | cut -d' ' -f1)', $n)" ||
		bail "build row $n"
done

# the patch's own checks, run in the guest while it is enabled
printf '%s\n' 'echo "cmdline: $(cat /proc/cmdline)"' \
	'grep -qx "this has been live patched" /proc/cmdline' > "$t/check-patched.sh"
printf '%s\n' 'echo "cmdline: $(cat /proc/cmdline)"' 'grep -q "console=ttyS0" /proc/cmdline' \
	> "$t/check-unpatched.sh"

# --- a good build passes ----------------------------------------------------------------------
t0=$(date +%s)
elp verify --check "$t/check-patched.sh" 1 > "$t/v1" 2>&1
rc=$?
printf '# verify of the good build: %s s\n' "$(($(date +%s) - t0))"
check "verify of a good build succeeds (status $rc)" [ "$rc" = 0 ]
if grep -q "^build 1: verification passed (1 function redirected, check script passed, transition [0-9][0-9]* ms; log: $t/db/verify/build-1-" "$t/v1"; then
	ok "verify reports the redirected function, the check, a guest-measured duration and the log"
else
	not_ok "verify reports the redirected function, the check, a guest-measured duration and the log"
	sed 's/^/#   /' "$t/v1"
fi
check "verify prints the check script's status" grep -qx "check script: exit status 0" "$t/v1"
check "...and its output: the guest saw the patched /proc/cmdline" \
	grep -qx "  | cmdline: this has been live patched" "$t/v1"
check "the verdict is recorded" [ "$(sqlite3 "$db" "SELECT verified FROM builds WHERE id = 1")" = passed ]
log1=$(sqlite3 "$db" "SELECT verify_log FROM builds WHERE id = 1")
check "the guest's log is kept" grep -q "ELP-VERIFY-RMMOD 0" "$log1"
check "ftrace redirected cmdline_proc_show once patched" \
	grep -q "ELP-VERIFY-REDIRECT-ON vmlinux cmdline_proc_show,1 redirected" "$log1"
check "...and no longer once disabled" \
	grep -q "ELP-VERIFY-REDIRECT-OFF vmlinux cmdline_proc_show,1 direct" "$log1"

# --- the same build, with a check the patched kernel does not pass ---------------------------
elp --json verify --check "$t/check-unpatched.sh" 1 > "$t/v1b" 2>&1
rc=$?
check "verify fails when the patch's check script fails (status $rc)" [ "$rc" = 1 ]
if grep -q '"verdict":"failed","reason":"the check script failed (status 1)".*"functions":1,"redirected":1,"check_status":1,"check_output":"cmdline: this has been live patched\\n"' "$t/v1b"; then
	ok "...with the script's status and output (--json)"
else
	not_ok "...with the script's status and output (--json)"; sed 's/^/#   /' "$t/v1b"
fi
ms=$(sed -n 's/.*"transition_ms":\(-\{0,1\}[0-9]*\).*/\1/p' "$t/v1b")
check "the transition time is the guest's, not negative (got '${ms:-none}')" \
	sh -c "[ -z '$ms' ] || [ '$ms' -ge 0 ]"
check "the failed verdict is recorded" [ "$(sqlite3 "$db" "SELECT verified FROM builds WHERE id = 1")" = failed ]

# --- a build that oopses -------------------------------------------------------------------------
elp verify 2 > "$t/v2" 2>&1
rc=$?
check "verify of an oopsing build fails (status $rc)" [ "$rc" = 1 ]
if grep -q "^build 2: verification failed: the kernel log shows: .*\(BUG: kernel NULL pointer dereference\|Oops\)" "$t/v2"; then
	ok "... because the kernel log shows the oops"
else
	not_ok "... because the kernel log shows the oops"; sed 's/^/#   /' "$t/v2"
fi
check "the failed verdict is recorded" [ "$(sqlite3 "$db" "SELECT verified FROM builds WHERE id = 2")" = failed ]

# --- a build whose transition never finishes -------------------------------------------------------
elp --json verify --wait 3 3 > "$t/v3" 2>&1
rc=$?
check "verify of a never-finishing build fails (status $rc)" [ "$rc" = 1 ]
if grep -q '"verdict":"failed","reason":"the transition did not finish in 3 s (blocked: kthreadd (pid 2) in kthreadd)"' "$t/v3"; then
	ok "... naming the blocked task and function (--json)"
else
	not_ok "... naming the blocked task and function (--json)"; sed 's/^/#   /' "$t/v3"
fi
check "the failed verdict is recorded" [ "$(sqlite3 "$db" "SELECT verified FROM builds WHERE id = 3")" = failed ]

# --- the record -------------------------------------------------------------------------------------
elp --json history --event verify > "$t/h" 2>&1
steps=$(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e["event"], e["build"], e["module"], e["detail"].split(":")[0].split(" (")[0])
' "$t/h" 2>&1)
expected="verify 1 livepatch_sample passed
verify 1 livepatch_sample failed
verify 2 livepatch_oops failed
verify 3 livepatch_stall failed"
if [ "$steps" = "$expected" ]; then
	ok "history shows the four verify events"
else
	not_ok "history shows the four verify events"; printf '%s\n' "$steps" | sed 's/^/#   /'
fi

# --- bad input: nothing recorded ---------------------------------------------------------------------
before=$(sqlite3 "$db" "SELECT count(*) FROM events")
elp verify 9 > "$t/out" 2>&1
check "verify of an unknown build fails" [ $? = 1 ]
check "... clearly" grep -q "^error: no build '9' in the catalogue" "$t/out"
elp verify --image /nonexistent 1 > "$t/out" 2>&1
check "verify with a missing image fails" grep -q "^error: cannot use kernel image '/nonexistent'" "$t/out"
elp verify > "$t/out" 2>&1
check "verify without a build is a usage error" [ $? = 129 ]
check "nothing recorded for the failures" [ "$(sqlite3 "$db" "SELECT count(*) FROM events")" = "$before" ]
t_done
