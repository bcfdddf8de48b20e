#!/bin/sh
# A builder keeps the kernel sources clients send (build --send-source) while requests use
# them: builder serve removes, at the end of a request, those no request used for
# builder-keep-sources days (elivepatch.conf, --keep-sources), with their "sent-" kernels and
# kbuild dirs, never one a serve is building with; builder prune does the same on demand.
# Through a real OpenSSH sshd on 127.0.0.1 (tests/sshd.sh), as tests/cli/t-remote.sh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"
. "$(dirname "$0")/../sshd.sh"

# the builder's catalogue, and where it keeps the sources sent
BDB=$T/builder.db
SRCS=$T/bcache/remote/sources
S=$T/ssh
top=$(cd "$(dirname "$0")/../.." && pwd)
REL=6.1.0-57-amd64
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE

sshd_have || { skip "OpenSSH server and client (openssh-server, openssh-client) not installed"; t_done; }
command -v flock > /dev/null || { skip "flock (util-linux) not installed"; t_done; }

printf 'ffffffff81000000 T _text\nffffffff81001000 t x\n' > "$T/kallsyms"
printf 'ffffffff81000000 T _text\nffffffff81002000 t x\n' > "$T/kallsyms2"
# two kernels (the builder tells them by their inputs), two sources
cp -r "$T/src" "$T/src2"
echo '/* the other one */' >> "$T/src2/fs/proc/cmdline.c"
elp kernel add --release $REL --name one --source "$T/src" --config "$T/config" \
	--symbols "$T/kallsyms" > "$T/out" 2>&1 || bail "kernel add one: $(cat "$T/out")"
elp kernel add --release $REL --name two --source "$T/src2" --config "$T/config" \
	--symbols "$T/kallsyms2" > "$T/out" 2>&1 || bail "kernel add two: $(cat "$T/out")"
cp "$top/contrib/examples/cmdline.patch" "$T/cmdline.patch"
elp patch add "$T/cmdline.patch" > /dev/null 2>&1 || bail "patch add"

# the builder's make waits, while $T/hold exists, so that a serve is building
mkdir -p "$T/bin"
cat > "$T/bin/make" <<EOF
#!/bin/sh
: > "$T/making"
n=0
while [ -e "$T/hold" ] && [ \$n -lt 300 ]; do sleep 0.1; n=\$((n + 1)); done
exec $(command -v make) "\$@"
EOF
chmod +x "$T/bin/make"

benv="env PATH=$T/bin:$PATH ELIVEPATCH_DB=$BDB ELIVEPATCH_CACHE=$T/bcache ELIVEPATCH_CONFIG=$T/b.conf ELIVEPATCH_DATADIR=$top/data"
sshd_key "$S" b "$benv $ELP builder serve"
sshd_key "$S" b1 "$benv $ELP builder serve --keep-sources 1"
sshd_start "$S" || bail "sshd starts on 127.0.0.1"
trap 'sshd_stop; rm -rf "$T"' EXIT
ok "sshd listens on 127.0.0.1:$SSHD_PORT"

# send KERNEL [BUILDER]: a build of it on the builder, sending its source when needed
send() { elp -v build --kernel "$1" --patch cmdline --builder "ssh://${2:-b}" --send-source --rebuild > "$T/out" 2> "$T/err"; }
# sha KERNEL: the sha256 under which the builder keeps its source (""; not kept)
sha() {
	sqlite3 "$BDB" "SELECT source FROM kernels WHERE name LIKE 'sent-%'" |
		sed -n "s|^$SRCS/\([0-9a-f]*\)/$1.tar\$|\1|p"
}
# kernel SHA: the builder's "sent-" kernel of that source, and its kbuild dir
kernel() { sqlite3 "$BDB" "SELECT name || '|' || build_dir FROM kernels WHERE source LIKE '$SRCS/$1/%'"; }
age() { touch -d "$2 days ago" "$SRCS/$1"; }

echo "builder-keep-sources = 30" > "$T/b.conf"
send one
send two
A=$(sha src)
B=$(sha src2)
[ -n "$A" ] && [ -n "$B" ] && [ "$A" != "$B" ] || bail "the builder keeps both sources: '$A' '$B' $(cat "$T/err")"
ka=$(kernel "$A")
kdir=${ka#*|}
check "...each with its kernel and kbuild dir" test -n "$ka" -a -d "$kdir" -a -n "$(kernel "$B")"
check "...and a lock file each" test -f "$SRCS/$A.lock" -a -f "$SRCS/$B.lock"

# --- a request marks its source used ---------------------------------------------------------
age "$A" 40
age "$B" 40
echo "builder-keep-sources = 0" > "$T/b.conf"
send two
check "a request marks the source it builds with used (mtime now)" \
	test -n "$(find "$SRCS/$B" -maxdepth 0 -newermt '1 hour ago')"
check "builder-keep-sources = 0: one unused for 40 days is kept" test -d "$SRCS/$A" -a -n "$(kernel "$A")"
check "...and the serve says nothing of removing" sh -c '! grep -q "removed the kernel source" "$1"' - "$T/err"

# --- unused past the limit: removed at the end of a request -------------------------------------
echo "builder-keep-sources = 30" > "$T/b.conf"
builds=$(sqlite3 "$BDB" "SELECT count(*) FROM builds")
send two
check "unused for 40 days of 30: the serve removes the source" test ! -e "$SRCS/$A"
check "...and its lock file" test ! -e "$SRCS/$A.lock"
check "...its kernel record (sqlite)" test -z "$(kernel "$A")"
check "...its kbuild dir" test ! -e "$kdir"
check "...with a 'kernel-remove' event" \
	test "$(sqlite3 "$BDB" "SELECT count(*) FROM events WHERE kind = 'kernel-remove' AND detail = '${ka%%|*}'")" = 1
check "...the builds kept" test "$(sqlite3 "$BDB" "SELECT count(*) FROM builds")" = $((builds + 1))
check "...saying so, through the client" grep -q "removed the kernel source sent, $(echo "$A" | cut -c1-12), unused for 40 days" "$T/err"
check "the source used now is kept, with its kernel" test -d "$SRCS/$B" -a -n "$(kernel "$B")"

# --- --keep-sources overrides the configuration ---------------------------------------------------
send one
A=$(sha src)
age "$A" 2
echo "builder-keep-sources = 0" > "$T/b.conf"
send two b1
check "--keep-sources 1 overrides builder-keep-sources = 0: removed after 2 days" test ! -e "$SRCS/$A"

# --- in use by a live serve: kept --------------------------------------------------------------
send one
A=$(sha src)
age "$A" 40
age "$B" 40
: > "$T/hold"
rm -f "$T/making"
elp build --kernel one --patch cmdline --builder ssh://b --rebuild > /dev/null 2>&1 &
client=$!
n=0
while [ ! -e "$T/making" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
check "a serve is building with the source (its make runs)" test -e "$T/making"
# marked used when the serve took it: set back, only its lock keeps it now
age "$A" 40
"$ELP" --db "$BDB" builder prune --cache "$T/bcache" --older-than 30 > "$T/out" 2> "$T/err"
check "builder prune: exit 0" test $? = 0
check "...the source the serve builds with is kept" test -d "$SRCS/$A" -a -n "$(kernel "$A")"
check "...the unused one is removed" test ! -e "$SRCS/$B" -a -z "$(kernel "$B")"
check "...saying how many" grep -qx "removed 1 kernel source unused for 30 days" "$T/out"
check "...and which" grep -q "removed the kernel source sent, $(echo "$B" | cut -c1-12), unused for 40 days" "$T/err"
rm -f "$T/hold"
wait $client
age "$A" 40
"$ELP" --db "$BDB" builder prune --cache "$T/bcache" --older-than 30 > "$T/out" 2> "$T/err"
check "once the serve is done, builder prune removes it" test ! -e "$SRCS/$A" -a -z "$(kernel "$A")"

# --- builder prune: the configuration, and usage ---------------------------------------------------
send one
A=$(sha src)
age "$A" 40
echo "builder-keep-sources = 0" > "$T/b.conf"
ELIVEPATCH_CONFIG=$T/b.conf "$ELP" --db "$BDB" builder prune --cache "$T/bcache" > "$T/out" 2>&1
check "builder prune with builder-keep-sources = 0: keeps everything" test -d "$SRCS/$A" -a -n "$(kernel "$A")"
check "...saying so" grep -q "kept every kernel source: builder-keep-sources is 0" "$T/out"
"$ELP" --db "$BDB" builder prune --cache "$T/bcache" --older-than -1 > "$T/out" 2>&1
check "--older-than -1 is a usage error" test $? = 129
check "...saying what is expected" grep -q "invalid --older-than -1: expected 0 to 99999 days" "$T/out"
echo "builder-keep-sources = soon" > "$T/b.conf"
ELIVEPATCH_CONFIG=$T/b.conf "$ELP" --db "$BDB" builder prune --cache "$T/bcache" > "$T/out" 2>&1
check "builder-keep-sources that is not a number of days is refused" \
	grep -q "builder-keep-sources 'soon' must be a number of days" "$T/out"
check "...and nothing is removed" test -d "$SRCS/$A"
"$ELP" --db "$BDB" builder prune --cache "$T/bcache" --older-than 0 > "$T/out" 2>&1
check "--older-than 0: every source not in use goes" test ! -e "$SRCS/$A" -a -z "$(kernel "$A")"

t_done
