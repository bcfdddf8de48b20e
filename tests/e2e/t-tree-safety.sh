#!/bin/sh
# e2e: the prepared-tree cache under failure (issue 14's tree parts), with a cache of its own
# on a tmpfs:
#  - disk full while the tree is prepared: a clear error, the build recorded failed, no
#    tree left behind; with room, the next build prepares it and succeeds
#  - kill -9 while the tree is prepared (during make modules_prepare): the next build waits
#    for what the killed one left running, prepares the tree again and succeeds
#  - kill -9 while a patch is applied to the tree: the next build restores the tree first
#  - two builds of different patches at once: one waits for the other, each module has its
#    own patch's functions only, and the tree is pristine afterwards
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
[ "$(id -u)" = 0 ] || { skip "a tmpfs cache needs root"; t_done; }
ELIVEPATCH_CACHE=$t/cache
export ELIVEPATCH_CACHE
mkdir -p "$ELIVEPATCH_CACHE"
mount -t tmpfs -o size=48m elp-test "$ELIVEPATCH_CACHE" || bail "mount a tmpfs cache"
trap 'umount "$ELIVEPATCH_CACHE" 2> /dev/null; rm -rf "$E2E_TMP"' EXIT

check "kernel add $E2E_RELEASE (tarball source)" e2e_add_kernel "$E2E_RELEASE" "$ks"
pristine=$(e2e_source_file fs/proc/cmdline.c fs/proc/version.c) || bail "pristine files"
status_of() { q "SELECT status || ':' || coalesce(reason, '') FROM builds WHERE module_name = '$1' ORDER BY id DESC LIMIT 1"; }
build_log() { q "SELECT log_path FROM builds WHERE module_name = '$1' ORDER BY id DESC LIMIT 1"; }
# build NAME PATCH [ARGS...]
build() {
	_n=$1 _p=$2; shift 2
	elp build --kernel "$E2E_RELEASE" --patch "$patches/$_p.patch" --name "$_n" --no-cumulative \
		-o "$t/$_n.ko" "$@" > "$t/$_n.out" 2> "$t/$_n.err"
}
trees() { find "$ELIVEPATCH_CACHE/trees" -mindepth 1 -maxdepth 1 -type d 2> /dev/null | wc -l; }
# wait_for PATH-GLOB SECONDS: until a file matching it exists
wait_for() {
	_n=$(($2 * 10))
	while [ "$_n" -gt 0 ]; do
		# shellcheck disable=SC2086 # the glob is wanted
		ls $1 > /dev/null 2>&1 && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# ---- disk full while the tree is prepared ----
build elp_full cmdline-string
rc=$?
check "a build with no room for the tree fails" [ "$rc" != 0 ]
check "...saying why" grep -q 'No space left on device' "$t/elp_full.err"
sed 's/^/# /' "$t/elp_full.err" | head -n 3
st=$(status_of elp_full)
case $st in
"failed:"*"No space left on device"*) ok "...recorded as failed, with the reason" ;;
*) not_ok "...recorded as failed, with the reason (got: $st)" ;;
esac
check "...and no tree is left behind" [ "$(trees)" = 0 ]

mount -o remount,size=4g "$ELIVEPATCH_CACHE" || bail "grow the tmpfs"

# ---- kill -9 while the tree is prepared ----
# (the binary itself in the background, so that $! is its pid)
"$ELIVEPATCH" --db "$db" build --kernel "$E2E_RELEASE" --patch "$patches/cmdline-string.patch" \
	--name elp_killed --no-cumulative > /dev/null 2>&1 &
pid=$!
# olddefconfig wrote .config: make modules_prepare is next, or running
if wait_for "$ELIVEPATCH_CACHE/trees/*/linux/include/config/auto.conf" 900; then
	kill -9 "$pid"
	wait "$pid" 2> /dev/null
	ok "a build killed (kill -9) while its tree is prepared"
else
	kill -9 "$pid" 2> /dev/null
	not_ok "a build killed (kill -9) while its tree is prepared: the tree never got a config"
fi
root=$(ls -d "$ELIVEPATCH_CACHE"/trees/*/ 2> /dev/null | head -n1)
root=${root%/}
check "...left its tree unmarked (not prepared)" test ! -e "$root/prepared"
check "the next build succeeds" build elp_after_kill cmdline-string
check "...preparing the tree again" grep -q '\[tree\] preparing' "$(build_log elp_after_kill)"
check "...which is then marked prepared" test -f "$root/prepared"
check "...and the killed build is recorded interrupted" [ "$(status_of elp_killed)" = "failed:interrupted" ]
check "...and the module is a livepatch" [ "$(modinfo -F livepatch "$t/elp_after_kill.ko")" = Y ]

# ---- kill -9 while a patch is applied to the tree ----
"$ELIVEPATCH" --db "$db" build --kernel "$E2E_RELEASE" --patch "$patches/version-helper.patch" \
	--name elp_killed2 --no-cumulative --rebuild > /dev/null 2>&1 &
pid=$!
if wait_for "$root/journal/manifest" 600; then
	kill -9 "$pid"
	wait "$pid" 2> /dev/null
	ok "a build killed (kill -9) with its patch applied to the tree"
else
	kill -9 "$pid" 2> /dev/null
	not_ok "a build killed (kill -9) with its patch applied to the tree: no journal seen"
fi
check "the next build succeeds" build elp_after_kill2 cmdline-string --rebuild
check "...restoring the tree first" grep -q 'restoring the prepared tree after an interrupted build' "$t/elp_after_kill2.err"
tree=$root/linux
for f in $pristine; do
	rel=${f#"$E2E_DIR/src/"}
	check "...$rel is as in the tarball" cmp -s "$f" "$tree/$rel"
done
check "...no journal is left" test ! -e "$root/journal"

# ---- two builds of different patches at once ----
elp --json build --kernel "$E2E_RELEASE" --patch "$patches/cmdline-string.patch" --name elp_con_a \
	--no-cumulative --rebuild > "$t/con_a.json" 2> "$t/con_a.err" &
pa=$!
elp --json build --kernel "$E2E_RELEASE" --patch "$patches/version-helper.patch" --name elp_con_b \
	--no-cumulative --rebuild > "$t/con_b.json" 2> "$t/con_b.err" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
check "two builds at once: the first succeeds" [ "$ra" = 0 ]
check "...the second succeeds" [ "$rb" = 0 ]
check "...one of them waited for the other's use of the tree" \
	sh -c "grep -h 'waiting for another build' '$(build_log elp_con_a)' '$(build_log elp_con_b)' | grep -q ."
funcs() { grep -o '"function":"[a-z_]*"' "$1" | tr '\n' ' '; }
check "...each module has its own patch's function only (a)" [ "$(funcs "$t/con_a.json")" = '"function":"cmdline_proc_show" ' ]
check "...(b)" [ "$(funcs "$t/con_b.json")" = '"function":"version_proc_show" ' ]
for f in $pristine; do
	rel=${f#"$E2E_DIR/src/"}
	check "...and $rel is as in the tarball afterwards" cmp -s "$f" "$tree/$rel"
done
check "the catalogue is intact" [ "$(q 'PRAGMA integrity_check')" = ok ]
t_done
