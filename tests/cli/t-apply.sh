#!/bin/sh
# apply, revert, status, sign, verify without a livepatch kernel: a fake running system
# ($ELIVEPATCH_ROOT: /proc and /sys reads) and fake modules (an ELF with a .modinfo).
# Every refusal is clear and records nothing; loading itself is real and fails here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

REL=6.1.0-57-amd64
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/sys/kernel/livepatch" "$R/sys/module/module/parameters"
echo "$REL" > "$R/proc/sys/kernel/osrelease"
echo N > "$R/sys/module/module/parameters/sig_enforce"
# a loaded livepatch, as the kernel shows it
lp=$R/sys/kernel/livepatch/running_lp
mkdir -p "$lp/vmlinux/cmdline_proc_show,1" "$lp/ext4/ext4_fill_super,2" "$R/sys/module/running_lp"
echo 1 > "$lp/enabled"; echo 0 > "$lp/transition"
echo 1 > "$lp/vmlinux/patched"; echo 0 > "$lp/ext4/patched"
froot() { ELIVEPATCH_ROOT=$R "$ELP" --db "$DB" "$@"; }

# fake_module FILE NAME VERMAGIC_RELEASE [livepatch=Y|N]
fake_module() {
	printf 'name=%s\0vermagic=%s SMP preempt mod_unload modversions \0livepatch=%s\0license=GPL\0' \
		"$2" "$3" "${4:-Y}" > "$T/modinfo.bin"
	echo 'int x;' | cc -c -x c - -o "$T/fake.o" &&
		objcopy --add-section .modinfo="$T/modinfo.bin" \
			--set-section-flags .modinfo=alloc,readonly "$T/fake.o" "$1"
}
fake_module "$T/lp.ko" elp_fix "$REL" || bail "fake livepatch module"
fake_module "$T/other.ko" elp_other 6.6.30-gentoo || bail "fake module for another kernel"
fake_module "$T/plain.ko" plain "$REL" N || bail "fake module that is not a livepatch"
cp "$T/lp.ko" "$T/tampered.ko"
cp "$T/lp.ko" "$T/failed.ko" && printf '\0' >> "$T/failed.ko"
cp "$T/lp.ko" "$T/unknown.ko" && printf '\0\0' >> "$T/unknown.ko"
sha() { sha256sum "$1" | cut -d' ' -f1; }

elp kernel add --release "$REL" --name k1 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel added"
sqlite3 "$DB" <<SQL || bail "catalogue rows"
INSERT INTO patches (id, name, kind, sha256, content, created_at) VALUES
 (10, 'fix-a', 'livepatch', 'aa', 'x', 1);
INSERT INTO patch_cves VALUES (10, 'CVE-2024-1086');
INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
 (1, 1, '$REL', 'elp_fix', 'h1', 'succeeded', '$T/lp.ko', '$(sha "$T/lp.ko")', NULL, 1),
 (2, 1, '$REL', 'elp_fix', 'h2', 'succeeded', '$T/tampered.ko', '$(sha "$T/lp.ko")', NULL, 2),
 (3, NULL, '6.6.30-gentoo', 'elp_other', 'h3', 'succeeded', '$T/other.ko', '$(sha "$T/other.ko")', NULL, 3),
 (4, 1, '6.6.30-gentoo', 'elp_fix', 'h4', 'succeeded', '$T/lp.ko', '$(sha "$T/lp.ko")', NULL, 4),
 (5, 1, '$REL', 'elp_fix', 'h5', 'failed', NULL, NULL, NULL, 5),
 (6, 1, '$REL', 'elp_fix', 'h6', 'succeeded', '$T/failed.ko', '$(sha "$T/failed.ko")', 'failed', 6),
 (7, 1, '$REL', 'running_lp', 'h7', 'succeeded', '/nonexistent.ko', 'ff', 'passed', 7);
INSERT INTO build_patches VALUES (1, 0, 10), (7, 0, 10);
SQL
printf 'x' >> "$T/tampered.ko"
before=$(dump)

# expect DESC STATUS PATTERN COMMAND...: exit status and a line of stderr/stdout
expect() {
	_d=$1 _s=$2 _p=$3; shift 3
	"$@" > "$T/out" 2>&1
	_rc=$?
	if [ "$_rc" = "$_s" ] && grep -q -- "$_p" "$T/out"; then ok "$_d"; else
		not_ok "$_d (status $_rc)"; sed 's/^/#   /' "$T/out"; fi
}

# --- apply: refusals -----------------------------------------------------------------------
expect "apply without an argument is a usage error" 129 "missing argument" froot apply
expect "apply --wait 0 is a usage error" 129 "invalid --wait 0" froot apply --wait 0 1
expect "apply of an unknown build" 1 "^error: no build '42' in the catalogue" froot apply 42
expect "apply of a missing file" 1 "^error: cannot read module '$T/nope.ko'" froot apply "$T/nope.ko"
expect "apply of a file that is not a module" 1 "^error: '$T/config' is not a kernel module" \
	froot apply --force "$T/config"
expect "apply of a module that is not a livepatch" 1 \
	"^error: '$T/plain.ko' is not a livepatch module (no 'livepatch=Y' in its modinfo)" \
	froot apply --force "$T/plain.ko"
expect "apply of a build whose module changed" 1 \
	"^error: module '$T/tampered.ko' of build 2 does not match the catalogue (sha256 " froot apply 2
expect "apply of a changed file names its build" 1 \
	"^error: module '$T/tampered.ko' does not match build 2 in the catalogue" froot apply "$T/tampered.ko"
expect "apply of a module for another kernel" 1 \
	"^error: module 'elp_other' is built for kernel 6.6.30-gentoo, the running kernel is $REL" froot apply 3
expect "apply of a build recorded for another kernel" 1 \
	"^error: build 4 is for kernel 6.6.30-gentoo, the running kernel is $REL" froot apply 4
expect "apply of a failed build" 1 "^error: build 5 has no module (status: failed)" froot apply 5
expect "apply of a build that failed verification" 1 \
	"^error: build 6 failed verification (log: none); use --force" froot apply 6
expect "apply of a file the catalogue does not know" 1 \
	"^error: '$T/unknown.ko' is not a build in the catalogue; use 'elivepatch apply BUILD', or --force" \
	froot apply "$T/unknown.ko"
expect "apply warns when a build was never verified" 1 \
	"^warning: build 1 was never verified; see 'elivepatch verify 1'" froot apply 1
mkdir -p "$R/sys/kernel/livepatch/elp_fix"
expect "apply of a livepatch already loaded" 1 \
	"^error: livepatch 'elp_fix' is already loaded" froot apply 1
rmdir "$R/sys/kernel/livepatch/elp_fix"
echo Y > "$R/sys/module/module/parameters/sig_enforce"
expect "apply of an unsigned module where signatures are enforced" 1 \
	"^error: refusing to load unsigned module 'elp_fix': the kernel enforces module signatures (module.sig_enforce=1)" \
	froot apply 1
echo N > "$R/sys/module/module/parameters/sig_enforce"
mkdir -p "$R/sys/kernel/security" && echo 'none [integrity] confidentiality' > "$R/sys/kernel/security/lockdown"
expect "... or the kernel is locked down" 1 "the kernel enforces module signatures (the kernel is locked down (integrity))" \
	froot apply 1
rm -r "$R/sys/kernel/security"
if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
	chmod -R a+rX "$T"
	expect "apply without root" 1 "^error: applying a livepatch needs root (it loads a kernel module)" \
		setpriv --reuid 65534 --regid 65534 --clear-groups env ELIVEPATCH_ROOT="$R" \
		"$ELP" --db "$DB" apply 1
	expect "revert without root" 1 "^error: reverting a livepatch needs root (it unloads a kernel module)" \
		setpriv --reuid 65534 --regid 65534 --clear-groups env ELIVEPATCH_ROOT="$R" \
		"$ELP" --db "$DB" revert running_lp
	expect "status without root shows the kernel's state" 0 "^running_lp: enabled$" \
		setpriv --reuid 65534 --regid 65534 --clear-groups env ELIVEPATCH_ROOT="$R" \
		"$ELP" --db "$DB" status
else
	skip "apply/revert without root (needs root and setpriv)"
fi
# everything checks out: loading is real, and this machine's kernel refuses the fake module
expect "a real load of the fake module fails with libkmod's reason" 1 "^error: cannot load 'elp_fix': " \
	froot apply 1
rm -r "$R/sys/kernel/livepatch"
expect "apply on a kernel without livepatch support" 1 \
	"^error: the running kernel has no livepatch support (no /sys/kernel/livepatch)" froot apply 1
mkdir -p "$R/sys/kernel/livepatch"
check "no refusal recorded anything" test "$(dump)" = "$before"

# --- revert ------------------------------------------------------------------------------------
mkdir -p "$lp/vmlinux/cmdline_proc_show,1" "$lp/ext4/ext4_fill_super,2"
echo 1 > "$lp/enabled"; echo 0 > "$lp/transition"; echo 1 > "$lp/vmlinux/patched"; echo 0 > "$lp/ext4/patched"
expect "revert without an argument is a usage error" 129 "missing argument" froot revert
expect "revert of something not loaded" 1 "^error: livepatch 'elp_fix' is not loaded; see 'elivepatch status'" \
	froot revert elp_fix
expect "revert by build id of something not loaded" 1 "^error: livepatch 'elp_fix' is not loaded" froot revert 1
expect "revert of an unknown build" 1 "^error: no build '42' in the catalogue" froot revert 42
expect "revert of a disabled module still loaded" 1 "^error: module 'plain' is loaded but is not an active livepatch" \
	sh -c "mkdir -p '$R/sys/module/plain' && ELIVEPATCH_ROOT='$R' '$ELP' --db '$DB' revert plain"
expect "revert acts on the real /sys: this machine has no such livepatch" 1 \
	"^error: cannot disable livepatch 'running_lp' (/sys/kernel/livepatch/running_lp/enabled)" froot revert running_lp
check "no failed revert recorded anything" test "$(dump)" = "$before"

# --- status ---------------------------------------------------------------------------------------
expect "status shows a livepatch elivepatch did not apply as unknown" 0 \
	"build:   unknown (not applied by elivepatch)" froot status
expect "status shows its objects and functions" 0 "^  vmlinux: cmdline_proc_show$" froot status
expect "status shows an object not loaded" 0 "^  ext4 (not loaded): ext4_fill_super$" froot status
sqlite3 "$DB" "INSERT INTO events (time, kind, kernel_release, build_id, module, host)
	VALUES (100, 'apply', '$REL', 7, 'running_lp', '$(hostname)')"
expect "status maps an applied livepatch to its build" 0 "build:   7 (kernel $REL, verification passed)" froot status
expect "... and its patches" 0 "^  patches: fix-a$" froot status
expect "... and CVEs" 0 "^  cves:    CVE-2024-1086$" froot status running_lp
expect "status --json" 0 \
	'^\[{"name":"running_lp","enabled":true,"transition":false,"known":true,"build":7,"kernel":"'"$REL"'","patches":\["fix-a"\],"cves":\["CVE-2024-1086"\],"verified":"passed","objects":\[{"name":"ext4","patched":false,"functions":\[{"name":"ext4_fill_super","sympos":2}\]},{"name":"vmlinux","patched":true,"functions":\[{"name":"cmdline_proc_show","sympos":1}\]}\],"blocked_by":\[\]}\]$' \
	froot --json status
sqlite3 "$DB" "INSERT INTO events (time, kind, kernel_release, build_id, module, host)
	VALUES (200, 'revert', '$REL', 7, 'running_lp', '$(hostname)')"
expect "after a revert event it is unknown again" 0 "build:   unknown" froot status
# a stalled transition: a task still unpatched, sleeping in the patched function
echo 1 > "$lp/transition"
mkdir -p "$R/proc/42/task/42" "$R/proc/42/task/43" "$R/proc/1/task/1"
echo 0 > "$R/proc/42/task/42/patch_state"; echo myd > "$R/proc/42/task/42/comm"
printf '[<0>] __schedule+0x2b/0x90\n[<0>] cmdline_proc_show+0x10/0x40\n[<0>] seq_read+0x1/0x2\n' > "$R/proc/42/task/42/stack"
echo 1 > "$R/proc/42/task/43/patch_state"; echo myd > "$R/proc/42/task/43/comm"
echo -1 > "$R/proc/1/task/1/patch_state"
expect "status shows a transition in progress" 0 "^running_lp: enabled, in transition to patched$" froot status
expect "... and the task blocking it, with the function" 0 \
	"^  blocked by myd (pid 42, tid 42): sleeping in cmdline_proc_show$" froot status
check "... only that task" test "$(froot status | grep -c 'blocked by')" = 1
expect "status of one livepatch not loaded" 1 "^error: livepatch 'nope' is not loaded" froot status nope
rm -r "$R/sys/kernel/livepatch"/*
expect "status with nothing loaded" 0 "^no livepatches loaded (kernel $REL)$" froot status
expect "status --json with nothing loaded" 0 '^\[\]$' froot --json status

# --- verify: refusals ---------------------------------------------------------------------------------
expect "verify without a build" 129 "missing argument: BUILD" elp verify
expect "verify of a build whose kernel has no image" 1 \
	"^error: no kernel image for build 1 (kernel $REL): add the kernel with 'elivepatch kernel add --image VMLINUZ' or pass --image" \
	elp verify 1
expect "verify of a file the catalogue does not know" 1 "is not a build in the catalogue; verify takes a build id" \
	elp verify "$T/unknown.ko"
expect "verify of a build whose module does not match its kernel" 1 \
	"^error: module 'elp_fix' is built for kernel $REL, but build 4 targets 6.6.30-gentoo" elp verify 4
expect "verify with a missing check script" 1 "^error: cannot use check script '$T/none.sh': no such file" \
	elp verify --check "$T/none.sh" 1
expect "...also under its old name --exercise" 1 "^error: cannot use check script '$T/none.sh': no such file" \
	elp verify --exercise "$T/none.sh" 1
expect "verify --wait 0 is a usage error" 129 "invalid --wait 0: expected seconds > 0" elp verify --wait 0 1
elp verify --help > "$T/out" 2>&1
check "verify --help documents --check" grep -q -- "--check SCRIPT" "$T/out"
# --- sign -------------------------------------------------------------------------------------------
if command -v openssl > /dev/null; then
	cat > "$T/x509.genkey" <<'EOF'
[ req ]
default_bits = 2048
distinguished_name = req_distinguished_name
prompt = no
x509_extensions = myexts
[ req_distinguished_name ]
CN = elivepatch test key
[ myexts ]
basicConstraints=critical,CA:FALSE
keyUsage=digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$T/x509.genkey" \
		-outform PEM -out "$T/key.pem" -keyout "$T/key.pem" > /dev/null 2>&1 || bail "signing key"
	expect "sign without a key" 1 "^error: no signing key '/etc/elivepatch/signing_key.pem'" \
		env ELIVEPATCH_SIGN_KEY= "$ELP" --db "$DB" sign 1
	expect "sign with a file that is not a key" 1 "holds no PEM private key" elp sign --key "$T/config" 1
	expect "sign with an unknown hash" 1 "^error: unknown signature hash 'nope'" elp sign --key "$T/key.pem" --hash nope 1
	expect "sign a build" 0 "^signed build 1 ('$T/lp.ko') with key 'elivepatch test key'$" \
		elp sign --key "$T/key.pem" 1
	check "the catalogue has the signed module's sha256" \
		test "$(sqlite3 "$DB" "SELECT artefact_sha256 FROM builds WHERE id = 1")" = "$(sha "$T/lp.ko")"
	check "modinfo sees the signer" sh -c "modinfo -F signer '$T/lp.ko' | grep -qx 'elivepatch test key'"
	check "a 'sign' event" test "$(elp history --event sign | cut -f4,5)" = "$(printf '1\telp_fix')"
	cp "$T/lp.ko" "$T/once.ko"
	expect "signing again replaces the signature" 0 "^signed build 1" env ELIVEPATCH_SIGN_KEY="$T/key.pem" "$ELP" --db "$DB" sign 1
	check "... byte for byte" cmp -s "$T/lp.ko" "$T/once.ko"
	signfile=$(ls /usr/src/linux-headers-*/scripts/sign-file /var/cache/elivepatch-test/*/headers/scripts/sign-file 2> /dev/null | head -n1)
	if [ -n "$signfile" ]; then
		fake_module "$T/ref.ko" elp_fix "$REL" && "$signfile" sha256 "$T/key.pem" "$T/key.pem" "$T/ref.ko"
		check "the signature is byte-identical to the kernel's sign-file" cmp -s "$T/lp.ko" "$T/ref.ko"
	else
		skip "no scripts/sign-file to compare with"
	fi
	echo Y > "$R/sys/module/module/parameters/sig_enforce"
	mkdir -p "$R/sys/kernel/livepatch"
	expect "a signed module passes the signature check (the real load still fails here)" 1 \
		"^error: cannot load 'elp_fix'" froot apply 1
else
	skip "sign (no openssl)"
fi

check "history has no apply, revert or verify event from the refusals" \
	test "$(elp history --event apply | grep -c .)$(elp history --event verify | grep -c .)" = 10
t_done
