#!/bin/sh
# e2e: the lifecycle of a livepatch, run by the real elivepatch binary inside the qemu guest
# (copied into the initramfs with its shared libraries and a catalogue): apply a module made by
# `elivepatch build` and revert it; apply a build,
# status shows it, the behaviour changes, apply a cumulative build that replaces it, revert,
# and history --json shows every step in order with the right build ids.  Also in the guest:
# bad input (not loaded, sha256 mismatch, module for another kernel), a transition that
# never finishes (blocked task reported, patch backed out, nothing recorded) and a kernel
# that enforces module signatures.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

ELP=${ELIVEPATCH:-$here/../../build/elivepatch}
[ -x "$ELP" ] || bail "elivepatch binary at $ELP (make)"
e2e_kernel || bail "reference kernel available (tests/e2e/fetch-kernel.sh)"
e2e_tmpdir || bail "temp dir"
t=$E2E_TMP

# --- livepatch modules built against the headers ---------------------------------------------
# the sample, a cumulative one (same function, another string, .replace = true) and one
# whose transition never finishes
e2e_sample_livepatches "$t/g" livepatch-stall
# the same sample, changed after the build (sha256 no longer matches)
cp "$t/mod/livepatch-sample.ko" "$t/g/tampered.ko" && printf 'x' >> "$t/g/tampered.ko"
# a livepatch for another kernel: same module, another vermagic of the same length
other=${E2E_RELEASE%amd64}other
LC_ALL=C sed "s/vermagic=$E2E_RELEASE /vermagic=$other /" "$t/mod/livepatch-sample.ko" > "$t/g/other.ko"

# signed with a key of our own, which the kernel does not trust
cp "$t/mod/livepatch-sample.ko" "$t/g/signed.ko"
printf '[ req ]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n[ dn ]\nCN = elivepatch e2e key\n[ ext ]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature\nsubjectKeyIdentifier=hash\n' > "$t/genkey"
openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$t/genkey" \
	-outform PEM -out "$t/key.pem" -keyout "$t/key.pem" > /dev/null 2>&1 || bail "signing key"
"$ELP" --db "$t/scratch.db" sign --key "$t/key.pem" "$t/g/signed.ko" > /dev/null 2>&1
check "elivepatch sign signs a module" sh -c "modinfo -F signer '$t/g/signed.ko' | grep -qx 'elivepatch e2e key'"

# --- the catalogue: a real `elivepatch build`, and builds of the modules above -----------------
db=$t/g/catalogue.db
q() { sqlite3 "$db" "$@"; }
elp() { "$ELP" --db "$db" "$@"; }
ELIVEPATCH_CACHE=${ELIVEPATCH_CACHE:-/var/cache/elivepatch-test/cache}
export ELIVEPATCH_CACHE
built=
if ks=$(e2e_kallsyms) && mkdir -p "$t/stand-in/kernel/livepatch" "$t/stand-in/scripts" &&
	touch "$t/stand-in/Makefile" "$t/stand-in/Kconfig" "$t/stand-in/scripts/Makefile.build" &&
	elp kernel add --name ref --release "$E2E_RELEASE" --source "$t/stand-in" \
		--config "$E2E_CONFIG" --build "$E2E_HEADERS" --symbols "$ks" > "$t/add.log" 2>&1 &&
	q "UPDATE kernels SET source = '$E2E_SOURCE_TARBALL', source_kind = 'tarball'" &&
	elp patch add --cve CVE-2099-1234 "$here/patches/cmdline-string.patch" > "$t/patch.log" 2>&1 &&
	elp build --kernel ref --patch cmdline-string -o "$t/g/elp_cmdline_string.ko" > "$t/built.log" 2>&1; then
	built=$(q "SELECT id FROM builds WHERE status = 'succeeded' AND module_name = 'elp_cmdline_string'")
	q "UPDATE builds SET artefact_path = '/root/elp_cmdline_string.ko' WHERE id = $built"
	ok "elivepatch build of cmdline-string.patch (build $built)"
else
	not_ok "elivepatch build of cmdline-string.patch"
	cat "$t/add.log" "$t/patch.log" "$t/built.log" 2> /dev/null | tail -n 20 | sed 's/^/#   /'
	rm -f "$t/g/elp_cmdline_string.ko"
	elp history > /dev/null 2>&1 || bail "catalogue created"
fi
sha() { sha256sum "$1" | cut -d' ' -f1; }
sqlite3 "$db" > "$t/sql.log" 2>&1 <<EOF || bail "catalogue rows inserted"
INSERT INTO patches (id, name, kind, sha256, content, created_at)
	VALUES (201, 'cmdline-msg', 'livepatch', 'aa', 'x', 1), (202, 'cmdline-msg-v2', 'livepatch', 'bb', 'y', 1);
INSERT INTO patch_cves VALUES (201, 'CVE-2099-0001'), (202, 'CVE-2099-0002');
INSERT INTO builds (id, kernel_release, module_name, inputs_sha256, cumulative, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
	(101, '$E2E_RELEASE', 'livepatch_sample', 'i1', 0, 'succeeded',
		'/root/livepatch-sample.ko', '$(sha "$t/g/livepatch-sample.ko")', 'passed', 1),
	(102, '$E2E_RELEASE', 'livepatch_cumulative', 'i2', 1, 'succeeded',
		'/root/livepatch-cumulative.ko', '$(sha "$t/g/livepatch-cumulative.ko")', NULL, 2),
	(103, '$E2E_RELEASE', 'livepatch_sample', 'i3', 0, 'succeeded',
		'/root/tampered.ko', '$(sha "$t/mod/livepatch-sample.ko")', NULL, 3),
	(104, '$other', 'livepatch_sample', 'i4', 0, 'succeeded',
		'/root/other.ko', '$(sha "$t/g/other.ko")', NULL, 4),
	(105, '$E2E_RELEASE', 'livepatch_stall', 'i5', 0, 'succeeded',
		'/root/livepatch-stall.ko', '$(sha "$t/g/livepatch-stall.ko")', NULL, 5),
	(106, '$E2E_RELEASE', 'livepatch_sample', 'i6', 0, 'succeeded',
		'/root/signed.ko', '$(sha "$t/g/signed.ko")', 'passed', 6);
INSERT INTO build_patches VALUES (101, 0, 201), (102, 0, 201), (102, 1, 202);
EOF

# --- the binary and its shared libraries, run through the dynamic loader ----------------------
e2e_guest_elivepatch "$ELP" "$t/g" "$t/init.sh"
cat >> "$t/init.sh" <<EOF
built=$built
EOF
cat >> "$t/init.sh" <<'EOF'
sig=$(cat /sys/module/module/parameters/sig_enforce)
e2e_result sig_enforce "$sig"
if [ "$sig" = Y ]; then
	run enforce_apply apply 101
	run enforce_signed apply 106
	e2e_result enforce_loaded "$(ls /sys/kernel/livepatch | tr '\n' ' ')"
	exit 0
fi
e2e_result cmdline0 "$(cat /proc/cmdline)"
run status0 status
if [ -n "$built" ]; then
	run built_apply apply "$built"
	e2e_result built_cmdline "$(cat /proc/cmdline)"
	run built_status status
	run built_revert revert elp_cmdline_string
	e2e_result built_cmdline_after "$(cat /proc/cmdline)"
fi
run apply1 apply 101
e2e_result cmdline1 "$(cat /proc/cmdline)"
run status1 status
run status1_json --json status
run apply1_again apply 101
run apply2 apply 102
e2e_result cmdline2 "$(cat /proc/cmdline)"
e2e_result loaded2 "$(ls /sys/kernel/livepatch | tr '\n' ' ')"
e2e_result modules2 "$(lsmod | awk 'NR > 1 && /^livepatch/ { print $1 }' | sort | tr '\n' ' ')"
run status2 status
run revert2 revert livepatch_cumulative
e2e_result cmdline3 "$(cat /proc/cmdline)"
e2e_result modules3 "$(lsmod | awk 'NR > 1 && /^livepatch/ { print $1 }' | tr '\n' ' ')"
run revert_again revert livepatch_cumulative
run tampered apply 103
run tampered_file apply /root/tampered.ko
run other apply 104
run other_file apply --force /root/other.ko
run stall apply --wait 3 105
e2e_result modules_stall "$(lsmod | awk 'NR > 1 && /^livepatch/ { print $1 }' | tr '\n' ' ')"
e2e_result loaded_stall "$(ls /sys/kernel/livepatch | tr '\n' ' ')"
run status_empty status
E --json history > /tmp/h 2>&1
e2e_result history $?
sed 's/^/E2E-HISTORY /' /tmp/h
EOF
# files only: beside the catalogue is its symbol store (symbols/), which the guest does not need
# shellcheck disable=SC2046 # the temporary paths have no spaces
e2e_initramfs "$t/initrd.gz" "$t/init.sh" $(find "$t/g" -maxdepth 1 -type f) ||
	bail "initramfs with elivepatch, its libraries and the catalogue"
E2E_QEMU_MEM=1G e2e_boot "$t/initrd.gz" "$t/boot.log" 120
check "the guest runs the lifecycle and powers off" [ $? = 0 ]
log=$t/boot.log

orig="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"
if [ -n "$built" ]; then
	e2e_check_result "apply the build made by elivepatch build" "$log" built_apply 0
	e2e_check_result "... its behaviour" "$log" built_cmdline "elivepatch-test-cmdline"
	e2e_has_out "status shows it with its patch" "$log" built_status "patches: *cmdline-string"
	e2e_has_out "... and the CVE of the patch" "$log" built_status "cves: *CVE-2099-1234"
	e2e_check_result "revert it" "$log" built_revert 0
	e2e_check_result "... and the behaviour is back" "$log" built_cmdline_after "$orig"
fi
e2e_check_result "status with nothing loaded" "$log" status0 0
e2e_has_out "status says no livepatches loaded" "$log" status0 "^no livepatches loaded"
e2e_check_result "apply 101 (the sample) succeeds" "$log" apply1 0
e2e_has_out "apply 101 reports the build and module" "$log" apply1 "^applied build 101 (livepatch 'livepatch_sample') to kernel $E2E_RELEASE"
e2e_check_result "the sample changed /proc/cmdline" "$log" cmdline1 "this has been live patched"
e2e_check_result "status with the sample" "$log" status1 0
e2e_has_out "status shows livepatch_sample enabled" "$log" status1 "^livepatch_sample: enabled$"
e2e_has_out "status maps it to build 101 and its patch" "$log" status1 "build: *101 (kernel $E2E_RELEASE, verification passed)"
e2e_has_out "status shows the patch's CVE" "$log" status1 "cves: *CVE-2099-0001"
e2e_has_out "status shows the patched function" "$log" status1 "vmlinux: cmdline_proc_show"
e2e_has_out "status --json" "$log" status1_json '"name":"livepatch_sample","enabled":true,"transition":false,"known":true,"build":101'
e2e_check_result "apply of an already loaded livepatch fails" "$log" apply1_again 1
e2e_has_out "... saying it is loaded" "$log" apply1_again "error: livepatch 'livepatch_sample' is already loaded"
e2e_check_result "apply 102 (cumulative) succeeds" "$log" apply2 0
e2e_has_out "apply 102 warns that it was never verified" "$log" apply2 "warning: build 102 was never verified"
e2e_has_out "apply 102 reports that it replaced build 101" "$log" apply2 "^replaced livepatch 'livepatch_sample' (build 101)"
e2e_check_result "the cumulative patch's behaviour" "$log" cmdline2 "this has been live patched (cumulative)"
e2e_check_result "only the cumulative patch is left in sysfs" "$log" loaded2 "livepatch_cumulative "
e2e_check_result "the replaced module was unloaded" "$log" modules2 "livepatch_cumulative "
e2e_has_out "status shows both patches of build 102" "$log" status2 "patches: *cmdline-msg,cmdline-msg-v2"
e2e_check_result "revert livepatch_cumulative" "$log" revert2 0
e2e_has_out "revert names the build" "$log" revert2 "^reverted livepatch 'livepatch_cumulative' (build 102)"
e2e_check_result "/proc/cmdline is back to the original" "$log" cmdline3 "$orig"
e2e_check_result "no livepatch module left" "$log" modules3 ""
e2e_check_result "reverting something not loaded fails" "$log" revert_again 1
e2e_has_out "... clearly" "$log" revert_again "error: livepatch 'livepatch_cumulative' is not loaded"
e2e_check_result "apply of a build whose module changed fails" "$log" tampered 1
e2e_has_out "... naming the sha256 mismatch" "$log" tampered "does not match the catalogue"
e2e_check_result "apply of a changed file fails" "$log" tampered_file 1
e2e_has_out "... naming the build it no longer matches" "$log" tampered_file "does not match build 103 in the catalogue"
e2e_check_result "apply of a build for another kernel fails" "$log" other 1
e2e_has_out "... naming both kernels" "$log" other "built for kernel $other, the running kernel is $E2E_RELEASE"
e2e_check_result "apply --force of a module for another kernel fails too" "$log" other_file 1
e2e_has_out "... naming both kernels (--force does not override that)" "$log" other_file \
	"error: module 'livepatch_sample' is built for kernel $other, the running kernel is $E2E_RELEASE"
e2e_check_result "apply of a patch whose transition never finishes fails" "$log" stall 1
e2e_has_out "... after --wait" "$log" stall "did not finish its transition in 3 s"
e2e_has_out "... naming the blocking task and function" "$log" stall "blocked by kthreadd (pid 2, tid 2): sleeping in kthreadd"
e2e_has_out "... and backs it out" "$log" stall "was disabled and unloaded again"
e2e_check_result "the stalled patch is unloaded" "$log" modules_stall ""
e2e_check_result "... and gone from sysfs" "$log" loaded_stall ""
e2e_check_result "status after everything" "$log" status_empty 0

# history --json: (the real build: apply, revert), apply 101, apply 102 + replace 101,
# revert 102; nothing for the failures
e2e_check_result "history --json" "$log" history 0
tr -d '\r' < "$log" | sed -n 's/^E2E-HISTORY //p' > "$t/history.json"
steps=$(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    if e["event"] in ("apply", "replace", "revert"):
        print(e["event"], e["build"], e["module"], ",".join(e["patches"]), ",".join(e["cves"]))
' "$t/history.json" 2>&1)
expected="apply 101 livepatch_sample cmdline-msg CVE-2099-0001
apply 102 livepatch_cumulative cmdline-msg,cmdline-msg-v2 CVE-2099-0001,CVE-2099-0002
replace 101 livepatch_sample cmdline-msg CVE-2099-0001
revert 102 livepatch_cumulative cmdline-msg,cmdline-msg-v2 CVE-2099-0001,CVE-2099-0002"
[ -n "$built" ] && expected="apply $built elp_cmdline_string cmdline-string CVE-2099-1234
revert $built elp_cmdline_string cmdline-string CVE-2099-1234
$expected"
if [ "$steps" = "$expected" ]; then
	ok "history --json shows apply, apply, replace, revert with the right builds"
else
	not_ok "history --json shows apply, apply, replace, revert with the right builds"
	printf '%s\n' "$steps" | sed 's/^/#   got: /'
fi
check "history records the running kernel" grep -q "\"kernel\":\"$E2E_RELEASE\"" "$t/history.json"
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"

# --- a kernel that enforces module signatures refuses the unsigned build --------------------
E2E_APPEND="module.sig_enforce=1" e2e_boot "$t/initrd.gz" "$t/enforce.log" 120
check "the guest boots with module.sig_enforce=1" [ $? = 0 ]
log=$t/enforce.log
e2e_check_result "the guest enforces signatures" "$log" sig_enforce Y
e2e_check_result "apply of an unsigned module fails" "$log" enforce_apply 1
e2e_has_out "... with the reason" "$log" enforce_apply "refusing to load unsigned module 'livepatch_sample': the kernel enforces module signatures (module.sig_enforce=1)"
e2e_check_result "apply of a module signed with an untrusted key fails" "$log" enforce_signed 1
e2e_has_out "... with the kernel's reason" "$log" enforce_signed "error: cannot load 'livepatch_sample': the kernel rejected the module's signature (key not trusted)"
e2e_check_result "nothing was loaded" "$log" enforce_loaded ""
check "no oops, BUG, WARNING or stall in the second guest" e2e_guest_dmesg_ok "$log"

e2e_show_log "$t/boot.log"
t_done
