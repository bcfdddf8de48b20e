#!/bin/sh
# make bench, second part (run by tests/bench/run.sh): CVE mode and codestreams on the
# reference kernel, against doing the same one build at a time:
#   cve5       `elivepatch cve` with 5 overlay fixes: one cumulative build
#   separate5  the same 5 fixes built one at a time (elivepatch build --no-cumulative)
#   all2       `elivepatch build --all-kernels` for 2 catalogued kernels (sharing a tree)
#   single2    the same patch built for each of them by hand, one after the other
# Every timed build is a real one (--rebuild); the prepared tree and the original objects are
# warmed first, so both sides compile the same; each figure is the best of two runs, taken
# in the order A B B A.
# Appends its lines, after one saying when, where and under which load it ran, to $BENCH_OUT
# (default bench-results.txt; also when run alone); BENCH_CACHE as in run.sh.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
E2E_LIB_DIR=$top/tests/e2e
. "$top/tests/e2e/lib.sh"

ELIVEPATCH=${ELIVEPATCH:-$top/build/elivepatch}
out=${BENCH_OUT:-$top/bench-results.txt}
p=$top/tests/e2e/patches
[ -x "$ELIVEPATCH" ] || { echo "bench: no $ELIVEPATCH (make)" >&2; exit 1; }
e2e_kernel || { echo "bench: no reference kernel" >&2; exit 1; }
ks=$(e2e_kallsyms) || exit 1
e2e_tmpdir || exit 1
t=$E2E_TMP
ELIVEPATCH_CACHE=${BENCH_CACHE:-$t/cache}
export ELIVEPATCH_CACHE
db=$t/catalogue.db
elp() { "$ELIVEPATCH" --db "$db" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
once() { # NAME COMMAND...: run it, keep the best time in ms_NAME
	_n=$1; shift
	_s=$(now_ms)
	"$@" > "$t/$_n.log" 2>&1 || { echo "bench: $_n failed:" >&2; tail -n 5 "$t/$_n.log" >&2; exit 1; }
	_ms=$(($(now_ms) - _s))
	eval "_best=\${ms_$_n:-}"
	[ -n "$_best" ] && [ "$_best" -le "$_ms" ] || eval "ms_$_n=$_ms"
	printf '%-10s %8d ms\n' "$_n" "$_ms" >&2
}
# compared NAME-A COMMAND-A NAME-B COMMAND-B: best of two runs each, in the order A B, then
# B A, so that a load that changes during the run (the machine is shared) favours neither
compared() {
	once "$1" $2
	once "$3" $4
	once "$3" $4
	once "$1" $2
}
add() { # NAME
	elp kernel add --name "$1" --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
		--config "$E2E_CONFIG" --build "$E2E_HEADERS" --symbols "$ks" > "$t/add.log" 2>&1 ||
		{ cat "$t/add.log" >&2; exit 1; }
}
load0=$(cut -d' ' -f1 /proc/loadavg)
add ref
add ref2

# an overlay of 5 fixes, each in its own file
fixes="cmdline-string two-files version-helper filesystems-static module-binfmt-misc"
mkdir -p "$t/ov/livepatches"
n=0
for f in $fixes; do
	n=$((n + 1))
	mkdir "$t/ov/livepatches/$f"
	cp "$p/$f.patch" "$t/ov/livepatches/$f/"
	printf 'summary = bench fix %s\ncve = CVE-2099-900%s\n' "$f" "$n" > "$t/ov/livepatches/$f/fix.conf"
done
git -C "$t/ov" init -q -b main && git -C "$t/ov" add -A &&
	git -C "$t/ov" -c user.name=b -c user.email=b@x commit -qm bench || exit 1
elp overlay add bench "$t/ov" > "$t/ov.log" 2>&1 || { cat "$t/ov.log" >&2; exit 1; }

# warm: the tree and each fix's original objects, for both kernels (ref2 too: otherwise the
# first of all2 / single2 pays its compile and the second does not)
for f in $fixes; do
	elp build --kernel ref --patch "bench:$f" --no-cumulative -q > "$t/warm.log" 2>&1 ||
		{ echo "bench: warm-up build of $f failed" >&2; tail -n 5 "$t/warm.log" >&2; exit 1; }
done
elp build --kernel ref2 --patch bench:cmdline-string --no-cumulative -q > "$t/warm.log" 2>&1 ||
	{ echo "bench: warm-up build for ref2 failed" >&2; tail -n 5 "$t/warm.log" >&2; exit 1; }
cve5() { elp cve --kernel ref --rebuild; }
separate5() {
	for _f in $fixes; do
		elp build --kernel ref --patch "bench:$_f" --no-cumulative --rebuild -q || return 1
	done
}
compared cve5 cve5 separate5 separate5
all2() { elp build --all-kernels --patch bench:cmdline-string --no-cumulative --rebuild -q; }
single2() {
	elp build --kernel ref --patch bench:cmdline-string --no-cumulative --rebuild -q &&
		elp build --kernel ref2 --patch bench:cmdline-string --no-cumulative --rebuild -q
}
compared all2 all2 single2 single2
{
	echo "CVE mode and codestreams (tests/bench/codestream.sh), $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(nproc) CPUs, kernel $E2E_RELEASE, load average $load0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
	printf 'cve, 5 fixes, one cumulative build  %8d ms   vs one at a time %8d ms   (%s)\n' \
		"$ms_cve5" "$ms_separate5" "$(awk -v a="$ms_cve5" -v b="$ms_separate5" 'BEGIN { printf "%.2f", a / b }')"
	printf 'build --all-kernels, 2 kernels      %8d ms   vs two builds    %8d ms   (%s)\n' \
		"$ms_all2" "$ms_single2" "$(awk -v a="$ms_all2" -v b="$ms_single2" 'BEGIN { printf "%.2f", a / b }')"
} | tee -a "$out"
