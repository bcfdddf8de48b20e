#!/bin/sh
# e2e: a builder without the kernel (an empty catalogue, over a real sshd on 127.0.0.1,
# tests/sshd.sh) refuses the build saying to send the source; with --send-source the client
# sends the reference kernel's source tarball, the builder keeps it (content-addressed),
# registers the kernel with the client's inputs, prepares its tree and builds; the module is
# recorded here and passes the qemu check; a second client's build sends no source.
# Env: as t-build-livepatch.sh.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"
. "$here/../sshd.sh"

e2e_build_setup
sshd_have || { skip "OpenSSH server and client (openssh-server, openssh-client) not installed"; t_done; }
check "kernel added here" e2e_add_kernel ref "$ks"
c2=$t/client2.db
here_db=$db
db=$c2
check "kernel added on a second client" e2e_add_kernel ref "$ks"
db=$here_db
bdb=$t/builder.db
# the builder's own cache: it has no tree for this kernel
bcache=$t/bcache
sshd_key "$t/ssh" fresh "env ELIVEPATCH_DB=$bdb ELIVEPATCH_CACHE=$bcache ELIVEPATCH_DATADIR=$ELIVEPATCH_DATADIR $ELIVEPATCH builder serve"
sshd_start "$t/ssh" || bail "sshd starts on 127.0.0.1"
trap 'sshd_stop; rm -rf "$t"' EXIT
p=$patches/cmdline-string.patch
n=elp_src_$$

elp build --kernel ref --patch "$p" --name "$n" --builder ssh://fresh > "$t/out" 2> "$t/err"
check "without --send-source: the builder cannot build it (exit 1)" test $? = 1
check "...saying to pass --send-source" grep -q "^warning: builder fresh cannot build it: .*--send-source" "$t/err"
check "...nothing recorded" test "$(q "SELECT count(*) FROM builds")" = 0

t0=$(date +%s)
elp -v build --kernel ref --patch "$p" --name "$n" --builder ssh://fresh --send-source -o "$t/sent.ko" \
	> "$t/out" 2> "$t/err"
check "--send-source: the build succeeds" test $? = 0 || tail -n 20 "$t/err" | sed 's/^/# /'
printf '# build with the source sent (cold tree on the builder): %s s\n' "$(($(date +%s) - t0))"
src=$(q "SELECT source FROM kernels WHERE name = 'ref'")
size=$(stat -Lc %s "$src")
check "...the tarball was sent, saying how much" \
	grep -q "sending the source of kernel 'ref' ($src, $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB), [0-9.]* MiB with the request" "$t/err"
sha=$(sha256sum < "$src" | cut -d' ' -f1)
check "...kept on the builder under its sha256" \
	test "$(stat -c %s "$bcache/remote/sources/$sha/$(basename "$src")")" = "$size"
check "...the kernel registered there" test "$(sqlite3 "$bdb" "SELECT count(*) FROM kernels")" = 1
check "...recorded here" test "$(q "SELECT backend || '|' || builder_host || '|' || status FROM builds")" = "ssh|fresh|succeeded"
check "...the module linked in the builder's prepared tree" grep -q "fresh: .*linking in its prepared tree" "$t/err"

"$ELIVEPATCH" -v --db "$c2" build --kernel ref --patch "$p" --name "$n" --builder ssh://fresh --send-source \
	--rebuild -o "$t/again.ko" > "$t/out" 2> "$t/err2"
check "a second client's build succeeds" test $? = 0
check "...without sending the source" sh -c '! grep -q "sending the source" "$1"' - "$t/err2"
check "...the same module" cmp -s "$t/sent.ko" "$t/again.ko"

cat > "$t/init.sh" << EOF2
insmod /root/sent.ko
e2e_result insmod \$?
e2e_lp_wait $n 30
e2e_result patched "\$(cat /proc/cmdline)"
echo 0 > /sys/kernel/livepatch/$n/enabled
e2e_lp_wait $n 30
rmmod $n
e2e_result rmmod \$?
EOF2
check "initramfs with the module" e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/sent.ko"
check "the reference kernel boots and runs the check" e2e_boot "$t/initrd.gz" "$t/boot.log" 180
e2e_check_result "the module built from the sent source loads" "$t/boot.log" insmod 0
e2e_check_result "patched" "$t/boot.log" patched "elivepatch-test-cmdline"
e2e_check_result "unloads" "$t/boot.log" rmmod 0
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$t/boot.log"

sshd_stop
t_done
