#!/bin/sh
# make bench-reliability: the figures of crash safety, concurrency, fuzzing
# and hostile input, written to reliability-results.txt (RELIABILITY_OUT
# overrides).  Every figure is "survived / tried" with nothing lost: after
# each kill the catalogue passes PRAGMA integrity_check and foreign_key_check,
# no build is succeeded without its module and matching sha256, and the
# next run succeeds (or, on the fake kernel tree, ends as that tree makes it
# end: failed, recorded).
#   kill points   ELIVEPATCH_FAULT at each point of build and queue run
#                 (sanitizer build, fake kernel tree), and, when the reference
#                 kernel is there (tests/e2e), at each pass of a real build
#                 (release build, --fault-injection) plus
#                 RELIABILITY_RANDOM_KILLS (default 5) kill -9 at random
#                 moments of a real build, and at each point of apply and
#                 revert in the qemu guest's kernel (t-lifecycle-crash.sh:
#                 status and history checked against /sys/kernel/livepatch)
#   concurrency   the pairs of issue #14, each: both succeed or wait saying
#                 for what; never "database is locked"
#   fuzzing       make fuzz's figures (RELIABILITY_FUZZ_SECONDS per target,
#                 default 30) when clang's libFuzzer builds, else the
#                 sanitizer driver's deterministic mutations
#   hostile input tests/cli/t-hostile.sh's cases, and the modules that lie
#                 about their kernel and the paths other users could change
#                 of t-reconcile.sh and t-permissions.sh
# RELIABILITY_E2E=0 skips the reference kernel parts.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
out=${RELIABILITY_OUT:-$top/reliability-results.txt}
SAN=$top/build/san/elivepatch
REL_BIN=$top/build/elivepatch
if ! [ -x "$SAN" ] || ! [ -x "$REL_BIN" ]; then
	echo "bench-reliability: make all san first" >&2
	exit 1
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/elp-rel.XXXXXX")
trap 'rm -rf "$W"' EXIT
ELIVEPATCH_DATADIR=$top/data
export ELIVEPATCH_DATADIR
unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT ELIVEPATCH_FAULT
patches=$top/contrib/examples
lines=

say() { lines="$lines$*
"; printf '%s\n' "$*" >&2; }

# intact DB: consistent, nothing succeeded without its module
intact() {
	[ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ] || return 1
	[ -z "$(sqlite3 "$1" 'PRAGMA foreign_key_check')" ] || return 1
	sqlite3 "$1" "SELECT artefact_path, artefact_sha256 FROM builds WHERE status = 'succeeded'" |
		while IFS='|' read -r p s; do
			[ -f "$p" ] && [ "$(sha256sum < "$p" | cut -d' ' -f1)" = "$s" ] || exit 1
		done
}

# ---- kill points on the fake tree (sanitizer build) ----
# a fake kernel source tree, as tests/cli/fixtures.sh makes it
mkdir -p "$W/src/kernel/livepatch" "$W/src/scripts" "$W/src/fs/proc"
echo 'VERSION = 6' > "$W/src/Makefile"
echo 'mainmenu "Linux"' > "$W/src/Kconfig"
echo 'obj-y += kernel/' > "$W/src/Kbuild"
: > "$W/src/scripts/Makefile.build"
printf 'static int x(void)\n{\n\treturn 0;\n}\n' > "$W/src/fs/proc/cmdline.c"
printf '# Linux/x86 6.1.0 Kernel Configuration\nCONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"\nCONFIG_MODULES=y\nCONFIG_LIVEPATCH=y\n' > "$W/config"
DB=$W/fake.db
ELIVEPATCH_CACHE=$W/cache
export ELIVEPATCH_CACHE
e() { "$SAN" --db "$DB" "$@"; }
e kernel add --release 6.1.0 --name k --source "$W/src" --config "$W/config" > /dev/null 2>&1
e patch add "$patches/cmdline.patch" > /dev/null 2>&1
tried=0 survived=0
kill_at() { # POINT COMMAND...: killed there, then intact and the next run ends cleanly
	p=$1; shift
	tried=$((tried + 1))
	ELIVEPATCH_FAULT=$p "$@" > /dev/null 2>&1
	rc=$?
	"$@" > /dev/null 2>&1 # the next run
	if [ $rc -eq 137 ] && intact "$DB" &&
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM builds WHERE status = 'running'")" = 0 ] &&
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM jobs WHERE state = 'running'")" = 0 ]; then
		survived=$((survived + 1))
	else
		say "  LOST: kill at $p (exit $rc)"
	fi
}
for p in tree record; do kill_at "build:$p" e build --kernel k --patch cmdline; done
for p in claimed finish; do
	e queue add build --kernel k --patch cmdline --origin bench > /dev/null 2>&1
	kill_at "queue:$p" e queue run
done
say "kill points, fake kernel tree (build: tree, record; queue run: claimed, finish): $survived / $tried survived"

# ---- kill points of a real build (reference kernel) ----
real_line="kill points, real build: not run (RELIABILITY_E2E=0 or no reference kernel)"
random_line="random kill -9 during a real build: not run"
if [ "${RELIABILITY_E2E:-1}" != 0 ]; then
	# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
	E2E_LIB_DIR=$top/tests/e2e
	. "$top/tests/e2e/lib.sh"
	if e2e_kernel > /dev/null 2>&1 && ks=$(e2e_kallsyms 2> /dev/null); then
		ELIVEPATCH_CACHE=${ELIVEPATCH_TEST_BUILD_CACHE:-/var/cache/elivepatch-test/cache}
		export ELIVEPATCH_CACHE
		DB=$W/real.db
		r() { "$REL_BIN" --db "$DB" --fault-injection "$@"; }
		r kernel add --name ref --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
			--config "$E2E_CONFIG" --build "$E2E_HEADERS" --symbols "$ks" > /dev/null 2>&1
		r patch add "$top/tests/e2e/patches/cmdline-string.patch" > /dev/null 2>&1
		tried=0 survived=0
		for p in tree scope compile-original apply compile-patched diff module record; do
			tried=$((tried + 1))
			ELIVEPATCH_FAULT=build:$p r build --kernel ref --patch cmdline-string --rebuild > /dev/null 2>&1
			rc=$?
			if [ $rc -eq 137 ] && intact "$DB"; then
				survived=$((survived + 1))
			else
				say "  LOST: real build killed at $p (exit $rc)"
			fi
		done
		r build --kernel ref --patch cmdline-string --rebuild > "$W/final.out" 2>&1
		frc=$?
		if [ $frc -eq 0 ] && intact "$DB" &&
			[ "$(sqlite3 "$DB" "SELECT count(*) FROM builds WHERE status = 'running'")" = 0 ] &&
			[ "$(sqlite3 "$DB" "SELECT count(*) FROM builds WHERE reason = 'interrupted'")" = "$tried" ]; then
			real_line="kill points, real build (tree, scope, compile-original, apply, compile-patched, diff, module, record): $survived / $tried survived; the next build succeeded, every killed build recorded as interrupted"
		else
			real_line="kill points, real build: $survived / $tried survived; the next build FAILED (exit $frc): $(tail -n 1 "$W/final.out")"
		fi
		n=${RELIABILITY_RANDOM_KILLS:-5} i=0 rs=0
		while [ $i -lt "$n" ]; do
			i=$((i + 1))
			# the binary itself, not a subshell running it: $! is what is killed
			"$REL_BIN" --db "$DB" --fault-injection build --kernel ref --patch cmdline-string \
				--rebuild > /dev/null 2>&1 &
			pid=$!
			# somewhere in the first 20 s (a warm build's span)
			sleep "$(awk -v s="$i" 'BEGIN { srand(s * 7919); printf "%.1f", rand() * 20 }')"
			kill -KILL "$pid" 2> /dev/null
			wait "$pid" 2> /dev/null
			if intact "$DB"; then rs=$((rs + 1)); else say "  LOST: random kill $i"; fi
		done
		if r build --kernel ref --patch cmdline-string --rebuild > /dev/null 2>&1 && intact "$DB"; then
			random_line="random kill -9 during a real build: $rs / $n survived; the next build succeeded"
		else
			random_line="random kill -9 during a real build: $rs / $n survived; the next build FAILED"
		fi
	fi
fi
say "$real_line"
say "$random_line"

# ---- apply/revert killed in the qemu guest ----
guest_line="kill points, apply/revert in the qemu guest: not run (RELIABILITY_E2E=0 or no reference kernel)"
if [ "${RELIABILITY_E2E:-1}" != 0 ] && [ -n "${E2E_RELEASE:-}" ]; then
	go=$(ELIVEPATCH=$REL_BIN sh "$top/tests/e2e/t-lifecycle-crash.sh" 2>&1)
	gk=$(printf '%s\n' "$go" | grep -c '^ok - \(apply\|revert\) killed')
	gp=$(printf '%s\n' "$go" | grep -c '^ok ')
	gf=$(printf '%s\n' "$go" | grep -c '^not ok ')
	guest_line="kill points, apply/revert in the qemu guest (apply: load, transition, record; revert: disable, transition, record): $gk / 6 killed there, then status and history told what /sys/kernel/livepatch showed and the next apply and revert succeeded: $gp checks passed, $gf failed"
fi
say "$guest_line"

# ---- concurrency ----
DB=$W/conc.db
ELIVEPATCH_CACHE=$W/cache
export ELIVEPATCH_CACHE
e kernel add --release 6.1.0 --name k --source "$W/src" --config "$W/config" > /dev/null 2>&1
e patch add "$patches/cmdline.patch" > /dev/null 2>&1
sed 's/live patched by elivepatch/patched twice/' "$patches/cmdline.patch" > "$W/other.patch"
e patch add "$W/other.patch" > /dev/null 2>&1
ctried=0 cok=0
pair() { # NAME: run A and B (functions a_ and b_) at once; both end cleanly, no "locked"
	ctried=$((ctried + 1))
	a_ > "$W/a.out" 2>&1 &
	ap=$!
	b_ > "$W/b.out" 2>&1
	brc=$?
	wait "$ap"
	arc=$?
	if ! grep -qi "database is locked" "$W/a.out" "$W/b.out" && [ "$arc" -le 1 ] && [ "$brc" -le 1 ] && intact "$DB"; then
		cok=$((cok + 1))
		say "  ok: $1"
	else
		say "  FAILED: $1 (exit $arc, $brc)"
	fi
}
a_() { e build --kernel k --patch cmdline --rebuild; }
b_() { e build --kernel k --patch other --rebuild; }
pair "two builds of different patches for the same kernel"
e queue add build --kernel k --patch cmdline --origin bench > /dev/null 2>&1
a_() { e queue run; }
b_() { e build --kernel k --patch other --rebuild; }
pair "a build during queue run"
a_() { e build --kernel k --patch cmdline --rebuild; }
b_() { sleep 0.3; e queue add kernel --kernel-source "$W/src" --origin hook; }
pair "a hook enqueueing during a build"
a_() { (echo "BEGIN IMMEDIATE; INSERT INTO events (time, kind) VALUES (1, 'bench');"; sleep 3; echo "COMMIT;") | sqlite3 "$DB"; }
b_() { sleep 0.5; e history > /dev/null && e build list > /dev/null && e patch add "$top/tests/e2e/patches/engine-clones.patch"; }
pair "status/history and a writer while another process holds the write lock"
say "concurrency: $cok / $ctried pairs ended cleanly, none reported 'database is locked'"

# ---- fuzzing ----
fuzz_line=
if command -v "${FUZZ_CC:-clang}" > /dev/null &&
	make -C "$top" -s build/fuzz/fuzz-patch build/fuzz/fuzz-conf build/fuzz/fuzz-kconfig \
		build/fuzz/fuzz-symbols build/fuzz/fuzz-elf build/fuzz/fuzz-bundle > "$W/fuzzbuild.log" 2>&1; then
	FUZZ_SECONDS=${RELIABILITY_FUZZ_SECONDS:-30} FUZZ_OUT=$W/fuzz.txt \
		FUZZ_BIN_DIR=$top/build/fuzz sh "$top/tests/fuzz/run.sh" patch conf kconfig symbols elf bundle > /dev/null 2>&1
	fuzz_line=$(cat "$W/fuzz.txt")
else
	for t in patch conf kconfig symbols elf bundle; do
		fuzz_line="$fuzz_line$t: $("$top/build/san/fuzz/fuzz-$t" -m 200 "$top/tests/fuzz/corpus/$t" 2>&1 | tail -n 1) (deterministic mutations)
"
	done
fi
say "fuzzing, executions and crashes per target:"
say "$fuzz_line"

# ---- hostile input ----
ho=$(ELIVEPATCH=$SAN sh "$top/tests/cli/t-hostile.sh" 2>&1)
hp=$(printf '%s\n' "$ho" | grep -c '^ok ')
hf=$(printf '%s\n' "$ho" | grep -c '^not ok ')
say "hostile input (tests/cli/t-hostile.sh: ../ and absolute paths, symlinks out of the tree, binary hunks, gigantic hunks, lines and files, configs with gigantic lines or NUL, a truncated catalogue, a symlink loop as kernel tree): $hp checks passed, $hf failed"
lo=$(ELIVEPATCH=$SAN sh "$top/tests/cli/t-reconcile.sh" 2>&1; ELIVEPATCH=$SAN sh "$top/tests/cli/t-permissions.sh" 2>&1)
say "lying modules and untrusted paths (tests/cli/t-reconcile.sh, t-permissions.sh: a module whose vermagic names the running kernel but whose symbol CRCs or recorded kernel build-id are another kernel's; a catalogue, cache, prepared tree, kernel source or build directory another user could change, as root): $(printf '%s\n' "$lo" | grep -c '^ok ') checks passed, $(printf '%s\n' "$lo" | grep -c '^not ok ') failed"

{
	echo "# make bench-reliability, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n)"
	printf '%s' "$lines"
} > "$out"
echo "bench-reliability: results in $out" >&2
