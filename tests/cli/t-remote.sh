#!/bin/sh
# elivepatch build --builder: builds over ssh through a real OpenSSH sshd on 127.0.0.1 (its own
# config, host key and authorized_keys with restricted keys, tests/sshd.sh). With the fake
# kernel tree the builder's engine fails the build: what is tested here is the transport, the
# local record of the answer (backend ssh, builder host), failover, the builder's refusal
# without a matching kernel, and hostile bundles in both directions. The module itself, the
# cache and reproducibility are tested with the reference kernel (tests/e2e/t-remote.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/../sshd.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
REL=6.1.0-57-amd64
S=$T/ssh
BDB=$T/builder.db
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
builds() { sqlite3 "$DB" "SELECT count(*) FROM builds"; }
# hostile SIDE KIND...: $T/SIDE/KIND.tar.zst
hostile() {
	_side=$1; shift
	mkdir -p "$T/$_side"
	python3 "$top/tests/hostile-bundle.py" "$_side" "$T/$_side" "$@" &&
		for _k; do zstd -q --rm -f "$T/$_side/$_k.tar"; done
}

sshd_have || { skip "OpenSSH server and client (openssh-server, openssh-client) not installed"; t_done; }
command -v zstd > /dev/null || { skip "zstd not installed"; t_done; }

printf 'ffffffff81000000 T _text\nffffffff81001000 t x\n' > "$T/kallsyms"
# the client's kernel, and the same kernel on the builders
for d in "$DB" "$BDB" "$T/idle.db"; do
	"$ELP" --db "$d" kernel add --release $REL --name fake --source "$T/src" --config "$T/config" \
		--symbols "$T/kallsyms" > "$T/out" 2>&1 || bail "kernel add ($d): $(cat "$T/out")"
done
cp "$top/contrib/examples/cmdline.patch" "$T/cmdline.patch"

# each key is restricted to one command, as the README's authorized_keys line
env_cmd="env ELIVEPATCH_DB=$BDB ELIVEPATCH_CACHE=$T/bcache ELIVEPATCH_DATADIR=$top/data"
sshd_key "$S" good "$env_cmd $ELP builder serve"
sshd_key "$S" idle "env ELIVEPATCH_DB=$T/idle.db ELIVEPATCH_CACHE=$T/icache $ELP builder serve"
sshd_key "$S" empty "env ELIVEPATCH_DB=$T/empty.db ELIVEPATCH_CACHE=$T/ecache $ELP builder serve"
sshd_key "$S" nobwrap "env ELIVEPATCH_BWRAP=$T/no-such-bwrap $env_cmd $ELP builder serve --sandbox"
sshd_key "$S" fresh "env ELIVEPATCH_DB=$T/fresh.db ELIVEPATCH_CACHE=$T/fcache $ELP builder serve"
sshd_key "$S" dies "sh -c 'head -c 100 > /dev/null; echo compiling... >&2; kill -9 \$\$'"
hostile result dotdot symlink badsha wrongmodule || bail "hostile results"
hostile request valid dotdot absolute symlink hardlink device fifo many badsha unlisted nomanifest \
	patchdotdot sourcedotdot sourceslash sourcedash ||
	bail "hostile requests"
for k in dotdot symlink badsha wrongmodule; do
	sshd_key "$S" "evil-$k" "sh -c 'cat > /dev/null; cat $T/result/$k.tar.zst'"
done
sshd_start "$S" || bail "sshd starts on 127.0.0.1"
trap 'sshd_stop; rm -rf "$T"' EXIT
ok "sshd listens on 127.0.0.1:$SSHD_PORT"

# --- usage ---------------------------------------------------------------------------------
elp build --kernel fake --patch "$T/cmdline.patch" --builder host1 > "$T/out" 2>&1
check "a builder that is not an ssh:// URL is a usage error" test $? = 129
check "...saying what is expected" grep -q "expected ssh://\[user@\]host\[:port\]\[/path/to/elivepatch\]" "$T/out"
elp build --kernel fake --patch "$T/cmdline.patch" --builder ssh://good --cc gcc > "$T/out" 2>&1
check "--cc with a builder is a usage error (the builder chooses)" test $? = 129
elp build --kernel fake --patch "$T/cmdline.patch" --builder 'ssh://-oProxyCommand=x' > "$T/out" 2>&1
check "a host that ssh would read as an option is refused" grep -q "invalid builder 'ssh://-oProxyCommand=x'" "$T/out"
check "builder serve on a terminal-less empty stdin is no build" \
	sh -c "'$ELP' --db '$T/x.db' builder serve < /dev/null > '$T/out' 2>&1; test \$? = 1"

# --- status through a restricted key --------------------------------------------------------
$ELIVEPATCH_SSH good elivepatch builder serve --status > "$T/out" 2> "$T/err"
check "builder serve --status over ssh: how busy the builder is" grep -qx "builds-running 0" "$T/out"

# --- a build on the builder -----------------------------------------------------------------
before=$(builds)
elp build --kernel fake --patch "$T/cmdline.patch" --builder ssh://good > "$T/out" 2> "$T/err"
check "the engine's failure on the builder fails the build (exit 1)" test $? = 1
id=$(sqlite3 "$DB" "SELECT max(id) FROM builds")
check "the answer is recorded locally" test "$(builds)" = $((before + 1))
check "...backend ssh, builder host, status failed" \
	test "$(sqlite3 "$DB" "SELECT backend || '|' || builder_host || '|' || status FROM builds WHERE id = $id")" = "ssh|good|failed"
check "...with the builder's reason" test -n "$(sqlite3 "$DB" "SELECT reason FROM builds WHERE id = $id")"
check "...and its log, kept here" test -s "$(sqlite3 "$DB" "SELECT log_path FROM builds WHERE id = $id")"
check "...and no module" test -z "$(sqlite3 "$DB" "SELECT artefact_path FROM builds WHERE id = $id")"
check "the last line says why" grep -q "^error: build $id failed: " "$T/err"
check "the builder built it in its own catalogue" \
	test "$(sqlite3 "$BDB" "SELECT count(*) FROM builds WHERE status = 'failed'")" = 1
check "the patch went as its content" test "$(sqlite3 "$BDB" "SELECT sha256 FROM patches")" = \
	"$(sqlite3 "$DB" "SELECT sha256 FROM patches WHERE name = 'cmdline'")"
elp build show $id > "$T/out"
check "build show: where it was built" grep -qE '^host +good$' "$T/out"
check "build show: how" grep -qE '^backend +ssh$' "$T/out"
check "build show: the patch" grep -qE '^  patch +cmdline ' "$T/out"
elp history > "$T/out"
check "history: built on the builder" grep -q "failed on builder good (" "$T/out"
elp build --kernel fake --patch "$T/cmdline.patch" --builder ssh://good --json > "$T/out" 2> /dev/null
check "--json: the local build id and status" grep -q '"status":"failed"' "$T/out"

# --- cumulative through a builder: the applied livepatches' patches go along ----------------
sed 's/live patched by elivepatch/applied earlier/' "$T/cmdline.patch" > "$T/live.patch"
elp patch add "$T/live.patch" --name live > /dev/null 2>&1 || bail "patch add live"
live_id=$(sqlite3 "$DB" "SELECT id FROM patches WHERE name = 'live'")
# a livepatch of it applied on this host, as 'apply' records it
sqlite3 "$DB" "INSERT INTO builds (kernel_release, module_name, inputs_sha256, status, created_at) VALUES ('$REL', 'elp_live', 'l', 'succeeded', 1);
	INSERT INTO build_patches VALUES (last_insert_rowid(), 0, $live_id);
	INSERT INTO events (time, kind, kernel_release, build_id, module, host) SELECT 2, 'apply', '$REL', max(id), 'elp_live', '$(hostname)' FROM builds"
elp build --kernel fake --patch cmdline --builder ssh://good --cumulative > "$T/out" 2> "$T/err"
id=$(sqlite3 "$DB" "SELECT max(id) FROM builds")
check "--cumulative with a builder: recorded here as cumulative" \
	test "$(sqlite3 "$DB" "SELECT cumulative || '|' || backend FROM builds WHERE id = $id")" = "1|ssh"
check "...with the applied livepatch's patch first, then the new one" \
	test "$(sqlite3 "$DB" "SELECT group_concat(p.name) FROM build_patches b JOIN patches p ON p.id = b.patch_id WHERE b.build_id = $id ORDER BY b.position")" = "live,cmdline"
bid=$(sqlite3 "$BDB" "SELECT max(id) FROM builds")
check "...built on the builder as cumulative, with exactly those patches" \
	test "$(sqlite3 "$BDB" "SELECT b.cumulative || '|' || group_concat(p.name) FROM builds b JOIN build_patches bp ON bp.build_id = b.id JOIN patches p ON p.id = bp.patch_id WHERE b.id = $bid ORDER BY bp.position")" = "1|live,cmdline"
elp build show $id > "$T/out"
check "build show says cumulative" grep -qE '^cumulative +yes$' "$T/out"
elp build --kernel fake --patch cmdline --builder ssh://good > "$T/out" 2> "$T/err"
check "without --cumulative: cumulative, as a local build, when a livepatch is applied" \
	test "$(sqlite3 "$DB" "SELECT cumulative FROM builds ORDER BY id DESC LIMIT 1")" = 1
elp build --kernel fake --patch cmdline --builder ssh://good --no-cumulative > "$T/out" 2> "$T/err"
check "--no-cumulative: only the given patch" \
	test "$(sqlite3 "$DB" "SELECT b.cumulative || '|' || count(*) FROM builds b JOIN build_patches bp ON bp.build_id = b.id WHERE b.id = (SELECT max(id) FROM builds)")" = "0|1"
sqlite3 "$DB" "DELETE FROM events WHERE kind = 'apply'"

# --- failover ----------------------------------------------------------------------------------
before=$(builds)
elp build --kernel fake --patch cmdline --builder "ssh://$(id -un)@127.0.0.1:1" \
	--builder ssh://empty --builder ssh://dies --builder ssh://good > "$T/out" 2> "$T/err"
check "down, without the kernel, dying: the next builder answers" test "$(builds)" = $((before + 1))
check "...a builder that cannot be reached is named" grep -q "^warning: builder 127.0.0.1:1: " "$T/err"
check "...one without the kernel says so" \
	grep -q "^warning: builder empty cannot build it: .*no kernel here has release $REL" "$T/err"
check "...one that dies mid-build says so" grep -q "^warning: builder dies.*without a result: compiling" "$T/err"
check "...each time the next is tried" test "$(grep -c '^warning: trying the next builder' "$T/err")" = 3
check "...the answer is the last builder's" \
	test "$(sqlite3 "$DB" "SELECT builder_host FROM builds ORDER BY id DESC LIMIT 1")" = good

before=$(builds)
elp build --kernel fake --patch cmdline --builder "ssh://127.0.0.1:1" --builder ssh://dies \
	> "$T/out" 2> "$T/err"
check "no builder answers: exit 1" test $? = 1
check "...saying so" grep -q "^error: no builder could build it (2 tried)" "$T/err"
check "...and nothing is recorded" test "$(builds)" = "$before"

# --- a builder without the kernel: the source, when asked for ----------------------------------
before=$(builds)
elp build --kernel fake --patch cmdline --builder ssh://fresh > "$T/out" 2> "$T/err"
check "a builder without the kernel: the build fails (exit 1)" test $? = 1
check "...the builder says to pass --send-source" \
	grep -q "^warning: builder fresh cannot build it: .*no kernel here has release $REL.*build with --send-source" "$T/err"
check "...nothing recorded" test "$(builds)" = "$before"
elp build --kernel fake --patch cmdline --send-source > "$T/out" 2>&1
check "--send-source without a builder is a usage error" test $? = 129
elp -v build --kernel fake --patch cmdline --builder ssh://fresh --send-source > "$T/out" 2> "$T/err"
check "--send-source: the source goes, saying how much" \
	grep -q "builder fresh has no kernel for it: sending the source of kernel 'fake' ($T/src, [0-9.]* MiB), [0-9.]* MiB with the request" "$T/err"
check "...the builder keeps it under its sha256" sh -c '
	f=$(ls "$1"/fcache/remote/sources/*/src.tar) && test "$(sha256sum < "$f" | cut -d" " -f1)" = "$(basename "$(dirname "$f")")"' - "$T"
check "...the directory, as a tar" sh -c 'tar -tf "$1"/fcache/remote/sources/*/src.tar | grep -qx src/fs/proc/cmdline.c' - "$T"
check "...registers the kernel there, with the client's inputs" \
	test "$(sqlite3 "$T/fresh.db" "SELECT release || '|' || config_sha256 FROM kernels WHERE name LIKE 'sent-%'")" = \
	"$REL|$(sqlite3 "$DB" "SELECT config_sha256 FROM kernels WHERE name = 'fake'")"
check "...and builds it (the fake tree fails there): recorded here" \
	test "$(sqlite3 "$DB" "SELECT builder_host || '|' || status FROM builds ORDER BY id DESC LIMIT 1")" = "fresh|failed"
check "...built from the source sent" \
	grep -q "fcache/remote/sources/[0-9a-f]*/src.tar" "$(sqlite3 "$DB" "SELECT log_path FROM builds ORDER BY id DESC LIMIT 1")"
elp -v build --kernel fake --patch cmdline --builder ssh://fresh --send-source --rebuild > "$T/out" 2> "$T/err"
check "the next build needs no source: none is sent" sh -c '! grep -q "sending the source" "$1"' - "$T/err"
check "...the builder found the kernel it registered" \
	test "$(sqlite3 "$T/fresh.db" "SELECT count(*) || '|' || count(DISTINCT b.kernel_id) FROM builds b")" = "2|1"
check "...and kept one copy of the source" \
	test "$(find "$T"/fcache/remote/sources -mindepth 1 -maxdepth 1 -type d | wc -l)" = 1
if command -v script > /dev/null; then
	rm -rf "$T/fcache" "$T/fresh.db"
	script -qec "'$ELP' --db '$DB' build --kernel fake --patch cmdline --builder ssh://fresh --send-source" \
		/dev/null > "$T/tty" 2>&1
	check "on a terminal: progress of the sending" grep -q "sending to fresh: 100% (" "$T/tty"
else
	skip "script (util-linux) not installed: progress on a terminal"
fi

# --- the toolchain rule applies on the builder --------------------------------------------------
sed 's/^CONFIG_CC_VERSION_TEXT=.*/CONFIG_CC_VERSION_TEXT="gcc-99 (Nowhere) 99.0.0"/' "$T/config" > "$T/config-cc99"
for d in "$DB" "$BDB"; do
	"$ELP" --db "$d" kernel add --release $REL --name cc99 --source "$T/src" --config "$T/config-cc99" \
		--symbols "$T/kallsyms" > "$T/out" 2>&1 || bail "kernel add cc99 ($d): $(cat "$T/out")"
done
before=$(builds)
elp build --kernel cc99 --patch cmdline --builder ssh://good > "$T/out" 2> "$T/err"
check "a builder without the kernel's compiler cannot build it" \
	grep -q "^warning: builder good cannot build it: .*no installed compiler matches kernel" "$T/err"
check "...and nothing is recorded here" test "$(builds)" = "$before"

# --- sandboxed builds on a builder ----------------------------------------------------------------
before=$(builds)
elp build --kernel fake --patch cmdline --builder ssh://nobwrap --builder ssh://good > "$T/out" 2> "$T/err"
check "a builder that must sandbox but cannot says why, and the next one answers" \
	grep -q "^warning: builder nobwrap cannot build it: .*a sandboxed build needs bubblewrap" "$T/err"
check "...the next one's answer is recorded" \
	test "$(sqlite3 "$DB" "SELECT group_concat(builder_host) FROM builds WHERE id > $before")" = good
if command -v bwrap > /dev/null && bwrap --unshare-user --unshare-net --ro-bind / / true 2> /dev/null; then
	elp build --kernel fake --patch cmdline --builder ssh://good --sandbox > "$T/out" 2> "$T/err"
	log=$(sqlite3 "$DB" "SELECT log_path FROM builds ORDER BY id DESC LIMIT 1")
	check "build --sandbox with a builder: it builds in a sandbox there (its log says so)" \
		grep -q "^# in a sandbox (bwrap): no network, writable only $T/bcache/" "$log"
else
	skip "bubblewrap (bwrap) not installed or cannot make a sandbox here"
fi

# --- the least busy builder first ---------------------------------------------------------------
sqlite3 "$BDB" "INSERT INTO builds (kernel_release, module_name, inputs_sha256, status, created_at) VALUES ('$REL', 'elp_other', 'x', 'running', 0)"
before=$(builds)
elp -v build --kernel fake --patch cmdline --least-busy --builder ssh://good --builder ssh://idle \
	--builder ssh://127.0.0.1:1 > "$T/out" 2> "$T/err"
check "--least-busy: each builder is asked" grep -q "builder good: 1 builds running, load " "$T/err"
check "...one that does not answer goes last" grep -q "^warning: builder 127.0.0.1:1 gives no status" "$T/err"
check "...the idle one builds" \
	test "$(sqlite3 "$DB" "SELECT group_concat(builder_host) FROM builds WHERE id > $before")" = idle
check "...and only it" sh -c '! grep -q "building on good" "$1"' - "$T/err"
sqlite3 "$BDB" "DELETE FROM builds WHERE module_name = 'elp_other'"
elp build --kernel fake --patch cmdline --least-busy > "$T/out" 2>&1
check "--least-busy without builders is a usage error" test $? = 129

# --- the builders of elivepatch.conf -----------------------------------------------------------
printf 'builders = ssh://127.0.0.1:1  ssh://good\n' > "$T/b.conf"
before=$(builds)
"$ELP" --config "$T/b.conf" --db "$DB" build --kernel fake --patch cmdline > "$T/out" 2> "$T/err"
check "builders of elivepatch.conf are used in order" \
	test "$(sqlite3 "$DB" "SELECT builder_host FROM builds WHERE id > $before")" = good

# --- a hostile builder -------------------------------------------------------------------------
for k in dotdot symlink badsha wrongmodule; do
	before=$(builds)
	elp build --kernel fake --patch cmdline --builder "ssh://evil-$k" > "$T/out" 2> "$T/err"
	check "hostile result ($k): the build fails" test $? = 1
	check "hostile result ($k): rejected" grep -qE "rejected|not the one its record names" "$T/err"
	check "hostile result ($k): nothing recorded" test "$(builds)" = "$before"
done
check "hostile results: nothing written outside" test ! -e "$T/escape" -a ! -e "$T/cache/remote/escape"

# --- a hostile client --------------------------------------------------------------------------
for k in dotdot absolute symlink hardlink device fifo many badsha unlisted nomanifest; do
	"$ELP" --db "$BDB" builder serve --cache "$T/hcache" < "$T/request/$k.tar.zst" > "$T/out" 2> "$T/err"
	rc=$?
	check "hostile request ($k): refused (exit 1)" test $rc = 1
	check "hostile request ($k): says why" grep -q "^error: the client's bundle rejected: " "$T/err"
	check "hostile request ($k): no result on stdout" test ! -s "$T/out"
done
# names in the request record become paths under the request and in the cache
for k in patchdotdot:patch:../escape sourcedotdot:source:../escape sourceslash:source:a/b sourcedash:source:-x; do
	name=${k#*:}
	k=${k%%:*}
	"$ELP" --db "$BDB" builder serve --cache "$T/hcache" < "$T/request/$k.tar.zst" > "$T/out" 2> "$T/err"
	rc=$?
	check "hostile request ($k): refused (exit 1)" test $rc = 1
	check "hostile request ($k): names the ${name%%:*} '${name#*:}'" \
		grep -qF "error: the client's request names a ${name%%:*} '${name#*:}'; expected [A-Za-z0-9._+-]" "$T/err"
	check "hostile request ($k): no result on stdout" test ! -s "$T/out"
done
check "hostile requests: no source kept" test ! -e "$T/hcache/remote/sources"
check "hostile requests: nothing left behind" \
	test -z "$(find "$T/hcache/remote" -mindepth 1 -maxdepth 1 ! -name results)"
check "hostile requests: nothing written outside" test ! -e /tmp/elp-hostile-escape -a ! -e "$T/hcache/escape"
$ELIVEPATCH_SSH good elivepatch builder serve < "$T/request/dotdot.tar.zst" > "$T/out" 2> "$T/err"
check "a hostile request over ssh is refused too" grep -q "rejected: entry name '../escape'" "$T/err"
"$ELP" --db "$BDB" builder serve --cache "$T/hcache" < "$T/request/valid.tar.zst" > "$T/out" 2> "$T/err"
check "a well-formed request for a kernel the builder lacks: exit 4 (it needs the source)" test $? = 4

# --- a builder serve killed with kill -9: the next one removes what it left ------------------
K=$T/kcache
mkfifo "$T/fifo"
# a serve that has read part of a request and waits for the rest (the fifo stays open)
"$ELP" --db "$BDB" builder serve --cache "$K" < "$T/fifo" > /dev/null 2>&1 &
killed=$!
exec 7> "$T/fifo"
head -c 100 "$T/request/valid.tar.zst" >&7
i=0
while [ -z "$(ls -d "$K"/remote/work-??????.lock 2> /dev/null)" ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
# a live one, waiting the same way, that the next serve must leave alone
mkfifo "$T/fifo2"
"$ELP" --db "$BDB" builder serve --cache "$K" < "$T/fifo2" > /dev/null 2>&1 &
live=$!
exec 8> "$T/fifo2"
i=0
while [ "$(ls -d "$K"/remote/work-?????? 2> /dev/null | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
dead_dir=$(grep -lx "$killed" "$K"/remote/work-*.lock | sed 's/\.lock$//')
live_dir=$(grep -lx "$live" "$K"/remote/work-*.lock | sed 's/\.lock$//')
check "each serve has its work directory, its lock file naming its pid" test -d "$dead_dir" -a -d "$live_dir"
kill -9 $killed
wait $killed 2> /dev/null
exec 7>&-
check "kill -9 leaves the killed serve's work directory behind" test -d "$dead_dir"
# pid reuse: the lock file names a pid that is alive (this shell); what counts is the lock
echo $$ > "$dead_dir.lock"
mkdir "$K/remote/work-nolock" # no lock file: an old version's, nobody's
"$ELP" -v --db "$BDB" builder serve --cache "$K" < "$T/request/valid.tar.zst" > /dev/null 2> "$T/err"
check "the next serve removes the killed one's directory" test ! -e "$dead_dir" -a ! -e "$dead_dir.lock"
check "...saying so" grep -q "removed '$dead_dir', left by a process that is gone" "$T/err"
check "...although its lock file names a live pid (pid reuse)" test ! -e "$dead_dir"
check "...and one without a lock file" test ! -e "$K/remote/work-nolock"
check "...but not the directory of a serve still running" test -d "$live_dir" -a -f "$live_dir.lock"
check "...and its own is gone when it ends" \
	test "$(ls -d "$K"/remote/work-* | sort | tr '\n' ' ')" = "$live_dir $live_dir.lock "
exec 8>&-
wait $live 2> /dev/null
check "the live one, once its client hangs up, cleans up after itself" \
	test -z "$(ls -d "$K"/remote/work-* 2> /dev/null)"

sshd_stop
t_done
