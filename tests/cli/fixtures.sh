# Fixtures shared by the CLI tests: a temporary directory with a fake kernel
# source tree, configs and a fake running-system root.
# shellcheck shell=sh

ELP=${ELIVEPATCH:-$(pwd)/build/san/elivepatch}
T=$(mktemp -d "${TMPDIR:-/tmp}/elp-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
DB=$T/catalogue.db

elp() { "$ELP" --db "$DB" "$@"; }

# dump DB: the catalogue's whole content, to prove a failure changed nothing
dump() { sqlite3 "$DB" .dump 2>/dev/null; }

make_source_tree() { # DIR
	mkdir -p "$1/kernel/livepatch" "$1/scripts" "$1/fs/proc"
	echo 'VERSION = 6' > "$1/Makefile"
	echo 'mainmenu "Linux"' > "$1/Kconfig"
	echo 'obj-y += kernel/' > "$1/Kbuild"
	: > "$1/scripts/Makefile.build"
	printf 'static int x(void)\n{\n\treturn 0;\n}\n' > "$1/fs/proc/cmdline.c"
}

make_config() { # FILE [livepatch=y|n]
	{
		echo '# Linux/x86 6.1.0 Kernel Configuration'
		echo 'CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"'
		echo 'CONFIG_MODULES=y'
		if [ "${2:-y}" = y ]; then echo 'CONFIG_LIVEPATCH=y'; else echo '# CONFIG_LIVEPATCH is not set'; fi
	} > "$1"
}

make_source_tree "$T/src"
make_config "$T/config"
make_config "$T/config-nolp" n
