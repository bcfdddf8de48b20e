#!/bin/sh
# e2e: `build --sandbox` runs every make of a build under the real bubblewrap (package
# bubblewrap): the same module as without it; a patch whose Makefile writes outside the
# build's directories, or reaches the network, builds without the sandbox (so the patch
# really does it) and fails inside it, saying why, with nothing written and no connection
# made. No guest is booted.
#   sandbox-write   fs/proc/Makefile: a step of cmdline.o writes $ELP_ESCAPE
#   sandbox-net     fs/proc/Makefile: a step of cmdline.o connects to 127.0.0.1:$ELP_NET_PORT
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
command -v bwrap > /dev/null || { skip "bubblewrap (bwrap) not installed"; t_done; }
bwrap --unshare-user --unshare-net --ro-bind / / true 2> "$t/bwrap.err" ||
	{ skip "bwrap cannot make a sandbox here: $(cat "$t/bwrap.err")"; t_done; }
check "kernel add ref" e2e_add_kernel ref "$ks"
n=elp_sandbox_$$

# --- a good patch: the same module in the sandbox -------------------------------------------
elp build --kernel ref --patch "$patches/cmdline-string.patch" --name "$n" -o "$t/plain.ko" \
	> "$t/out" 2>&1 || sed 's/^/# /' "$t/out"
check "built without a sandbox" test -f "$t/plain.ko"
elp build --kernel ref --patch "$patches/cmdline-string.patch" --name "$n" --sandbox --rebuild \
	-o "$t/sandboxed.ko" > "$t/out" 2>&1 || sed 's/^/# /' "$t/out"
check "built in the sandbox" test -f "$t/sandboxed.ko"
check "...the same module (sha256)" cmp -s "$t/plain.ko" "$t/sandboxed.ko"
log=$(q "SELECT log_path FROM builds ORDER BY id DESC LIMIT 1")
check "...every make of it ran in the sandbox" \
	test "$(grep -c '^# in a sandbox (bwrap): no network' "$log")" -ge 2 -a \
	"$(grep -c '^# in a sandbox' "$log")" = "$(grep -c '^\$ make' "$log")"

# --- a patch that writes outside its build ---------------------------------------------------
ELP_ESCAPE=$t/escaped
export ELP_ESCAPE
elp build --kernel ref --patch "$patches/sandbox-write.patch" --name "${n}_w" > "$t/out" 2>&1
check "without the sandbox, its build writes outside (the patch does what it says)" \
	grep -qx escaped "$ELP_ESCAPE"
rm -f "$ELP_ESCAPE"
before=$(q "SELECT count(*) FROM builds WHERE status = 'succeeded'")
elp build --kernel ref --patch "$patches/sandbox-write.patch" --name "${n}_w" --sandbox --rebuild \
	> "$t/out" 2> "$t/err"
check "in the sandbox the build fails (exit 1)" test $? = 1
check "...saying why: the sandbox stopped it, the system is read-only" \
	grep -q "^error: build [0-9]* failed: .*: the sandbox stopped a step .*Read-only file system" "$t/err"
check "...nothing was written" test ! -e "$ELP_ESCAPE"
check "...and no module recorded" test "$(q "SELECT count(*) FROM builds WHERE status = 'succeeded'")" = "$before"

# --- a patch that reaches the network --------------------------------------------------------
listen() { # FILE: a listener on 127.0.0.1; its port in FILE.port, what it receives in FILE
	python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
s.settimeout(600)
c, _ = s.accept()
open(sys.argv[1], "wb").write(c.recv(100))' "$1" &
	_i=0
	while [ ! -s "$1.port" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	ELP_NET_PORT=$(cat "$1.port")
	export ELP_NET_PORT
}
listen "$t/heard"
heard=$!
elp build --kernel ref --patch "$patches/sandbox-net.patch" --name "${n}_n" > "$t/out" 2>&1
wait $heard
check "without the sandbox, its build reaches a listener on 127.0.0.1" grep -qx "phoned home" "$t/heard"
listen "$t/heard2"
heard=$!
elp build --kernel ref --patch "$patches/sandbox-net.patch" --name "${n}_n" --sandbox --rebuild \
	> "$t/out" 2> "$t/err"
check "in the sandbox the build fails (exit 1)" test $? = 1
check "...saying why: the sandbox stopped it, no connection" \
	grep -q "^error: build [0-9]* failed: .*: the sandbox stopped a step .*\(Connection refused\|Network is unreachable\)" "$t/err"
check "...the listener heard nothing" test ! -s "$t/heard2"
kill $heard 2> /dev/null
wait $heard 2> /dev/null

t_done
