#!/bin/sh
# The catalogue against what the kernel shows (a fake running system, $ELIVEPATCH_ROOT):
# a livepatch of ours loaded without an apply record (an apply killed after the load) is
# recorded as applied, an applied one no longer loaded (a revert killed after the disable)
# as reverted, each with an event saying so; what cannot be told is reported, not recorded.
# And modules whose vermagic names the running kernel but that were built for another one
# (another build of that release; other symbol CRCs) are refused by apply with the reason.
# The qemu guest runs the same with real kill -9 (tests/e2e/t-lifecycle-crash.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

REL=6.1.0-57-amd64
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/sys/kernel/livepatch" "$R/sys/module/module/parameters"
echo "$REL" > "$R/proc/sys/kernel/osrelease"
echo N > "$R/sys/module/module/parameters/sig_enforce"
froot() { ELIVEPATCH_ROOT=$R "$ELP" --db "$DB" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# expect DESC STATUS PATTERN COMMAND...: exit status and a line of stderr/stdout
expect() {
	_d=$1 _s=$2 _p=$3; shift 3
	"$@" > "$T/out" 2>&1
	_rc=$?
	if [ "$_rc" = "$_s" ] && grep -q -- "$_p" "$T/out"; then ok "$_d"; else
		not_ok "$_d (status $_rc)"; sed 's/^/#   /' "$T/out"; fi
}
# refute DESC PATTERN COMMAND...: the output does not match
refute() {
	_d=$1 _p=$2; shift 2
	"$@" > "$T/out" 2>&1
	if grep -q -- "$_p" "$T/out"; then not_ok "$_d"; sed 's/^/#   /' "$T/out"; else ok "$_d"; fi
}

# fake_module FILE NAME [VERSIONS_BIN]: a livepatch "module" with a build-id (and __versions)
fake_module() {
	printf 'name=%s\0vermagic=%s SMP preempt mod_unload modversions \0livepatch=Y\0license=GPL\0' \
		"$2" "$REL" > "$T/modinfo.bin"
	printf 'int %s_x;\n' "$2" | cc -c -x c - -o "$T/fake.o" &&
		ld -r --build-id=sha1 -o "$T/fake-id.o" "$T/fake.o" &&
		objcopy --add-section .modinfo="$T/modinfo.bin" \
			--set-section-flags .modinfo=alloc,readonly \
			${3:+--add-section __versions="$3" --set-section-flags __versions=alloc,readonly} \
			"$T/fake-id.o" "$1"
}
# the kernel's view of a loaded module's build-id note
notes_of() { # MODULE.ko NAME
	mkdir -p "$R/sys/module/$2/notes" &&
		objcopy -O binary --only-section=.note.gnu.build-id "$1" "$R/sys/module/$2/notes/.note.gnu.build-id"
}
# loaded NAME [TRANSITION]: a livepatch as /sys/kernel/livepatch shows it
loaded() {
	mkdir -p "$R/sys/kernel/livepatch/$1/vmlinux/cmdline_proc_show,1" "$R/sys/module/$1"
	echo 1 > "$R/sys/kernel/livepatch/$1/enabled"
	echo "${2:-0}" > "$R/sys/kernel/livepatch/$1/transition"
}
fake_module "$T/rec.ko" elp_rec || bail "fake livepatch module with a build-id"
fake_module "$T/other.ko" elp_other || bail "second fake module"
fake_module "$T/mine.ko" elp_mine || bail "third fake module"
check "the fake modules have a build-id" sh -c "readelf -n '$T/rec.ko' | grep -q 'Build ID'"

elp kernel add --release "$REL" --name k1 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel added"
sqlite3 "$DB" <<SQL || bail "catalogue rows"
INSERT INTO patches (id, name, kind, sha256, content, created_at) VALUES
 (10, 'fix-a', 'livepatch', 'aa', 'x', 1);
INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
 (11, 1, '$REL', 'elp_rec', 'h1', 'succeeded', '$T/rec.ko', '$(sha "$T/rec.ko")', 'passed', 1),
 (12, 1, '$REL', 'elp_other', 'h2', 'succeeded', '$T/other.ko', '$(sha "$T/other.ko")', NULL, 2),
 (13, 1, '$REL', 'elp_mine', 'h3', 'succeeded', '$T/mine.ko', '$(sha "$T/mine.ko")', NULL, 3);
INSERT INTO build_patches VALUES (11, 0, 10);
SQL

# --- a livepatch of ours, loaded, no apply recorded --------------------------------------------
loaded elp_rec 1
notes_of "$T/rec.ko" elp_rec
expect "status finds our livepatch loaded without an apply record" 0 \
	"^warning: livepatch 'elp_rec' (build 11) is loaded but no apply was recorded (an interrupted apply, or loaded outside elivepatch): recorded as applied now" \
	froot status
expect "... and shows it as build 11 from then on" 0 "build:   11 (kernel $REL, verification passed)" froot status
refute "... without telling it again" "no apply was recorded" froot status
check "one apply event, saying it was reconciled during the transition" test \
	"$(sqlite3 "$DB" "SELECT kind, build_id, module, kernel_release, detail FROM events WHERE kind = 'apply'")" = \
	"apply|11|elp_rec|$REL|reconciled: found loaded without an apply record (an interrupted apply, or loaded outside elivepatch), in transition"
expect "history shows it" 0 "reconciled: found loaded" elp history --event apply

# --- an apply record, but another module of that name loaded --------------------------------------
notes_of "$T/other.ko" elp_rec
expect "a loaded module that is not the recorded build, nor any build, is recorded as reverted" 0 \
	"^warning: livepatch 'elp_rec' is recorded as build 11 but the loaded module is not that build (another build-id): recorded as reverted now" \
	froot status
expect "... status shows it as unknown" 0 "build:   unknown" froot status elp_rec
fake_module "$T/rec14.ko" elp_rec14 || bail "another build of elp_rec"
sqlite3 "$DB" "INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
	(14, 1, '$REL', 'elp_rec', 'h14', 'succeeded', '$T/rec14.ko', '$(sha "$T/rec14.ko")', NULL, 14)"
notes_of "$T/rec14.ko" elp_rec
expect "a loaded module that is another build of that name is recorded as that build" 0 \
	"^warning: livepatch 'elp_rec' (build 14) is loaded but no apply was recorded" froot status
notes_of "$T/rec.ko" elp_rec
expect "... and back: the recorded build 14 is not what is loaded, build 11 is" 0 \
	"^warning: livepatch 'elp_rec' is recorded as build 14 but the loaded module is build 11: recorded as applied now" \
	froot status
check "... with an event saying so" test \
	"$(sqlite3 "$DB" "SELECT kind, build_id, detail FROM events ORDER BY id DESC LIMIT 1")" = \
	"apply|11|reconciled: the loaded module is build 11, not build 14 as recorded (loaded outside elivepatch)"
refute "... then nothing more to tell" "recorded" froot status

# --- loaded, named like a build, but another module; and a build-id that cannot be read --------
nev=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind IN ('apply', 'revert')")
loaded elp_other
fake_module "$T/impostor.ko" elp_other_impostor && notes_of "$T/impostor.ko" elp_other
loaded elp_mine
expect "a livepatch named like a build but not that build is not taken for it" 0 \
	"livepatch 'elp_other' has the module name of build 12 but is none of its builds" froot status
expect "a livepatch whose build-id cannot be read is reported" 0 \
	"^warning: livepatch 'elp_mine' is loaded without an apply record and is named like build 13, but its build-id cannot be read" \
	froot status
check "... neither is recorded" test "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind IN ('apply', 'revert')")" = "$nev"
expect "status shows elp_other as not applied by elivepatch" 0 "build:   unknown (not applied by elivepatch)" froot status elp_other
rm -r "$R/sys/kernel/livepatch/elp_other" "$R/sys/kernel/livepatch/elp_mine" "$R/sys/module/elp_other" "$R/sys/module/elp_mine"

# --- while an apply or revert holds the lifecycle lock, nothing is reconciled --------------------
if command -v flock > /dev/null; then
	rm -r "$R/sys/kernel/livepatch/elp_rec"
	before=$(dump)
	flock "$DB.lifecycle-lock" sleep 3 &
	fl=$!
	sleep 0.5
	expect "status during an apply or revert does not reconcile" 0 \
		"an apply or revert is in progress: the catalogue is not checked against the running kernel now" froot status
	check "... and records nothing" test "$(dump)" = "$before"
	wait "$fl"
	loaded elp_rec
else
	skip "lifecycle lock (no flock)"
fi

# --- recorded as applied, no longer loaded --------------------------------------------------------
rm -r "$R/sys/kernel/livepatch/elp_rec"
if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
	chmod -R a+rX "$T"
	: > "$DB.lifecycle-lock" && chmod 600 "$DB.lifecycle-lock" # root's, as apply leaves it
	before=$(dump)
	expect "a reader of a read-only catalogue is told, nothing is recorded" 0 \
		"livepatch 'elp_rec' (build 11) is recorded as applied but is not loaded; not recorded now: catalogue '$DB' is read-only" \
		setpriv --reuid 65534 --regid 65534 --clear-groups env ELIVEPATCH_ROOT="$R" "$ELP" --db "$DB" history
	check "... the catalogue is unchanged" test "$(dump)" = "$before"
else
	skip "reconciliation with a read-only catalogue (needs root and setpriv)"
fi
expect "history finds an applied livepatch that is not loaded any more" 0 \
	"^warning: livepatch 'elp_rec' (build 11) is recorded as applied but is not loaded (an interrupted revert, or removed outside elivepatch): recorded as reverted now" \
	froot history
expect "... and says its module is still loaded" 0 \
	"module 'elp_rec' is loaded but is no active livepatch any more (disabled); unload it with 'rmmod elp_rec'" \
	sh -c "sqlite3 '$DB' \"DELETE FROM events WHERE kind = 'revert'\" && ELIVEPATCH_ROOT='$R' '$ELP' --db '$DB' history"
check "a revert event saying so" test \
	"$(sqlite3 "$DB" "SELECT kind, build_id, module, detail FROM events WHERE kind = 'revert'")" = \
	"revert|11|elp_rec|reconciled: recorded as applied but not in /sys/kernel/livepatch (an interrupted revert, or removed outside elivepatch); its module is still loaded"
expect "history shows it" 0 "reconciled: recorded as applied but not in /sys/kernel/livepatch" froot history --event revert
rm -r "$R/sys/module/elp_rec"
refute "once recorded, nothing more to tell" "recorded as" froot status
expect "status: nothing loaded" 0 "^no livepatches loaded" froot status

# --- a cumulative livepatch loaded, no record: what it replaced is recorded as replaced -------------
fake_module "$T/cum.ko" elp_cum || bail "fake cumulative module"
sqlite3 "$DB" "INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, cumulative,
	status, artefact_path, artefact_sha256, verified, created_at) VALUES
	(31, 1, '$REL', 'elp_cum', 'h31', 1, 'succeeded', '$T/cum.ko', '$(sha "$T/cum.ko")', 'passed', 31);
	INSERT INTO events (time, kind, kernel_release, build_id, module, host)
	VALUES (strftime('%s', 'now'), 'apply', '$REL', 11, 'elp_rec', '$(hostname)')" || bail "an applied livepatch"
loaded elp_cum
notes_of "$T/cum.ko" elp_cum
mkdir -p "$R/sys/module/elp_rec"
expect "status records the cumulative livepatch loaded without a record" 0 \
	"livepatch 'elp_cum' (build 31) is loaded but no apply was recorded" froot status
check "... and what it replaced as replaced" test \
	"$(sqlite3 "$DB" "SELECT kind, build_id, module, detail FROM events ORDER BY id DESC LIMIT 1")" = \
	"replace|11|elp_rec|reconciled: replaced by cumulative livepatch elp_cum (build 31) with no record of it (an interrupted apply); its module is still loaded"
expect "history shows the replace" 0 "reconciled: replaced by cumulative livepatch elp_cum" froot history --event replace
refute "once recorded, nothing more to tell" "recorded" froot status
rm -r "$R/sys/kernel/livepatch/elp_cum" "$R/sys/module/elp_cum" "$R/sys/module/elp_rec"
expect "the cumulative one gone too is recorded as reverted" 0 \
	"livepatch 'elp_cum' (build 31) is recorded as applied but is not loaded" froot status

# --- a module that claims the running kernel but was built for another -------------------------------
# Module.symvers of the running kernel (the catalogue's build dir), and modules expecting
# the same or another CRC of klp_enable_patch
mkdir -p "$T/kbuild"
printf '0x06689996\tklp_enable_patch\tvmlinux\tEXPORT_SYMBOL_GPL\t\n0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n' > "$T/kbuild/Module.symvers"
python3 -c '
import struct, sys
def v(crc, name): return struct.pack("<Q56s", crc, name.encode())
open(sys.argv[1], "wb").write(v(0x9060323f, "module_layout") + v(0x06689996, "klp_enable_patch"))
open(sys.argv[2], "wb").write(v(0x9060323f, "module_layout") + v(0x1badc0de, "klp_enable_patch"))
' "$T/good.ver" "$T/lie.ver" || bail "__versions sections"
fake_module "$T/good.ko" elp_good "$T/good.ver" || bail "module with the kernel's CRCs"
fake_module "$T/lie.ko" elp_lie "$T/lie.ver" || bail "module with another kernel's CRCs"
cp "$T/lie.ko" "$T/lie-copy.ko" && printf '\0' >> "$T/lie-copy.ko"
# the running kernel's build-id note, and a record of another build of the same release
python3 -c '
import struct, sys
open(sys.argv[1], "wb").write(struct.pack("<III", 4, 20, 3) + b"GNU\0" + bytes(range(1, 21)))
' "$R/sys/kernel/notes" || bail "kernel notes"
running_id=0102030405060708090a0b0c0d0e0f1011121314
sqlite3 "$DB" <<SQL || bail "catalogue rows"
UPDATE kernels SET build_dir = '$T/kbuild' WHERE id = 1;
INSERT INTO kernels (id, name, release, source, source_kind, config, config_sha256, build_id, build_dir, created_at)
	SELECT 2, 'k1-rebuilt', release, source, source_kind, config, config_sha256,
	'ffeeddccbbaa99887766554433221100ffeeddcc', '$T/kbuild', 2 FROM kernels WHERE id = 1;
INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, status,
	artefact_path, artefact_sha256, verified, created_at) VALUES
 (21, 1, '$REL', 'elp_good', 'h21', 'succeeded', '$T/good.ko', '$(sha "$T/good.ko")', 'passed', 21),
 (22, 1, '$REL', 'elp_lie', 'h22', 'succeeded', '$T/lie.ko', '$(sha "$T/lie.ko")', 'passed', 22),
 (23, 2, '$REL', 'elp_good', 'h23', 'succeeded', '$T/good.ko', '$(sha "$T/good.ko")', 'passed', 23);
SQL
before=$(dump)
expect "apply of a module expecting other symbol CRCs than the running kernel's" 1 \
	"^error: module 'elp_lie' claims kernel $REL (vermagic) but was built for another kernel: it expects symbol 'klp_enable_patch' with CRC 0x1badc0de, the kernel's is 0x06689996 ($T/kbuild/Module.symvers)" \
	froot apply 22
expect "... also with --force, as a file the catalogue does not know" 1 \
	"^error: module 'elp_lie' claims kernel $REL (vermagic) but was built for another kernel" \
	froot apply --force "$T/lie-copy.ko"
expect "apply of a build recorded for another build of the running release" 1 \
	"^error: build 23 is for another build of kernel $REL (kernel 'k1-rebuilt', build-id ffeeddccbbaa...): the running kernel's build-id is 010203040506... (/sys/kernel/notes)" \
	froot apply 23
check "no refusal recorded anything" test "$(dump)" = "$before"
sqlite3 "$DB" "UPDATE kernels SET build_id = '$running_id' WHERE id = 1"
expect "a module with the running kernel's CRCs and build passes those checks (the real load fails here)" 1 \
	"^error: cannot load 'elp_good'" froot apply 21
if command -v flock > /dev/null; then
	flock "$DB.lifecycle-lock" sleep 1 &
	fl=$!
	sleep 0.3
	expect "apply waits for another apply or revert, saying so" 1 \
		"waiting for another apply or revert to finish" froot apply 21
	wait "$fl"
else
	skip "apply waiting for the lifecycle lock (no flock)"
fi
t_done
