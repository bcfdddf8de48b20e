# elivepatch — see README.md.  Plain GNU make, no autotools.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/elivepatch
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libgit2 libarchive sqlite3 libkmod popt libelf libcrypto

VERSION := 0.1.0
BUILD ?= build

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE \
	-DELP_VERSION='"$(VERSION)"' -DELP_DATADIR='"$(DATADIR)"' \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

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

.PHONY: all check deps install clean lint san unit bench demo e2e format
all: elivepatch

elivepatch: $(CLI_OBJ) $(BUILD)/libelivepatch.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libelivepatch.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard src/*.h src/lib/*.h src/engine/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/gen/schema.c: $(MIGRATIONS) data/sql2c.sh
	@mkdir -p $(dir $@)
	sh data/sql2c.sh $(MIGRATIONS) > $@

$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c
	$(CC) $(ALL_CFLAGS) -Isrc/lib -c -o $@ $<

# Sanitizer build: the binary and the unit tests that `make check` runs.
san: $(BUILD)/san/elivepatch $(UNIT_BIN)

$(BUILD)/san/elivepatch: $(SAN_CLI_OBJ) $(BUILD)/san/libelivepatch.a
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/san/libelivepatch.a: $(SAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/san/%.o: %.c $(wildcard src/*.h src/lib/*.h src/engine/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(BUILD)/san/gen/schema.o: $(BUILD)/gen/schema.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc/lib -c -o $@ $<

$(BUILD)/san/tests/%: tests/unit/%.c $(BUILD)/san/libelivepatch.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc -o $@ $< $(BUILD)/san/libelivepatch.a $(LIBS) -lcmocka

# Debian packages needed to build and test; quiet when present.
DEB_BUILD := build-essential pkg-config libgit2-dev libarchive-dev libsqlite3-dev \
	libkmod-dev libpopt-dev libelf-dev libssl-dev libcmocka-dev
DEB_TEST := sqlite3 kmod xz-utils qemu-system-x86 busybox-static cpio dwarves bc openssl python3 \
	flex bison rsync openssh-client openssh-server
deps:
	@sh contrib/install-deps.sh $(DEB_BUILD) $(DEB_TEST)

check: deps
	@$(MAKE) --no-print-directory all san
	@sh tests/run.sh

unit: san
	@ELP_TESTS=unit sh tests/run.sh

e2e: all
	@ELP_TESTS=e2e sh tests/run.sh

bench: all
	@sh tests/bench/run.sh

demo: deps all
	@sh contrib/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/schema \
		$(DESTDIR)$(DATADIR)/include $(DESTDIR)$(MANDIR)/man1
	install -m 0755 elivepatch $(DESTDIR)$(BINDIR)/elivepatch
	install -m 0644 data/schema/*.sql $(DESTDIR)$(DATADIR)/schema/
	install -m 0644 data/include/*.h $(DESTDIR)$(DATADIR)/include/
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/

LINT_SRC := $(LIB_SRC) $(CLI_SRC)
lint: $(GEN_SRC)
	clang-format --dry-run --Werror $(LINT_SRC) $(wildcard src/*.h src/lib/*.h src/engine/*.h)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE $(LINT_SRC)
	clang-tidy --quiet $(LINT_SRC) -- $(ALL_CFLAGS)

format:
	clang-format -i $(LINT_SRC) $(wildcard src/*.h src/lib/*.h src/engine/*.h)

clean:
	rm -rf $(BUILD) elivepatch
