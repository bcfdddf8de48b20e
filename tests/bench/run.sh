#!/bin/sh
# make bench: how long `elivepatch build` takes for contrib/examples/cmdline.patch on the
# reference kernel (tests/e2e/fetch-kernel.sh):
#   cold       empty cache: unpack, olddefconfig, modules_prepare, compile both sides, link
#   warm       prepared tree and cached original object: compile the patched side, link
#   identical  same inputs again: answered from the catalogue
#   bare       the changed file compiled by hand in the prepared tree with elivepatch's make
#              command line, original then patched (twice; the best is used), and the
#              module link (make M=... modules of the build's module dir) by hand
# and the ratios warm / (bare compile + link) and warm / (one side + link); then the same
# for a two-file patch and a module (binfmt_misc) patch. Results go to bench-results.txt (BENCH_OUT overrides).
# BENCH_CACHE=DIR uses (and keeps) that cache instead of a fresh one; the cold number is then
# only cold if DIR is empty.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
E2E_LIB_DIR=$top/tests/e2e
. "$top/tests/e2e/lib.sh"

ELIVEPATCH=${ELIVEPATCH:-$top/build/elivepatch}
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

# the same make command line as elivepatch's, or kbuild redoes its prepare steps
make_objs() { make -C "$tree" -j"$(nproc)" CC="$cc" KCFLAGS='-ffunction-sections -fdata-sections' "$@"; }
# bare_compile PATCH OBJ...: the objects compiled by hand, original then patched
bare_compile() {
	_p=$1; shift
	for _o in "$@"; do touch "$tree/${_o%.o}.c"; done
	make_objs "$@" || return 1
	patch -s -p1 -d "$tree" < "$_p" || return 1
	make_objs "$@"; _rc=$?
	patch -s -R -p1 -d "$tree" < "$_p" || return 1
	for _o in "$@"; do rm -f "$tree/$_o"; done
	return $_rc
}
# bare_link DIR: kbuild's module link of a finished build's module dir, redone by hand
bare_link() {
	rm -rf "$t/link" && mkdir "$t/link" &&
		cp "$1"/main.c "$1"/Kbuild "$1"/unit*.o "$t/link"/ &&
		cp "$1"/.unit*.o.cmd "$t/link"/ &&
		make -C "$E2E_HEADERS" -j"$(nproc)" CC="$cc" M="$t/link" KBUILD_MODPOST_WARN=1 modules
}
stages() {
	sqlite3 "$db" "SELECT group_concat(stage || '=' || duration_ms, ' ') FROM build_stages WHERE build_id = (SELECT max(id) FROM builds)"
}
workdir() { dirname "$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")"; }

# case NAME PATCH OBJ...: warm build, bare compiles and link, ratios (one line each)
report=
bench_case() {
	_c=$1 _cp=$2; shift 2
	timed "${_c}_first" elp build --kernel "$E2E_RELEASE" --patch "$_cp" -q --no-cumulative
	timed "${_c}_warm" elp build --kernel "$E2E_RELEASE" --patch "$_cp" -q --no-cumulative --rebuild
	_st=$(stages)
	_wd=$(workdir)
	timed "${_c}_bare" bare_compile "$_cp" "$@"
	timed "${_c}_bare2" bare_compile "$_cp" "$@"
	timed "${_c}_link" bare_link "$_wd/module"
	eval "_w=\$ms_${_c}_warm _b1=\$ms_${_c}_bare _b2=\$ms_${_c}_bare2 _l=\$ms_${_c}_link"
	[ "$_b2" -lt "$_b1" ] && _b1=$_b2
	# bare = both sides compiled (what a from-scratch build must do) + the link;
	# one side = the patched compile only (the original is cached) + the link
	_r=$(awk -v w="$_w" -v b="$_b1" -v l="$_l" 'BEGIN { printf "%.2f", w / (b + l) }')
	_r1=$(awk -v w="$_w" -v b="$_b1" -v l="$_l" 'BEGIN { printf "%.2f", w / (b / 2 + l) }')
	report="$report$(printf '%-10s warm %6d ms  bare compile x2 %6d ms  link %5d ms  warm/(bare+link) %s  warm/(one side+link) %s\n   (%s)' \
		"$_c" "$_w" "$_b1" "$_l" "$_r" "$_r1" "$_st")
"
}

timed cold elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/cold.ko" -q
timed warm elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/warm.ko" -q --rebuild
stages=$(stages)
timed identical elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/same.ko" -q

tree=$(ls -d "$ELIVEPATCH_CACHE"/trees/*/linux | head -n1)
log=$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")
cc=$(grep -o ' CC=[^ ]*' "$log" | head -n1 | cut -d= -f2)
cc=${cc:-gcc}
timed bare1 bare_compile "$patch" fs/proc/cmdline.o
timed bare2 bare_compile "$patch" fs/proc/cmdline.o
timed link bare_link "$(dirname "$log")/module"
bare_ms=$ms_bare1
[ "$ms_bare2" -lt "$bare_ms" ] && bare_ms=$ms_bare2
ratio=$(awk -v w="$ms_warm" -v b="$bare_ms" -v l="$ms_link" 'BEGIN { printf "%.2f", w / (b + l) }')
ratio1=$(awk -v w="$ms_warm" -v b="$bare_ms" -v l="$ms_link" 'BEGIN { printf "%.2f", w / (b / 2 + l) }')
ratio_c=$(awk -v w="$ms_warm" -v b="$bare_ms" 'BEGIN { printf "%.2f", w / (b / 2) }')

bench_case two_files "$top/tests/e2e/patches/two-files.patch" fs/proc/loadavg.o fs/proc/uptime.o
bench_case module "$top/tests/e2e/patches/module-binfmt-misc.patch" fs/binfmt_misc.o

{
	echo "elivepatch bench, $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(nproc) CPUs, kernel $E2E_RELEASE"
	echo "patch: contrib/examples/cmdline.patch (fs/proc/cmdline.c)"
	printf 'cold build       %8d ms\n' "$ms_cold"
	printf 'warm build       %8d ms   (%s)\n' "$ms_warm" "$stages"
	printf 'identical build  %8d ms\n' "$ms_identical"
	printf 'bare compile     %8d ms, %d ms   (original + patched, by hand, same make line; best used)\n' "$ms_bare1" "$ms_bare2"
	printf 'bare link        %8d ms   (make M=... modules of the build'"'"'s module dir)\n' "$ms_link"
	printf 'warm / (bare compile + link)        %s   (target <= 2.0)\n' "$ratio"
	printf 'warm / (one-side compile + link)    %s   (the original object is cached)\n' "$ratio1"
	printf 'warm / one-side compile             %s\n' "$ratio_c"
	printf '%s' "$report"
} > "$out"
cat "$out"
