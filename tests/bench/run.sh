#!/bin/sh
# make bench: how long `elivepatch build` takes for contrib/examples/cmdline.patch on the
# reference kernel (tests/e2e/fetch-kernel.sh):
#   cold       empty cache: unpack, olddefconfig, modules_prepare, compile both sides, link;
#              with the tree's extraction time and, for comparison, the whole tarball
#              extracted with one xz thread (as the tree stage did before) and with xz -T0
#   warm       prepared tree and cached original object: compile the patched side, link
#   identical  same inputs again: answered from the catalogue (limit 500 ms)
#   patched    what a warm build must compile, by hand: the patched side alone (the original
#              object is cached), in the prepared tree with elivepatch's make command line
#   raw        the limit: the command kbuild recorded for that object (its .o.cmd line:
#              gcc + objtool) run directly, patched side
#   link       the module link (make M=... modules of the build's module dir) by hand
# (compiles best of two), and the ratios, measured in the same run:
#   warm / (patched + link)   the headline: elivepatch's overhead over kbuild doing the same work
#   warm / (raw + link)       against the bare compiler and linker
# then the same for a two-file patch and a module (binfmt_misc) patch, and a build delegated
# over ssh (a real sshd on 127.0.0.1, tests/sshd.sh) to a builder sharing the warm cache:
#   delegated  the build on the builder, from another catalogue (ratio to warm; target <= 1.2)
#   cache hit  the same request from a third catalogue, answered from the builder's result
#              cache (target <= 1 s)
# Results go to bench-results.txt (BENCH_OUT overrides). Last, the Portage hook for an
# unrelated package, then tests/bench/codestream.sh times CVE mode and codestreams (see there).
# BENCH_CACHE=DIR uses (and keeps) that cache instead of a fresh one; the cold number is then
# only cold if DIR is empty. BENCH_BEFORE=BINARY also times a cold build by that binary (one
# built from an older commit) in a cache of its own, for a before/after of the cold build.
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
# raw_objs OBJ...: each object's command as kbuild recorded it (.OBJ.cmd), run by make
# without kbuild: the compiler and objtool, nothing else
raw_objs() {
	for _o in "$@"; do
		_cmdf=$tree/$(dirname "$_o")/.$(basename "$_o").cmd
		[ -f "$_cmdf" ] || { echo "no $_cmdf" >&2; return 1; }
		# the programs it runs, for the report: "gcc ./tools/objtool/objtool"
		raw_progs=$(sed -n 's/^\(saved\)\{0,1\}cmd_[^ ]* := //p' "$_cmdf" | tr ';' '\n' |
			awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')
		printf 'include %s\nraw: ; $(or $(savedcmd_%s),$(cmd_%s))\n' "$_cmdf" "$_o" "$_o" > "$t/raw.mk"
		make -s -C "$tree" -f "$t/raw.mk" raw || return 1
	done
}
# side_compile NAME PATCH OBJ...: the patched side alone, with elivepatch's make line and
# then with kbuild's recorded commands, twice each; the best of each in ms_NAME_patched and
# ms_NAME_raw
side_compile() {
	_n=$1 _p=$2; shift 2
	patch -s -p1 -d "$tree" < "$_p" || return 1
	_bm= _br= _rc=0
	for _i in 1 2; do
		for _o in "$@"; do rm -f "$tree/$_o"; touch "$tree/${_o%.o}.c"; done
		_s=$(now_ms)
		make_objs "$@" > "$t/$_n.make.log" 2>&1 || { _rc=1; tail -n 5 "$t/$_n.make.log" >&2; break; }
		_m=$(($(now_ms) - _s))
		for _o in "$@"; do rm -f "$tree/$_o"; done
		_s=$(now_ms)
		raw_objs "$@" > "$t/$_n.raw.log" 2>&1 || { _rc=1; tail -n 5 "$t/$_n.raw.log" >&2; break; }
		_r=$(($(now_ms) - _s))
		for _o in "$@"; do [ -s "$tree/$_o" ] || { echo "bench: raw compile made no $_o" >&2; _rc=1; }; done
		{ [ -z "$_bm" ] || [ "$_m" -lt "$_bm" ]; } && _bm=$_m
		{ [ -z "$_br" ] || [ "$_r" -lt "$_br" ]; } && _br=$_r
	done
	patch -s -R -p1 -d "$tree" < "$_p" || return 1
	for _o in "$@"; do rm -f "$tree/$_o"; done
	[ "$_rc" = 0 ] || { echo "bench: $_n: compiling by hand failed" >&2; exit 1; }
	eval "ms_${_n}_patched=$_bm ms_${_n}_raw=$_br"
	printf '%-10s %8d ms patched side, %d ms raw command\n' "$_n" "$_bm" "$_br" >&2
}
# bare_link DIR: kbuild's module link of a finished build's module dir, redone by hand
bare_link() {
	rm -rf "$t/link" && mkdir "$t/link" &&
		cp "$1"/main.c "$1"/Kbuild "$1"/unit*.o "$t/link"/ &&
		cp "$1"/.unit*.o.cmd "$t/link"/ &&
		make -C "$E2E_HEADERS" -j"$(nproc)" CC="$cc" M="$t/link" KBUILD_MODPOST_WARN=1 modules
}
ratio() { awk -v w="$1" -v c="$2" -v l="$3" 'BEGIN { printf "%.2f", w / (c + l) }'; }
stages() {
	sqlite3 "$db" "SELECT group_concat(stage || '=' || duration_ms, ' ') FROM build_stages WHERE build_id = (SELECT max(id) FROM builds)"
}
workdir() { dirname "$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")"; }

# case NAME PATCH OBJ...: warm build, the patched side and the raw command by hand, the
# link, ratios (one line each)
report=
bench_case() {
	_c=$1 _cp=$2; shift 2
	timed "${_c}_first" elp build --kernel "$E2E_RELEASE" --patch "$_cp" -q --no-cumulative
	timed "${_c}_warm" elp build --kernel "$E2E_RELEASE" --patch "$_cp" -q --no-cumulative --rebuild
	_st=$(stages)
	_wd=$(workdir)
	side_compile "$_c" "$_cp" "$@"
	timed "${_c}_link" bare_link "$_wd/module"
	eval "_w=\$ms_${_c}_warm _pc=\$ms_${_c}_patched _rw=\$ms_${_c}_raw _l=\$ms_${_c}_link"
	report="$report$(printf '%-10s warm %6d ms  patched side %6d ms  raw %6d ms  link %5d ms  warm/(patched+link) %s  warm/(raw+link) %s\n   (%s)' \
		"$_c" "$_w" "$_pc" "$_rw" "$_l" "$(ratio "$_w" "$_pc" "$_l")" "$(ratio "$_w" "$_rw" "$_l")" "$_st")
"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
timed cold elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/cold.ko" -q
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cold_limit=ok
[ "$ms_cold" -le 30000 ] || cold_limit=OVER
cold_stages=$(stages)
cold_log=$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")
# what the tree stage extracted: "[tree] extracted N of the M files of '...' in X ms"
cold_extract=$(sed -n "s/.*\[tree\] extracted \([0-9]*\) of the \([0-9]*\) files of .* in \([0-9]*\) ms$/\3 \1 \2/p" "$cold_log")
# shellcheck disable=SC2086 # three words
set -- $cold_extract
ms_extract=${1:-0} extract_files=${2:-?} tarball_files=${3:-?}
# before issue 8, the tree stage extracted the whole tarball with one xz thread
# (libarchive's own xz filter): the same done by tar, and with xz on every CPU
mkdir -p "$t/whole1" "$t/wholeN"
timed whole_1 sh -c "xz -dc -T1 '$E2E_SOURCE_TARBALL' | tar -xf - -C '$t/whole1'"
timed whole_n sh -c "xz -dc -T0 '$E2E_SOURCE_TARBALL' | tar -xf - -C '$t/wholeN'"
rm -rf "$t/whole1" "$t/wholeN"
before=
if [ -n "${BENCH_BEFORE:-}" ]; then
	# a cold build by another binary (e.g. one built from the commit before), own cache
	ELIVEPATCH_CACHE=$t/cache-before timed before "$BENCH_BEFORE" --db "$t/before.db" kernel add \
		--release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" --config "$E2E_CONFIG" \
		--build "$E2E_HEADERS" --symbols "$ks"
	ELIVEPATCH_CACHE=$t/cache-before timed before "$BENCH_BEFORE" --db "$t/before.db" build \
		--kernel "$E2E_RELEASE" --patch "$patch" -o "$t/before.ko" -q
	before=$ms_before
	rm -rf "$t/cache-before"
fi
timed warm elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/warm.ko" -q --rebuild
stages=$(stages)
timed identical elp build --kernel "$E2E_RELEASE" --patch "$patch" -o "$t/same.ko" -q
cmp -s "$t/same.ko" "$t/warm.ko" || { echo "bench: the identical build gave another module" >&2; exit 1; }
identical_limit=ok
[ "$ms_identical" -lt 500 ] || identical_limit=OVER

# --- delegated over ssh: the same cache, so the builder's tree is as warm as ours
. "$top/tests/sshd.sh"
add_to() { "$ELIVEPATCH" --db "$1" kernel add --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
	--config "$E2E_CONFIG" --build "$E2E_HEADERS" --symbols "$ks" > "$t/add.log" 2>&1 ||
	{ cat "$t/add.log" >&2; exit 1; }; }
remote_report="delegated build: not measured (no OpenSSH server here)"
if sshd_have; then
	for _d in builder client1 client2; do add_to "$t/$_d.db"; done
	sshd_key "$t/ssh" bench "env ELIVEPATCH_DB=$t/builder.db ELIVEPATCH_CACHE=$ELIVEPATCH_CACHE $ELIVEPATCH builder serve"
	sshd_start "$t/ssh" || { echo "bench: sshd does not start" >&2; exit 1; }
	timed delegated "$ELIVEPATCH" --db "$t/client1.db" build --kernel "$E2E_RELEASE" --patch "$patch" \
		-o "$t/remote.ko" -q --builder ssh://bench
	timed cache_hit "$ELIVEPATCH" --db "$t/client2.db" build --kernel "$E2E_RELEASE" --patch "$patch" \
		-o "$t/cached.ko" -q --builder ssh://bench
	sshd_stop
	same=no
	cmp -s "$t/remote.ko" "$t/warm.ko" && cmp -s "$t/cached.ko" "$t/warm.ko" && same=yes
	remote_report=$(printf 'delegated build  %8d ms   (over ssh to 127.0.0.1, warm builder; delegated / warm %s, target <= 1.2; same module: %s)\ncache hit        %8d ms   (another catalogue, the builder'"'"'s result cache; target <= 1000 ms)' \
		"$ms_delegated" "$(awk -v a="$ms_delegated" -v b="$ms_warm" 'BEGIN { printf "%.2f", a / b }')" \
		"$same" "$ms_cache_hit")
fi

log=$(sqlite3 "$db" "SELECT log_path FROM builds WHERE id = (SELECT max(id) FROM builds)")
# the tree that build used, as its log shows ("$ make -C TREE ..."), not any tree in the cache
tree=$(sed -n 's/^\$ make -C \([^ ]*\) .*/\1/p' "$log" | head -n1)
[ -d "$tree" ] || { echo "bench: no prepared tree named in $log" >&2; exit 1; }
cc=$(grep -o ' CC=[^ ]*' "$log" | head -n1 | cut -d= -f2)
cc=${cc:-gcc}
side_compile cmdline "$patch" fs/proc/cmdline.o
raw_cmdline=$raw_progs
timed link bare_link "$(dirname "$log")/module"
ratio_a=$(ratio "$ms_warm" "$ms_cmdline_patched" "$ms_link")
ratio_b=$(ratio "$ms_warm" "$ms_cmdline_raw" "$ms_link")

bench_case two_files "$top/tests/e2e/patches/two-files.patch" fs/proc/loadavg.o fs/proc/uptime.o
bench_case module "$top/tests/e2e/patches/module-binfmt-misc.patch" fs/binfmt_misc.o

# the Portage hook for a package that is not a kernel: sourced and run as emerge does, 20 times
hook_total=0
for i in $(seq 20); do
	t0=$(date +%s%N)
	env CATEGORY=dev-libs PN=openssl PV=3.1.4 PVR=3.1.4 P=openssl-3.1.4 EBUILD_PHASE=postinst \
		ELIVEPATCH_BIN=/bin/false bash --posix -u -c '. "$0"; post_pkg_postinst' \
		"$top/hooks/portage-bashrc" > /dev/null 2>&1
	hook_total=$((hook_total + $(date +%s%N) - t0))
done
us_hook=$((hook_total / 20000))
hook_limit=ok
[ "$us_hook" -lt 50000 ] || hook_limit=OVER

{
	echo "elivepatch bench, $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(nproc) CPUs, kernel $E2E_RELEASE"
	echo "patch: contrib/examples/cmdline.patch (fs/proc/cmdline.c)"
	printf 'cold build       %8d ms   (target <= 30 s on 2 CPUs: %s; load average %s before, %s after)\n   (%s)\n' \
		"$ms_cold" "$cold_limit" "$load_before" "$load_after" "$cold_stages"
	printf '  tree extraction %7d ms   (%s of the tarball'"'"'s %s files, xz on %s CPUs; the rest on demand)\n' \
		"$ms_extract" "$extract_files" "$tarball_files" "$(nproc)"
	printf '  whole tarball   %7d ms   (xz -T1 | tar -x: what the tree stage did before, issue 8)\n' "$ms_whole_1"
	printf '  whole, xz -T0   %7d ms   (xz -T0 | tar -x)\n' "$ms_whole_n"
	printf '  cold, whole one-thread extraction instead %7d ms   (cold - extraction + whole tarball)\n' \
		"$((ms_cold - ms_extract + ms_whole_1))"
	[ -z "$before" ] || printf '  cold build by %s %7d ms   (BENCH_BEFORE)\n' "$BENCH_BEFORE" "$before"
	printf 'warm build       %8d ms   (%s)\n' "$ms_warm" "$stages"
	printf 'identical build  %8d ms   (limit 500 ms: %s)\n' "$ms_identical" "$identical_limit"
	printf '%s\n' "$remote_report"
	printf 'patched side     %8d ms   (fs/proc/cmdline.o alone, by hand, same make line; best of 2)\n' "$ms_cmdline_patched"
	printf 'raw command      %8d ms   (its .o.cmd line run directly: %s; best of 2)\n' "$ms_cmdline_raw" "$raw_cmdline"
	printf 'module link      %8d ms   (make M=... modules of the build'"'"'s module dir)\n' "$ms_link"
	printf 'headline: warm / (patched side + link)   %s   (target <= 2.0)\n' "$ratio_a"
	printf 'warm / (raw command + link)              %s   (against the compiler and linker alone)\n' "$ratio_b"
	printf '%s' "$report"
	printf 'portage hook     %8d us   (post_pkg_postinst of dev-libs/openssl incl. bash start, mean of 20; limit 50 ms: %s)\n' "$us_hook" "$hook_limit"
} > "$out"
cat "$out"
# CVE mode and codestreams, in the same (warm) cache
BENCH_OUT=$out BENCH_CACHE=$ELIVEPATCH_CACHE ELIVEPATCH=$ELIVEPATCH sh "$top/tests/bench/codestream.sh" ||
	{ echo "bench: the CVE and codestream part failed" >&2; exit 1; }
[ "$identical_limit" = ok ] || { echo "bench: the identical build took ${ms_identical} ms (limit 500 ms)" >&2; exit 1; }
