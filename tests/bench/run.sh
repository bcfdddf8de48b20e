#!/bin/sh
# make bench: how long `elivepatch build` takes for contrib/examples/cmdline.patch on the
# reference kernel (tests/e2e/fetch-kernel.sh):
#   cold       empty cache: unpack, olddefconfig, modules_prepare, compile both sides, link
#   warm       prepared tree and cached original object: compile the patched side, link
#   identical  same inputs again: answered from the catalogue
#   bare       `make fs/proc/cmdline.o` in the prepared tree after touching the file, twice
# and the ratio warm / bare. Results go to bench-results.txt (BENCH_OUT overrides).
# BENCH_CACHE=DIR uses (and keeps) that cache instead of a fresh one; the cold number is then
# only cold if DIR is empty.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
E2E_LIB_DIR=$top/tests/e2e
. "$top/tests/e2e/lib.sh"

ELIVEPATCH=${ELIVEPATCH:-$top/elivepatch}
out=${BENCH_OUT:-$top/bench-results.txt}
patch=$top/contrib/examples/cmdline.patch
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

elp kernel add --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" --config "$E2E_CONFIG" \
	--build "$E2E_HEADERS" --symbols "$ks" > "$t/add.log" 2>&1 || { cat "$t/add.log" >&2; exit 1; }

# timed NAME COMMAND...: run, print and remember the wall time in ms
timed() {
	_n=$1; shift
	_s=$(now_ms)
	"$@" > "$t/$_n.log" 2>&1 || { echo "bench: $_n failed:" >&2; tail -n 5 "$t/$_n.log" >&2; exit 1; }
	eval "ms_$_n=$(($(now_ms) - _s))"
	printf '%-10s %8d ms\n' "$_n" "$(($(now_ms) - _s))" >&2
}

timed cold elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/cold.ko" -q
timed warm elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/warm.ko" -q --rebuild
timed identical elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/same.ko" -q
stages=$(sqlite3 "$db" "SELECT group_concat(stage || '=' || duration_ms, ' ') FROM build_stages WHERE build_id = (SELECT max(id) FROM builds)")

tree=$(ls -d "$ELIVEPATCH_CACHE"/trees/*/linux | head -n1)
# the same make command line as elivepatch's, or kbuild redoes its prepare steps
log=$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")
cc=$(grep -o ' CC=[^ ]*' "$log" | head -n1 | cut -d= -f2)
cc=${cc:-gcc}
bare() {
	touch "$tree/fs/proc/cmdline.c"
	make -C "$tree" -j"$(nproc)" CC="$cc" KCFLAGS='-ffunction-sections -fdata-sections' fs/proc/cmdline.o
}
timed bare1 bare
timed bare2 bare
bare_ms=$ms_bare1
[ "$ms_bare2" -lt "$bare_ms" ] && bare_ms=$ms_bare2
ratio=$(awk -v w="$ms_warm" -v b="$bare_ms" 'BEGIN { printf "%.2f", w / b }')

{
	echo "elivepatch bench, $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(nproc) CPUs, kernel $E2E_RELEASE"
	echo "patch: contrib/examples/cmdline.patch (fs/proc/cmdline.c)"
	printf 'cold build       %8d ms\n' "$ms_cold"
	printf 'warm build       %8d ms   (%s)\n' "$ms_warm" "$stages"
	printf 'identical build  %8d ms\n' "$ms_identical"
	printf 'bare compile     %8d ms, %d ms\n' "$ms_bare1" "$ms_bare2"
	printf 'warm / bare      %8s   (best bare compile)\n' "$ratio"
} > "$out"
cat "$out"
