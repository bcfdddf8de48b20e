#!/bin/sh
# e2e: a build delegated over ssh (a real OpenSSH sshd on 127.0.0.1, tests/sshd.sh) to a
# builder with its own catalogue gives the same module (sha256) as the local build and as a
# second local build in another build dir; the module passes the qemu check; a second host
# (another catalogue) gets the builder's cached result without a build there; a builder killed
# mid-build is reported and the next one answers, with nothing partial recorded.
# Env: as t-build-livepatch.sh.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"
. "$here/../sshd.sh"

e2e_build_setup
sshd_have || { skip "OpenSSH server and client (openssh-server, openssh-client) not installed"; t_done; }

bdb=$t/builder.db
kdb=$t/killed.db
here_db=$db
add_kernel_to() { # DB DESCRIPTION: the reference kernel as "ref" in that catalogue
	db=$1
	check "$2" e2e_add_kernel ref "$ks"
	db=$here_db
}
add_kernel_to "$db" "kernel added here"
# the builder and a builder that will be killed: the same kernel in their own catalogues
add_kernel_to "$bdb" "kernel added on the builder"
add_kernel_to "$kdb" "kernel added on the second builder"
env="ELIVEPATCH_CACHE=$ELIVEPATCH_CACHE ELIVEPATCH_DATADIR=$ELIVEPATCH_DATADIR"
sshd_key "$t/ssh" good "env ELIVEPATCH_DB=$bdb $env $ELIVEPATCH builder serve"
# killed mid-build, at the diff pass, whatever the machine's speed: the fault point kills the
# serving process with SIGKILL (a timer raced a warm build on an idle machine)
sshd_key "$t/ssh" killed "env ELIVEPATCH_DB=$kdb $env ELIVEPATCH_FAULT=build:diff $ELIVEPATCH --fault-injection builder serve"
sshd_start "$t/ssh" || bail "sshd starts on 127.0.0.1"
trap 'sshd_stop; rm -rf "$t"' EXIT
p=$patches/cmdline-string.patch
# a module name of this run: the builders' result cache lives in the shared cache, and an
# earlier run's result must not answer this one's first request
n=elp_remote_$(date +%s)_$$

# --- here, twice in two build dirs --------------------------------------------------------
elp build --kernel ref --patch "$p" --name "$n" -o "$t/local.ko" > "$t/out" 2>&1 || sed 's/^/# /' "$t/out"
check "local build" test -f "$t/local.ko"
elp build --kernel ref --patch "$p" --name "$n" --rebuild -o "$t/again.ko" > "$t/out" 2>&1
check "local build again (--rebuild: another build dir)" test -f "$t/again.ko"
check "...byte-identical" cmp -s "$t/local.ko" "$t/again.ko"
check "...in different build dirs" test "$(q "SELECT count(DISTINCT log_path) FROM builds WHERE status = 'succeeded'")" = 2

# --- on the builder, from another catalogue --------------------------------------------------
c1=$t/client1.db
add_kernel_to "$c1" "kernel added on a client"
t0=$(date +%s)
"$ELIVEPATCH" --db "$c1" build --kernel ref --patch "$p" --name "$n" --builder ssh://good -o "$t/remote.ko" \
	> "$t/out" 2> "$t/err"
check "delegated build succeeds" test $? = 0
sed 's/^/# /' "$t/err"
printf '# delegated build: %s s\n' "$(($(date +%s) - t0))"
check "...prints the module path" test "$(cat "$t/out")" = "$t/remote.ko"
check "...the same module as the local build (sha256)" cmp -s "$t/local.ko" "$t/remote.ko"
row=$(sqlite3 "$c1" "SELECT backend || '|' || builder_host || '|' || status || '|' || artefact_sha256 FROM builds")
check "...recorded here: backend ssh, builder, sha256" \
	test "$row" = "ssh|good|succeeded|$(sha256sum < "$t/remote.ko" | cut -d' ' -f1)"
check "...its module stored here" cmp -s "$(sqlite3 "$c1" "SELECT artefact_path FROM builds")" "$t/remote.ko"
check "...it was built on the builder" test "$(sqlite3 "$bdb" "SELECT count(*) FROM builds WHERE status = 'succeeded'")" = 1
"$ELIVEPATCH" --db "$c1" history > "$t/hist"
check "history: built on the builder with the kernel's compiler" grep -q "succeeded on builder good (.*gcc" "$t/hist"
"$ELIVEPATCH" --db "$c1" build show 1 > "$t/show"
check "build show: where" grep -qE '^host +good$' "$t/show"
check "build show: the functions' passes came along" grep -qE '^  compile-patched ' "$t/show"

# --- a second host: the builder's cache ------------------------------------------------------
c2=$t/client2.db
add_kernel_to "$c2" "kernel added on a second client"
nb=$(sqlite3 "$bdb" "SELECT count(*) FROM builds")
t0=$(date +%s)
"$ELIVEPATCH" -v --db "$c2" build --kernel ref --patch "$p" --name "$n" --builder ssh://good -o "$t/cached.ko" \
	> "$t/out" 2> "$t/err"
check "a second host's identical request succeeds" test $? = 0
printf '# cache hit: %s s\n' "$(($(date +%s) - t0))"
check "...answered from the builder's cache" grep -q "good: cached result" "$t/err"
check "...without a build there" test "$(sqlite3 "$bdb" "SELECT count(*) FROM builds")" = "$nb"
check "...the same module" cmp -s "$t/cached.ko" "$t/local.ko"

# --- cumulative through the builder: the same module as a cumulative build here -------------
# the first livepatch applied on this host (here and on client 1), as 'apply' records it
for d in "$db" "$c1"; do
	sqlite3 "$d" "INSERT INTO events (time, kind, kernel_release, build_id, module, host)
		SELECT 1, 'apply', kernel_release, max(id), module_name, '$(hostname)' FROM builds
		WHERE status = 'succeeded' AND module_name = '$n'"
done
p2=$patches/filesystems-static.patch
elp build --kernel ref --patch "$p2" --name "${n}_c" --cumulative -o "$t/cum-local.ko" > "$t/out" 2>&1 ||
	sed 's/^/# /' "$t/out"
check "cumulative build here" test -f "$t/cum-local.ko"
"$ELIVEPATCH" --db "$c1" build --kernel ref --patch "$p2" --name "${n}_c" --cumulative --builder ssh://good \
	-o "$t/cum-remote.ko" > "$t/out" 2> "$t/err"
check "cumulative build on the builder succeeds" test $? = 0
check "...the same module as the cumulative build here (sha256)" cmp -s "$t/cum-local.ko" "$t/cum-remote.ko"
check "...recorded here as cumulative, carrying the applied patch first" \
	test "$(sqlite3 "$c1" "SELECT b.cumulative || '|' || group_concat(p.name, ',') FROM builds b JOIN build_patches bp ON bp.build_id = b.id JOIN patches p ON p.id = bp.patch_id WHERE b.module_name = '${n}_c' ORDER BY bp.position")" = \
	"1|cmdline-string,filesystems-static"

# --- a builder killed mid-build: the next one answers ---------------------------------------
c3=$t/client3.db
add_kernel_to "$c3" "kernel added on a third client"
"$ELIVEPATCH" --db "$c3" build --kernel ref --patch "$p" --name "${n}_f" \
	--builder ssh://killed --builder ssh://good -o "$t/failover.ko" > "$t/out" 2> "$t/err"
check "killed mid-build, then the next builder: succeeds" test $? = 0
check "...the killed builder is named" grep -q "^warning: builder killed" "$t/err"
check "...and the next one tried" grep -q "^warning: trying the next builder, ssh://good" "$t/err"
check "...the killed builder had started" \
	test "$(sqlite3 "$kdb" "SELECT count(*) FROM builds")" -ge 1
check "...one build recorded here, from the builder that answered" \
	test "$(sqlite3 "$c3" "SELECT group_concat(builder_host || ':' || status) FROM builds")" = "good:succeeded"

# --- the delegated module in the guest -------------------------------------------------------
cat > "$t/init.sh" << EOF
e2e_result before "\$(cat /proc/cmdline)"
insmod /root/remote.ko
e2e_result insmod \$?
e2e_lp_wait $n 30
e2e_result patched "\$(cat /proc/cmdline)"
echo 0 > /sys/kernel/livepatch/$n/enabled
e2e_lp_wait $n 30
e2e_result unpatched "\$(cat /proc/cmdline)"
rmmod $n
e2e_result rmmod \$?
EOF
check "initramfs with the delegated module" e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/remote.ko"
check "the reference kernel boots and runs the check" e2e_boot "$t/initrd.gz" "$t/boot.log" 180
log=$t/boot.log
cmdline="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"
e2e_check_result "delegated module loads" "$log" insmod 0
e2e_check_result "before" "$log" before "$cmdline"
e2e_check_result "patched" "$log" patched "elivepatch-test-cmdline"
e2e_check_result "disabled, the old behaviour is back" "$log" unpatched "$cmdline"
e2e_check_result "unloads" "$log" rmmod 0
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"

sshd_stop
t_done
