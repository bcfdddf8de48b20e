# elivepatch — see README.md.  Plain GNU make, no autotools.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/elivepatch
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# installkernel (postinst.d) and kernel-install (install.d) read hooks only
# from /etc/kernel and /usr/lib/kernel, whatever the prefix
KERNELHOOKDIR ?= /usr/lib/kernel
PORTAGEDIR ?= $(SYSCONFDIR)/portage
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INITDIR ?= $(SYSCONFDIR)/init.d
CONFDDIR ?= $(SYSCONFDIR)/conf.d
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libgit2 libarchive liblzma sqlite3 libkmod popt libelf libcrypto

VERSION := 0.1.0
BUILD ?= build
NPROC := $(shell nproc 2>/dev/null || echo 2)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
# pkg-config is asked when a recipe first needs the answer, not when the Makefile is
# read: `make demo` on a fresh machine installs the libraries (deps) before it links.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
LIBS = $(eval LIBS := $$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(LIBS)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE \
	-DELP_VERSION='"$(VERSION)"' -DELP_DATADIR='"$(DATADIR)"' $(PKG_CFLAGS)
DEPFLAGS = -MMD -MP

# The sanitizer build is the test build: it honours $ELIVEPATCH_FAULT.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -DELP_FAULT_INJECTION

LIB_SRC := $(wildcard src/lib/*.c) $(wildcard src/engine/*.c)
CLI_SRC := $(wildcard src/*.c)
GEN_SRC := $(BUILD)/gen/schema.c
MIGRATIONS := $(sort $(wildcard data/schema/*.sql))

LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/gen/schema.o
CLI_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
SAN_LIB_OBJ := $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC)) $(BUILD)/san/gen/schema.o
SAN_CLI_OBJ := $(patsubst %.c,$(BUILD)/san/%.o,$(CLI_SRC))
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/san/tests/%,$(UNIT_SRC))
# Fuzz targets (tests/fuzz/fuzz-TARGET.c): with the sanitizer build's
# driver for the regression runs, with libFuzzer (clang) for `make fuzz`.
FUZZ_TARGETS := patch conf kconfig symbols elf bundle
FUZZ_SAN_BIN := $(patsubst %,$(BUILD)/san/fuzz/fuzz-%,$(FUZZ_TARGETS))

.PHONY: all check deps deps-build deps-test install clean lint lint-format lint-cppcheck san unit bench demo e2e format \
	fuzz bench-reliability FORCE
# The binary is build/elivepatch; ./elivepatch is a symlink to it for the README's commands.
all: $(BUILD)/elivepatch elivepatch

elivepatch: | $(BUILD)/elivepatch
	ln -sfn $(BUILD)/elivepatch $@

$(BUILD)/elivepatch: $(CLI_OBJ) $(BUILD)/libelivepatch.a | deps-build
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libelivepatch.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# src/lib/ctx.c has DATADIR compiled in: `make PREFIX=/usr` after a
# build for another prefix rebuilds it (the stamp changes only with DATADIR).
$(BUILD)/datadir: FORCE
	@mkdir -p $(BUILD)
	@echo '$(DATADIR)' | cmp -s - $@ 2>/dev/null || echo '$(DATADIR)' > $@
$(BUILD)/src/lib/ctx.o $(BUILD)/san/src/lib/ctx.o: $(BUILD)/datadir
FORCE:

$(BUILD)/gen/schema.c: $(MIGRATIONS) data/sql2c.sh
	@mkdir -p $(dir $@)
	sh data/sql2c.sh $(MIGRATIONS) > $@

$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c
	$(CC) $(ALL_CFLAGS) -Isrc/lib -c -o $@ $<

# Sanitizer build: the binary and the unit tests that `make check` runs.
san: $(BUILD)/san/elivepatch $(UNIT_BIN) $(FUZZ_SAN_BIN)

$(BUILD)/san/elivepatch: $(SAN_CLI_OBJ) $(BUILD)/san/libelivepatch.a
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/san/libelivepatch.a: $(SAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/san/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/san/gen/schema.o: $(BUILD)/gen/schema.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc/lib -c -o $@ $<

$(BUILD)/san/tests/%: tests/unit/%.c $(BUILD)/san/libelivepatch.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -Isrc -o $@ $< $(BUILD)/san/libelivepatch.a \
		$(LIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

$(BUILD)/san/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-common.c tests/fuzz/driver.c \
		tests/fuzz/fuzz.h $(BUILD)/san/libelivepatch.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc -Itests/fuzz -o $@ $(filter %.c,$^) \
		$(BUILD)/san/libelivepatch.a $(LIBS)

# libFuzzer: the library and the targets built by clang with coverage; `make fuzz` runs each
# target FUZZ_SECONDS (default 60) and writes the executions and crashes per target to
# FUZZ_OUT (default fuzz-results.txt); a crash is kept in tests/fuzz/crashes/TARGET/.
FUZZ_CC ?= clang
FUZZ_SAN := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CFLAGS = $(filter-out -Werror,$(ALL_CFLAGS)) $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(patsubst %.c,$(BUILD)/fuzz/%.o,$(LIB_SRC)) $(BUILD)/fuzz/gen/schema.o
FUZZ_BIN := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/%.o: %.c | deps-build
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c -o $@ $<

$(BUILD)/fuzz/gen/schema.o: $(BUILD)/gen/schema.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/lib -c -o $@ $<

$(BUILD)/fuzz/libelivepatch.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-common.c tests/fuzz/fuzz.h \
		$(BUILD)/fuzz/libelivepatch.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc -Itests/fuzz -o $@ $(filter %.c,$^) \
		$(BUILD)/fuzz/libelivepatch.a $(LIBS)

fuzz:
	@sh contrib/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@FUZZ_BIN_DIR=$(BUILD)/fuzz sh tests/fuzz/run.sh $(FUZZ_TARGETS)

# The figures of crash safety, concurrency, fuzzing and hostile input (reliability-results.txt).
bench-reliability:
	@$(MAKE) --no-print-directory all san
	@sh tests/bench/reliability.sh

# What the build and the tests need, checked by what each provides. `make deps`, `make
# check` and `make demo` install what is missing with apt-get on Debian as root; a plain
# `make` and everything elsewhere only list it (Debian names, Gentoo atoms).
deps: deps-test
deps-build:
	@ELP_DEPS_NO_INSTALL=1 sh contrib/deps.sh build
deps-test:
	@sh contrib/deps.sh test

# Each step is its own make run, so nothing is computed before the step it needs.
# Lint first: a tree that is not clean fails before the long tests.
check:
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory -j$(NPROC) lint
	@$(MAKE) --no-print-directory -j$(NPROC) all san
	@sh tests/run.sh

unit:
	@$(MAKE) --no-print-directory san
	@ELP_TESTS=unit sh tests/run.sh

e2e:
	@$(MAKE) --no-print-directory all
	@ELP_TESTS=e2e sh tests/run.sh

bench:
	@$(MAKE) --no-print-directory all
	@sh tests/bench/run.sh

demo:
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory all
	@sh contrib/demo.sh

# Hooks, units and init scripts name the installed binary and data.
INSTALL_SED = sed -e 's|/usr/bin/elivepatch|$(BINDIR)/elivepatch|g' \
	-e 's|/usr/share/elivepatch|$(DATADIR)|g'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/schema \
		$(DESTDIR)$(DATADIR)/include $(DESTDIR)$(DATADIR)/hooks \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(PORTAGEDIR)/repo.postsync.d \
		$(DESTDIR)$(KERNELHOOKDIR)/postinst.d \
		$(DESTDIR)$(KERNELHOOKDIR)/install.d \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(INITDIR) $(DESTDIR)$(CONFDDIR)
	install -m 0755 $(BUILD)/elivepatch $(DESTDIR)$(BINDIR)/elivepatch
	install -m 0644 data/schema/*.sql $(DESTDIR)$(DATADIR)/schema/
	install -m 0644 data/include/*.h $(DESTDIR)$(DATADIR)/include/
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	# a configuration already there is the administrator's
	[ -e $(DESTDIR)$(SYSCONFDIR)/elivepatch.conf ] || \
		install -m 0644 data/elivepatch.conf $(DESTDIR)$(SYSCONFDIR)/elivepatch.conf
	$(INSTALL_SED) hooks/portage-bashrc > $(DESTDIR)$(DATADIR)/hooks/portage-bashrc
	$(INSTALL_SED) hooks/repo.postsync.d/elivepatch > \
		$(DESTDIR)$(PORTAGEDIR)/repo.postsync.d/elivepatch
	$(INSTALL_SED) hooks/kernel-postinst.d/elivepatch > \
		$(DESTDIR)$(KERNELHOOKDIR)/postinst.d/elivepatch
	$(INSTALL_SED) hooks/install.d/90-elivepatch.install > \
		$(DESTDIR)$(KERNELHOOKDIR)/install.d/90-elivepatch.install
	chmod 0755 $(DESTDIR)$(PORTAGEDIR)/repo.postsync.d/elivepatch \
		$(DESTDIR)$(KERNELHOOKDIR)/postinst.d/elivepatch \
		$(DESTDIR)$(KERNELHOOKDIR)/install.d/90-elivepatch.install
	$(INSTALL_SED) contrib/systemd/elivepatch.service > \
		$(DESTDIR)$(SYSTEMDUNITDIR)/elivepatch.service
	install -m 0644 contrib/systemd/elivepatch.timer $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(INSTALL_SED) contrib/openrc/elivepatch.initd > $(DESTDIR)$(INITDIR)/elivepatch
	chmod 0755 $(DESTDIR)$(INITDIR)/elivepatch
	install -m 0644 contrib/openrc/elivepatch.confd $(DESTDIR)$(CONFDDIR)/elivepatch
	install -m 0644 contrib/bash-completion/elivepatch $(DESTDIR)$(BASHCOMPDIR)/elivepatch

# lint: clang-format and cppcheck over the tree, clang-tidy per file into a stamp under
# $(BUILD)/lint, so `make -j lint` runs in parallel and a second run only re-checks what
# changed (a header change re-checks every file).
LINT_SRC := $(LIB_SRC) $(CLI_SRC)
LINT_HDR := $(wildcard src/*.h src/lib/*.h src/engine/*.h)
LINT_TIDY := $(patsubst %.c,$(BUILD)/lint/%.tidy,$(LINT_SRC))
lint: lint-format lint-cppcheck $(LINT_TIDY)

lint-format:
	clang-format --dry-run --Werror $(LINT_SRC) $(LINT_HDR)

lint-cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE $(LINT_SRC)

$(BUILD)/lint/%.tidy: %.c $(LINT_HDR) .clang-tidy | $(GEN_SRC)
	@mkdir -p $(dir $@)
	@echo "clang-tidy $<"
	@clang-tidy --quiet $< -- $(ALL_CFLAGS)
	@touch $@

format:
	clang-format -i $(LINT_SRC) $(wildcard src/*.h src/lib/*.h src/engine/*.h)

clean:
	rm -rf $(BUILD) elivepatch

-include $(patsubst %.o,%.d,$(LIB_OBJ) $(CLI_OBJ) $(SAN_LIB_OBJ) $(SAN_CLI_OBJ) $(FUZZ_LIB_OBJ)) \
	$(patsubst %,%.d,$(UNIT_BIN))
