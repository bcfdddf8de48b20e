# A real OpenSSH sshd on 127.0.0.1 for the remote-build tests: its own config, host key and
# authorized_keys in a temp dir, on a free high port; never the system's sshd or keys.
# shellcheck shell=sh
#
#   sshd_start DIR              start sshd with DIR/sshd_config, DIR/host_key, DIR/authorized_keys
#                               (written by sshd_key) and DIR/ssh_config for the client; sets
#                               SSHD_PORT, SSHD_PID and ELIVEPATCH_SSH ("ssh -F DIR/ssh_config").
#                               Non-zero (reason on stderr) when sshd cannot run here.
#   sshd_key DIR ALIAS COMMAND  a client key for host alias ALIAS (ssh://ALIAS) whose
#                               authorized_keys line forces COMMAND with "restrict", as the
#                               README documents for builders. Call before or after sshd_start.
#   sshd_stop                   kill our sshd (by its pid).

SSHD_BIN=${SSHD_BIN:-$(command -v sshd 2>/dev/null || echo /usr/sbin/sshd)}

sshd_have() {
	[ -x "$SSHD_BIN" ] && command -v ssh > /dev/null && command -v ssh-keygen > /dev/null
}

sshd_key() { # DIR ALIAS COMMAND
	_d=$1 _alias=$2 _cmd=$3
	mkdir -p "$_d"
	rm -f "$_d/key-$_alias" "$_d/key-$_alias.pub"
	ssh-keygen -q -t ed25519 -N '' -C "$_alias" -f "$_d/key-$_alias" || return 1
	printf 'command="%s",restrict %s\n' "$_cmd" "$(cat "$_d/key-$_alias.pub")" >> "$_d/authorized_keys"
	cat >> "$_d/ssh_config" <<EOF
Host $_alias
	HostName 127.0.0.1
	Port ${SSHD_PORT:-PORT}
	User $(id -un)
	IdentityFile $_d/key-$_alias
	IdentitiesOnly yes
	UserKnownHostsFile $_d/known_hosts
	StrictHostKeyChecking yes
	LogLevel ERROR
EOF
}

sshd_start() { # DIR
	_d=$1
	mkdir -p "$_d"
	chmod 700 "$_d"
	[ -f "$_d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$_d/host_key" || return 1
	touch "$_d/authorized_keys" "$_d/ssh_config"
	chmod 600 "$_d/authorized_keys"
	# sshd running as root separates privileges into this (empty) directory
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	for _try in 1 2 3 4 5 6 7 8; do
		SSHD_PORT=$((20000 + ($$ * 7 + _try * 131) % 40000))
		cat > "$_d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $_d/host_key
PidFile $_d/sshd.pid
AuthorizedKeysFile $_d/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
EOF
		"$SSHD_BIN" -D -e -f "$_d/sshd_config" 2> "$_d/sshd.log" &
		SSHD_PID=$!
		_i=0
		while [ $_i -lt 50 ]; do
			kill -0 "$SSHD_PID" 2> /dev/null || break
			if command -v ss > /dev/null; then
				ss -ltn 2> /dev/null | grep -q "127.0.0.1:$SSHD_PORT " && break
			else
				[ $_i -ge 10 ] && break
			fi
			sleep 0.1
			_i=$((_i + 1))
		done
		if kill -0 "$SSHD_PID" 2> /dev/null; then
			sed -i "s/^	Port .*/	Port $SSHD_PORT/" "$_d/ssh_config"
			printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$_d/host_key.pub")" \
				> "$_d/known_hosts"
			ELIVEPATCH_SSH="ssh -F $_d/ssh_config"
			export ELIVEPATCH_SSH
			return 0
		fi
		wait "$SSHD_PID" 2> /dev/null
	done
	sed 's/^/# sshd: /' "$_d/sshd.log" >&2
	return 1
}

sshd_stop() {
	[ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2> /dev/null
	SSHD_PID=
}
