#!/bin/sh
# e2e: the example patch overlay (contrib/overlay) on the reference kernel.  overlay add of a
# git repository; cve --kernel selects its fix (the 5.10-only fix skipped with the reason)
# and builds one cumulative livepatch; a second fix committed and synced gives a cumulative
# module with both, which in the qemu guest (the real binary, with the catalogue) replaces
# the first with both behaviours live and history showing the replacement; a rewritten
# overlay history is refused; build --all-kernels builds a fix for the reference kernel and
# the same kernel with an out-of-tree patch.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
ELP=$ELIVEPATCH
example=$(cd "$here/../../contrib/overlay" && pwd)
g() { git -C "$t/ov" -c user.name=test -c user.email=test@elivepatch.invalid "$@"; }

e2e_add_kernel ref || bail "kernel add ref"

# the overlay without its version-marker fix, for now
cp -r "$example" "$t/ov"
mv "$t/ov/livepatches/version-marker" "$t/version-marker"
git -C "$t/ov" init -q -b main
g add -A
g commit -qm "cmdline marker, meminfo for 5.10"
elp overlay add example "$t/ov" > "$t/add.out" 2>&1
check "overlay add of the example overlay" grep -q "^added overlay 'example' at .*: 2 fixes added" "$t/add.out"

# ---- cve: selection and one cumulative build ----
elp cve --kernel ref > "$t/cve1.out" 2> "$t/cve1.err"
rc=$?
check "cve --kernel ref builds" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/cve1.out" "$t/cve1.err" | tail -n 20
check "...the cmdline fix, for its CVE" grep -q "^ref: build [0-9]* succeeded, .*elp_cve_[0-9a-f]*\.ko (CVE-2099-1001); 0 live, 1 skipped" "$t/cve1.out"
check "...skipping the fix outside the kernel's version range, with the reason" \
	grep -q "^  skipped example:meminfo-kib-5.10: version 6\.1\.[0-9]* is not in '5.10 <= v < 5.11'" "$t/cve1.out"
b1=$(q "SELECT max(id) FROM builds WHERE status = 'succeeded'")
m1=$(q "SELECT module_name FROM builds WHERE id = $b1")
check "...one cumulative module" [ "$(q "SELECT cumulative FROM builds WHERE id = $b1")" = 1 ]
check "...made from the overlay's patch" \
	[ "$(q "SELECT p.name FROM build_patches bp JOIN patches p ON p.id = bp.patch_id WHERE bp.build_id = $b1")" = "example:cmdline-marker" ]

# ---- a second fix, synced: a cumulative module with both ----
mv "$t/version-marker" "$t/ov/livepatches/"
g add -A
g commit -qm "version marker"
elp overlay sync example > "$t/sync.out" 2>&1
check "overlay sync catalogues the new fix" grep -q "^synced overlay 'example' at .*: 1 fix added, 0 updated, 0 removed" "$t/sync.out"
elp cve --kernel ref --json > "$t/cve2.json" 2> "$t/cve2.err"
rc=$?
check "cve --kernel ref builds again" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/cve2.err" | tail -n 20
b2=$(q "SELECT max(id) FROM builds WHERE status = 'succeeded'")
m2=$(q "SELECT module_name FROM builds WHERE id = $b2")
check "...a new module" [ "$b2" != "$b1" -a "$m2" != "$m1" ]
check "...carrying both fixes" \
	[ "$(q "SELECT group_concat(name, ' ') FROM (SELECT p.name FROM build_patches bp JOIN patches p ON p.id = bp.patch_id WHERE bp.build_id = $b2 ORDER BY p.name)")" = \
		"example:cmdline-marker example:version-marker" ]
check "...reported in --json" grep -q "\"kernel\":\"ref\",.*\"cves\":\[\"CVE-2099-1001\",\"CVE-2099-1002\"\],.*\"build\":{\"id\":$b2,\"status\":\"succeeded\"" "$t/cve2.json"

# ---- a rewritten overlay history is refused ----
g commit -q --amend -m "version marker, rewritten"
elp overlay sync example > "$t/nonff.out" 2>&1
check "a non-fast-forward sync is refused" [ $? = 1 ]
check "...saying so" grep -q "not a fast-forward" "$t/nonff.out"

# ---- in the guest: apply the first, then the cumulative one ----
mkdir -p "$t/g"
for b in "$b1" "$b2"; do
	cp "$(q "SELECT artefact_path FROM builds WHERE id = $b")" "$t/g/build$b.ko" || bail "module of build $b"
	q "UPDATE builds SET artefact_path = '/root/build$b.ko' WHERE id = $b"
done
cp "$db" "$t/g/catalogue.db" || bail "catalogue copied"
e2e_guest_elivepatch "$ELP" "$t/g" "$t/init.sh"
cat >> "$t/init.sh" <<EOF
b1=$b1 b2=$b2 m1=$m1
EOF
cat >> "$t/init.sh" <<'EOF'
run apply1 apply "$b1"
e2e_result cmdline1 "$(cat /proc/cmdline)"
e2e_result version1 "$(tail -n 1 /proc/version)"
run apply2 apply "$b2"
e2e_result cmdline2 "$(cat /proc/cmdline)"
e2e_result version2 "$(tail -n 1 /proc/version)"
e2e_result loaded2 "$(ls /sys/kernel/livepatch | tr '\n' ' ')"
run status2 status
run history history --cve CVE-2099-1001
EOF
# shellcheck disable=SC2046 # the temporary paths have no spaces
e2e_initramfs "$t/initrd.gz" "$t/init.sh" $(find "$t/g" -maxdepth 1 -type f) ||
	bail "initramfs with elivepatch, its libraries and the catalogue"
E2E_QEMU_MEM=1G e2e_boot "$t/initrd.gz" "$t/boot.log" 120
check "the guest applies the builds and powers off" [ $? = 0 ]
log=$t/boot.log
e2e_check_result "elivepatch apply of the first cve build" "$log" apply1 0
check "...the cmdline fix is live" sh -c "tr -d '\r' < '$log' | grep -q '^E2E-RESULT cmdline1 .* (live patched by elivepatch)'"
check "...the version fix is not" sh -c "! tr -d '\r' < '$log' | grep -q '^E2E-RESULT version1 live patched by elivepatch'"
e2e_check_result "elivepatch apply of the cumulative build" "$log" apply2 0
e2e_has_out "...replacing the first" "$log" apply2 "^replaced livepatch '$m1' (build $b1)"
check "...both fixes live" sh -c "tr -d '\r' < '$log' | grep -q '^E2E-RESULT cmdline2 .* (live patched by elivepatch)' &&
	tr -d '\r' < '$log' | grep -q '^E2E-RESULT version2 live patched by elivepatch'"
e2e_check_result "...only the cumulative module loaded" "$log" loaded2 "$m2 "
e2e_has_out "status shows the CVEs it closes" "$log" status2 "cves: *CVE-2099-1001,CVE-2099-1002"
e2e_has_out "history --cve shows the replacement" "$log" history "replace.*$m1"
check "no oops, BUG, WARNING or stall in the guest" e2e_guest_dmesg_ok "$log"

# ---- build --all-kernels: the reference kernel and one with an out-of-tree patch ----
e2e_add_kernel ref-oot || bail "kernel add ref-oot"
elp kernel patch add ref-oot "$patches/oot-cmdline-comment.patch" > /dev/null 2>&1 || bail "kernel patch add"
# two builds at once, each in a process of its own (the trees differ)
elp build --all-kernels --parallel 2 --patch example:version-marker > "$t/all.out" 2> "$t/all.err"
rc=$?
check "build --all-kernels builds for both kernels" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/all.out" "$t/all.err" | tail -n 20
check "...one line each, in kernel order" [ "$(sed 's/: build [0-9]* succeeded.*//' "$t/all.out" | tr '\n' ' ')" = "ref ref-oot " ]
check "...both recorded as succeeded" [ "$(q "SELECT count(*) FROM builds b JOIN build_patches bp ON bp.build_id = b.id JOIN patches p ON p.id = bp.patch_id WHERE p.name = 'example:version-marker' AND b.status = 'succeeded' AND b.cumulative = 0")" = 2 ]
check "...the patch catalogued once" [ "$(q "SELECT count(*) FROM patches WHERE name LIKE '%version-marker%'")" = 1 ]
e2e_show_log "$log"
t_done
