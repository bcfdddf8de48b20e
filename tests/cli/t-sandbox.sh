#!/bin/sh
# build --sandbox and `sandbox = yes`: without a bwrap that can make a sandbox the build fails
# before anything runs, saying why, and nothing is recorded (never a silent unsandboxed build);
# with the real bwrap every make of the build runs inside it (its log says so). The sandbox
# itself stopping writes and the network: tests/e2e/t-sandbox.sh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

REL=6.1.0-57-amd64
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
printf 'ffffffff81000000 T _text\nffffffff81001000 t x\n' > "$T/kallsyms"
elp kernel add --release $REL --name fake --source "$T/src" --config "$T/config" \
	--symbols "$T/kallsyms" > "$T/out" 2>&1 || bail "kernel add: $(cat "$T/out")"
cp "$(dirname "$0")/../../contrib/examples/cmdline.patch" "$T/cmdline.patch"
builds() { sqlite3 "$DB" "SELECT count(*) FROM builds"; }

# --- no bwrap ----------------------------------------------------------------------------------
ELIVEPATCH_BWRAP=$T/no-such-bwrap elp build --kernel fake --patch "$T/cmdline.patch" --sandbox \
	> "$T/out" 2> "$T/err"
check "--sandbox without bwrap: the build fails (exit 1)" test $? = 1
check "...saying it needs bubblewrap" \
	grep -q "^error: a sandboxed build needs bubblewrap, and '$T/no-such-bwrap' is not installed (Debian: bubblewrap" "$T/err"
check "...before any build is recorded" test "$(builds)" = 0

# --- a bwrap that cannot make a sandbox (as without user namespaces) ---------------------------
cat > "$T/bwrap-nouserns" << 'EOF2'
#!/bin/sh
echo "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2
exit 1
EOF2
chmod +x "$T/bwrap-nouserns"
ELIVEPATCH_BWRAP=$T/bwrap-nouserns elp build --kernel fake --patch "$T/cmdline.patch" --sandbox \
	> "$T/out" 2> "$T/err"
check "an unusable bwrap: the build fails (exit 1)" test $? = 1
check "...with bwrap's reason and the likely cause" \
	grep -q "^error: a sandboxed build is not possible here: .*No permissions to creating new namespace.*user namespaces" "$T/err"
check "...nothing recorded" test "$(builds)" = 0

# --- sandbox = yes in elivepatch.conf ----------------------------------------------------------
printf 'sandbox = yes\n' > "$T/sb.conf"
ELIVEPATCH_BWRAP=$T/no-such-bwrap "$ELP" --config "$T/sb.conf" --db "$DB" build --kernel fake \
	--patch "$T/cmdline.patch" > "$T/out" 2> "$T/err"
check "sandbox = yes: a build without --sandbox is sandboxed too (fails without bwrap)" \
	grep -q "^error: a sandboxed build needs bubblewrap" "$T/err"
ELIVEPATCH_BWRAP=$T/no-such-bwrap "$ELP" --config "$T/sb.conf" --db "$DB" queue run > "$T/out" 2>&1
check "sandbox = yes: queue run accepts it" test $? = 0
printf 'sandbox = no\n' > "$T/nosb.conf"
ELIVEPATCH_BWRAP=$T/no-such-bwrap "$ELP" --config "$T/nosb.conf" --db "$DB" build --kernel fake \
	--patch "$T/cmdline.patch" > "$T/out" 2> "$T/err"
log=$(sqlite3 "$DB" "SELECT log_path FROM builds ORDER BY id DESC LIMIT 1")
check "sandbox = no: the build runs without bwrap (the fake tree's make fails)" \
	test "$(builds)" = 1 -a -s "$log"
check "...not in a sandbox" sh -c '! grep -q "sandbox" "$1" "$2"' - "$T/err" "$log"

# --- the real bwrap: every make of the build inside it ---------------------------------------
if command -v bwrap > /dev/null && bwrap --unshare-user --unshare-net --ro-bind / / true 2> /dev/null; then
	elp build --kernel fake --patch "$T/cmdline.patch" --sandbox --rebuild > "$T/out" 2> "$T/err"
	log=$(sqlite3 "$DB" "SELECT log_path FROM builds ORDER BY id DESC LIMIT 1")
	check "with bwrap: the build runs (the fake tree's make fails in it)" \
		test "$(builds)" = 2 -a -s "$log"
	check "...its make steps in the sandbox, writable only its tree and work dir" \
		grep -q "^# in a sandbox (bwrap): no network, writable only $T/cache/trees/[0-9a-f]* and $T/cache/builds/" "$log"
	check "...every one of them" test "$(grep -c '^# in a sandbox' "$log")" = "$(grep -c '^\$ make' "$log")"
else
	skip "bubblewrap (bwrap) not installed or cannot make a sandbox here"
fi
t_done
