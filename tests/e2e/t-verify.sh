#!/bin/sh
# e2e: `elivepatch verify` on the host boots the reference kernel in qemu with each build:
# a good livepatch passes; one whose new function oopses and one whose transition never
# finishes get a failing verdict with the reason; verdicts and 'verify' events are recorded
# and `apply` then refuses the failed build.
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

# --- a good build passes ----------------------------------------------------------------------
t0=$(date +%s)
elp verify 1 > "$t/v1" 2>&1
rc=$?
printf '# verify of the good build: %s s\n' "$(($(date +%s) - t0))"
check "verify of a good build succeeds (status $rc)" [ "$rc" = 0 ]
if grep -q "^build 1: verification passed (transition [0-9]* ms; log: $t/db/verify/build-1-" "$t/v1"; then
	ok "verify reports the verdict and the log"
else
	not_ok "verify reports the verdict and the log"; sed 's/^/#   /' "$t/v1"
fi
check "the verdict is recorded" [ "$(sqlite3 "$db" "SELECT verified FROM builds WHERE id = 1")" = passed ]
log1=$(sqlite3 "$db" "SELECT verify_log FROM builds WHERE id = 1")
check "the guest's log is kept" grep -q "ELP-VERIFY-RMMOD 0" "$log1"
check "the guest saw the patched behaviour's function" grep -q "ELP-VERIFY-FUNC cmdline_proc_show,1" "$log1"

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
verify 2 livepatch_oops failed
verify 3 livepatch_stall failed"
if [ "$steps" = "$expected" ]; then
	ok "history shows the three verify events"
else
	not_ok "history shows the three verify events"; printf '%s\n' "$steps" | sed 's/^/#   /'
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
