#!/bin/sh
# e2e: apply and revert killed (kill -9, by fault injection) at each of their points in the
# qemu guest's real kernel -- before the load, during the transition wait, before the record;
# before the disable, during the transition back, before the record -- and afterwards
# `status` and `history` tell what /sys/kernel/livepatch shows: a livepatch loaded without an
# apply record is recorded as applied, one recorded as applied but gone as reverted, each
# with an event saying it was reconciled; the next apply and revert succeed; a cumulative
# apply killed before its record is recorded, and what it replaced as replaced.  Also: a module
# whose vermagic names the running kernel but that was built for another one (other symbol
# CRCs; a build recorded for another build of that release) is refused by apply with the
# reason, where the kernel itself refuses it too.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

ELP=${ELIVEPATCH:-$here/../../build/elivepatch}
[ -x "$ELP" ] || bail "elivepatch binary at $ELP (make)"
e2e_kernel || bail "reference kernel available (tests/e2e/fetch-kernel.sh)"
e2e_tmpdir || bail "temp dir"
t=$E2E_TMP

# --- the sample livepatch, built against the headers, and a copy that lies -------------------
e2e_sample_livepatches "$t/g"
# the same module, expecting another CRC of klp_enable_patch: built for another kernel,
# although its vermagic names this one
python3 - "$t/mod/livepatch-sample.ko" "$t/g/lying.ko" <<'EOF' || bail "a module with another kernel's CRC"
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
def sh(i):
    return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
stroff = sh(shstrndx)[4]
for i in range(shnum):
    s = sh(i)
    name = bytes(data[stroff + s[0]:]).split(b"\0")[0]
    if name != b"__versions":
        continue
    for off in range(s[4], s[4] + s[5], 64):
        if bytes(data[off + 8:off + 64]).split(b"\0")[0] == b"klp_enable_patch":
            struct.pack_into("<Q", data, off, 0x1badc0de)
            open(sys.argv[2], "wb").write(data)
            sys.exit(0)
sys.exit(1)
EOF
cp "$E2E_HEADERS/Module.symvers" "$t/g/Module.symvers" || bail "Module.symvers"

# --- the catalogue ----------------------------------------------------------------------------
db=$t/g/catalogue.db
q() { sqlite3 "$db" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
"$ELP" --db "$db" history > /dev/null 2>&1 || bail "catalogue created"
q > "$t/sql.log" 2>&1 <<EOF || bail "catalogue rows inserted"
INSERT INTO kernels (id, name, release, config, config_sha256, build_dir, build_id, created_at) VALUES
	(1, 'ref', '$E2E_RELEASE', 'CONFIG_LIVEPATCH=y', 'c', '/root', NULL, 1),
	(2, 'ref-rebuilt', '$E2E_RELEASE', 'CONFIG_LIVEPATCH=y', 'c', '/root',
		'ffeeddccbbaa99887766554433221100ffeeddcc', 2);
INSERT INTO patches (id, name, kind, sha256, content, created_at)
	VALUES (201, 'cmdline-msg', 'livepatch', 'aa', 'x', 1);
INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, cumulative, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
	(101, 1, '$E2E_RELEASE', 'livepatch_sample', 'i1', 0, 'succeeded',
		'/root/livepatch-sample.ko', '$(sha "$t/g/livepatch-sample.ko")', 'passed', 1),
	(102, 1, '$E2E_RELEASE', 'livepatch_cumulative', 'i2', 1, 'succeeded',
		'/root/livepatch-cumulative.ko', '$(sha "$t/g/livepatch-cumulative.ko")', 'passed', 2),
	(107, 1, '$E2E_RELEASE', 'livepatch_sample', 'i7', 0, 'succeeded',
		'/root/lying.ko', '$(sha "$t/g/lying.ko")', 'passed', 7),
	(108, 2, '$E2E_RELEASE', 'livepatch_sample', 'i8', 0, 'succeeded',
		'/root/livepatch-sample.ko', '$(sha "$t/g/livepatch-sample.ko")', 'passed', 8);
INSERT INTO build_patches VALUES (101, 0, 201);
EOF

# --- the binary and its shared libraries, run through the dynamic loader ----------------------
e2e_guest_elivepatch "$ELP" "$t/g" "$t/init.sh"
cat >> "$t/init.sh" <<'EOF'
# kill NAME POINT ARGS...: the command killed at POINT
kill_at() {
	_n=$1 _p=$2; shift 2
	ELIVEPATCH_FAULT=$_p E --fault-injection "$@" > /tmp/out 2>&1
	e2e_result "$_n" $?
	sed "s/^/E2E-OUT $_n: /" /tmp/out
}
# state NAME: what the kernel shows
state() {
	e2e_result "${1}_sysfs" "$(for d in /sys/kernel/livepatch/*; do [ -d "$d" ] &&
		echo "${d##*/}=$(cat "$d/enabled")"; done | tr '\n' ' ')"
	e2e_result "${1}_modules" "$(lsmod | awk 'NR > 1 && /^livepatch/ { print $1 }' | sort | tr '\n' ' ')"
}
wait_gone() {
	_n=300
	while [ -d /sys/kernel/livepatch/livepatch_sample ] && [ $_n -gt 0 ]; do
		usleep 100000; _n=$((_n - 1)); done
}

# apply, killed before the load
kill_at k_load apply:load apply 101
state k_load
run k_load_status status
# killed during the transition wait: the kernel finishes it alone
kill_at k_trans apply:transition apply 101
run k_trans_status status
state k_trans
run k_trans_status2 status
run k_trans_revert revert livepatch_sample
state k_trans_revert
# killed before the record: history is the first to look
kill_at k_rec apply:record apply 101
state k_rec
run k_rec_history history --event apply
run k_rec_status status
# revert killed before the disable: nothing changed
kill_at r_dis revert:disable revert livepatch_sample
state r_dis
run r_dis_status status
# killed during the transition back: disabled, its module left loaded
kill_at r_trans revert:transition revert livepatch_sample
wait_gone
state r_trans
run r_trans_status status
rmmod livepatch_sample
e2e_result r_trans_rmmod $?
# killed before the record: unloaded, no revert recorded
run r_rec_apply apply 101
kill_at r_rec revert:record revert livepatch_sample
state r_rec
run r_rec_history history --event revert
# and then everything works
run next_apply apply 101
run next_status status
run next_revert revert livepatch_sample
state next
run next_status2 status
# a cumulative apply killed before its record: it replaced the sample
run c_apply apply 101
kill_at c_kill apply:record apply 102
state c_kill
run c_status status
rmmod livepatch_sample
e2e_result c_rmmod $?
run c_revert revert livepatch_cumulative
state c_end

# a module that lies about its kernel
insmod /root/lying.ko > /tmp/out 2>&1
e2e_result lying_insmod $?
run lying apply 107
run lying_file apply --force /root/lying.ko
run rebuilt apply 108
state lying

E --json history > /tmp/h 2>&1
e2e_result history $?
sed 's/^/E2E-HISTORY /' /tmp/h
EOF
# shellcheck disable=SC2046 # the temporary paths have no spaces
e2e_initramfs "$t/initrd.gz" "$t/init.sh" $(find "$t/g" -maxdepth 1 -type f) ||
	bail "initramfs with elivepatch, its libraries and the catalogue"
E2E_QEMU_MEM=1G e2e_boot "$t/initrd.gz" "$t/boot.log" 240
check "the guest runs the killed applies and reverts and powers off" [ $? = 0 ]
log=$t/boot.log

R=$E2E_RELEASE
e2e_check_result "apply killed before the load" "$log" k_load 137
e2e_check_result "... nothing loaded" "$log" k_load_sysfs ""
e2e_has_out "... status says so" "$log" k_load_status "^no livepatches loaded (kernel $R)"
e2e_hasnt_out "... and has nothing to reconcile" "$log" k_load_status "recorded as"

e2e_check_result "apply killed during the transition wait" "$log" k_trans 137
e2e_has_out "status finds it loaded without an apply record and records it" "$log" k_trans_status \
	"^warning: livepatch 'livepatch_sample' (build 101) is loaded but no apply was recorded (an interrupted apply, or loaded outside elivepatch): recorded as applied now"
e2e_has_out "... and shows it as build 101" "$log" k_trans_status "build: *101 (kernel $R, verification passed)"
e2e_check_result "... as the kernel shows it" "$log" k_trans_sysfs "livepatch_sample=1 "
e2e_hasnt_out "status then has nothing more to reconcile" "$log" k_trans_status2 "recorded as"
e2e_has_out "... and still shows build 101" "$log" k_trans_status2 "build: *101"
e2e_check_result "the killed apply is reverted" "$log" k_trans_revert 0
e2e_has_out "... naming its build" "$log" k_trans_revert "^reverted livepatch 'livepatch_sample' (build 101)"
e2e_check_result "... and is gone" "$log" k_trans_revert_modules ""

e2e_check_result "apply killed before the record" "$log" k_rec 137
e2e_check_result "... the livepatch is loaded" "$log" k_rec_sysfs "livepatch_sample=1 "
e2e_has_out "history finds it and records it" "$log" k_rec_history "recorded as applied now"
e2e_has_out "... and shows the reconciled apply" "$log" k_rec_history "reconciled: found loaded without an apply record"
e2e_hasnt_out "status then agrees, with nothing to reconcile" "$log" k_rec_status "recorded as"
e2e_has_out "... build 101" "$log" k_rec_status "build: *101"

e2e_check_result "revert killed before the disable" "$log" r_dis 137
e2e_check_result "... still enabled" "$log" r_dis_sysfs "livepatch_sample=1 "
e2e_has_out "... status shows it applied" "$log" r_dis_status "^livepatch_sample: enabled"
e2e_hasnt_out "... nothing to reconcile" "$log" r_dis_status "recorded as"

e2e_check_result "revert killed during the transition back" "$log" r_trans 137
e2e_check_result "... the livepatch is gone from sysfs" "$log" r_trans_sysfs ""
e2e_check_result "... its module left loaded" "$log" r_trans_modules "livepatch_sample "
e2e_has_out "status records the revert" "$log" r_trans_status \
	"^warning: livepatch 'livepatch_sample' (build 101) is recorded as applied but is not loaded (an interrupted revert, or removed outside elivepatch): recorded as reverted now"
e2e_has_out "... and says the module is left loaded" "$log" r_trans_status \
	"module 'livepatch_sample' is loaded but is no active livepatch any more (disabled); unload it with 'rmmod livepatch_sample'"
e2e_has_out "... and shows what sysfs shows" "$log" r_trans_status "^no livepatches loaded"
e2e_check_result "... rmmod as told works" "$log" r_trans_rmmod 0

e2e_check_result "apply again" "$log" r_rec_apply 0
e2e_check_result "revert killed before the record" "$log" r_rec 137
e2e_check_result "... unloaded" "$log" r_rec_modules ""
e2e_has_out "history records the revert" "$log" r_rec_history "recorded as reverted now"
e2e_has_out "... and shows it" "$log" r_rec_history "reconciled: recorded as applied but not in /sys/kernel/livepatch"

e2e_check_result "the next apply succeeds" "$log" next_apply 0
e2e_hasnt_out "... with nothing to reconcile" "$log" next_apply "recorded as"
e2e_has_out "status shows it" "$log" next_status "build: *101"
e2e_check_result "the next revert succeeds" "$log" next_revert 0
e2e_check_result "... nothing left loaded" "$log" next_modules ""
e2e_has_out "status at the end" "$log" next_status2 "^no livepatches loaded"
e2e_hasnt_out "... with nothing to reconcile" "$log" next_status2 "recorded as\|warning"

e2e_check_result "a cumulative apply killed before its record" "$log" c_kill 137
e2e_check_result "... it is loaded, the sample replaced" "$log" c_kill_sysfs "livepatch_cumulative=1 "
e2e_check_result "... the sample's module left loaded" "$log" c_kill_modules "livepatch_cumulative livepatch_sample "
e2e_has_out "status records the cumulative apply" "$log" c_status \
	"livepatch 'livepatch_cumulative' (build 102) is loaded but no apply was recorded"
e2e_has_out "... and the sample as replaced by it" "$log" c_status \
	"livepatch 'livepatch_sample' (build 101) was replaced by cumulative livepatch 'livepatch_cumulative' (build 102) but no replace was recorded: recorded now"
e2e_has_out "... telling to unload the replaced module" "$log" c_status "unload it with 'rmmod livepatch_sample'"
e2e_has_out "... and shows build 102" "$log" c_status "build: *102"
e2e_check_result "rmmod as told works" "$log" c_rmmod 0
e2e_check_result "the cumulative one is reverted" "$log" c_revert 0
e2e_has_out "... naming build 102" "$log" c_revert "^reverted livepatch 'livepatch_cumulative' (build 102)"
e2e_check_result "... nothing left" "$log" c_end_modules ""

e2e_check_result "the kernel refuses the module built for another kernel (EINVAL)" "$log" lying_insmod 22
e2e_check_result "apply refuses it too" "$log" lying 1
e2e_has_out "... with the reason" "$log" lying \
	"^error: module 'livepatch_sample' claims kernel $R (vermagic) but was built for another kernel: it expects symbol 'klp_enable_patch' with CRC 0x1badc0de, the kernel's is 0x"
e2e_check_result "apply --force of the file refuses it" "$log" lying_file 1
e2e_has_out "... with the reason" "$log" lying_file "but was built for another kernel"
e2e_check_result "apply of a build for another build of the release fails" "$log" rebuilt 1
e2e_has_out "... naming both build-ids" "$log" rebuilt \
	"^error: build 108 is for another build of kernel $R (kernel 'ref-rebuilt', build-id ffeeddccbbaa...): the running kernel's build-id is"
e2e_check_result "... nothing was loaded" "$log" lying_sysfs ""

# history: every apply and revert, as the kernel saw them, in order
e2e_check_result "history --json" "$log" history 0
tr -d '\r' < "$log" | sed -n 's/^E2E-HISTORY //p' > "$t/history.json"
steps=$(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["event"] in ("apply", "replace", "revert"):
        d = e["detail"] or ""
        print(e["event"], e["build"], e["module"], "reconciled" if d.startswith("reconciled:") else "-")
' "$t/history.json" 2>&1)
expected="apply 101 livepatch_sample reconciled
revert 101 livepatch_sample -
apply 101 livepatch_sample reconciled
revert 101 livepatch_sample reconciled
apply 101 livepatch_sample -
revert 101 livepatch_sample reconciled
apply 101 livepatch_sample -
revert 101 livepatch_sample -
apply 101 livepatch_sample -
apply 102 livepatch_cumulative reconciled
replace 101 livepatch_sample reconciled
revert 102 livepatch_cumulative -"
if [ "$steps" = "$expected" ]; then
	ok "history shows each apply and revert, the reconciled ones marked"
else
	not_ok "history shows each apply and revert, the reconciled ones marked"
	printf '%s\n' "$steps" | sed 's/^/#   got: /'
fi
check "no oops, BUG, WARNING or stall in the guest" e2e_guest_dmesg_ok "$log"
e2e_show_log "$log"
t_done
