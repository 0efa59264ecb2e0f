# socksify: a plain GNU Makefile. Sources are found by wildcard, so adding a .c file
# to a component's folder is enough.
#
#   make            build/libsocksify.so build/socksify build/socksifyd
#   make test       install missing packages, build everything, run every suite
#   make demo       the main job end to end
#   make bench      benchmarks side by side with the peers
#   make fuzz       longer libFuzzer runs (FUZZ_SECONDS per target)
#   make install    PREFIX=/usr/local DESTDIR=
#   make install-system  install, then socksify --install-system (PROXY=URL to set one)

PREFIX ?= /usr/local
DESTDIR ?=
B ?= build
CC ?= cc
VERSION := 0.1.0

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter
CSTD := -std=c11 -D_GNU_SOURCE
OPT ?= -O2 -g
SAN ?=
ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT := -O1 -g
endif
# What ld.so's $LIB expands to for this build (Debian: lib/<multiarch triplet>): the
# machine-wide install puts the library there (cli/system.c).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBTOK := $(if $(MULTIARCH),lib/$(MULTIARCH),lib64)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -fPIC -Icommon -DSOCKSIFY_VERSION=\"$(VERSION)\" \
	-DSOCKSIFY_PREFIX=\"$(PREFIX)\" -DSOCKSIFY_LIBTOK=\"$(LIBTOK)\" $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

COMMON_SRC := $(wildcard common/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
CLI_SRC := $(wildcard cli/*.c)
SERVER_SRC := $(wildcard server/*.c)
# Every server module but main(): socksifyd, the unit tests and the fuzzers link it.
SERVER_LIB_SRC := $(filter-out server/main.c,$(SERVER_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SNIPPET_SRC := $(wildcard tests/snippets/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
HDRS := $(wildcard common/*.h preload/*.h cli/*.h server/*.h tests/unit/*.h)

.PHONY: all test demo bench fuzz install install-system clean unit snippets asan deps fuzz-build lib32
# The 32-bit library (gcc-multilib): under /etc/ld.so.preload a 32-bit program needs its
# own, or ld.so prints an error line in each one. Built when the compiler can.
HAVE_M32 := $(if $(B32),,$(shell printf 'int main(void){return 0;}' | $(CC) -m32 -x c - -o /dev/null 2>/dev/null && echo 1))
all: $(B)/libsocksify.so $(B)/socksify $(B)/socksifyd $(if $(HAVE_M32),lib32)
lib32:
	@$(MAKE) --no-print-directory B=$(B)/32 B32=1 CFLAGS="$(CFLAGS) -m32" LDFLAGS="$(LDFLAGS) -m32" \
		$(B)/32/libsocksify.so

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(filter preload/%,$<),-fvisibility=hidden -ftls-model=initial-exec) -c $< -o $@

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	@rm -f $@
	ar rcs $@ $^

# The shim exports only the interposed symbols (preload/libsocksify.map). It is loaded
# into every process (ld.so.preload), so its imports bind lazily: -z now would look up
# all of them at every start (callgrind on `true`: 249k instructions with -z now, 194k
# without, 137k for an empty preload), for symbols most programs never reach.
$(B)/libsocksify.so: $(call obj,$(PRELOAD_SRC)) $(B)/libcommon.a preload/libsocksify.map
	$(CC) -shared -o $@ $(call obj,$(PRELOAD_SRC)) $(B)/libcommon.a $(LDFLAGS_ALL) \
		-Wl,--version-script=preload/libsocksify.map -Wl,-z,relro -Wl,-z,lazy -ldl -lpthread

$(B)/socksify: $(call obj,$(CLI_SRC)) $(B)/libcommon.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lpthread

$(B)/libserver.a: $(call obj,$(SERVER_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(B)/socksifyd: $(call obj,server/main.c) $(B)/libserver.a $(B)/libcommon.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcrypt -lpthread -lbsd

# C unit tests: one binary per tests/unit/test_*.c, each printing TAP; the server's
# modules come from libserver.a (a test defines what main.c would: `srv`).
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))
$(B)/unit/%: tests/unit/%.c $(B)/libserver.a $(B)/libcommon.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -Ipreload -Iserver -o $@ $< $(B)/libserver.a \
		$(B)/libcommon.a $(LDFLAGS_ALL) -lcrypt -lpthread
unit: $(UNIT_BIN)

# Snippet programs: one per interposed behaviour, run under the shim by the e2e suites.
SNIPPET_BIN := $(patsubst tests/snippets/%.c,$(B)/snippets/%,$(SNIPPET_SRC))
$(B)/snippets/%: tests/snippets/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -Wno-missing-prototypes -pthread -fPIC $(if $(findstring lib,$*),-shared) -o $@ $< -ldl
snippets: $(SNIPPET_BIN)
# The fortified build of async_loop includes its source.
$(B)/snippets/async_loop_fortify: tests/snippets/async_loop.c

# ASan+UBSan build of the server, the unit tests and the shim, in its own tree. The
# shim is run under it by tests/run.sh (the snippet suite once more, with
# SOCKSIFY_LIB=$(B)/asan/libsocksify.so and libasan preloaded first).
asan:
	$(MAKE) --no-print-directory B=$(B)/asan SAN=1 $(B)/asan/socksifyd $(B)/asan/libsocksify.so unit

# libFuzzer targets (clang), over the common/ parsers and the server's modules: both
# libraries built again with coverage instrumentation in $(B)/fuzz/.
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS := $(CSTD) -O1 -g -Icommon -Iserver -fsanitize=address,undefined
fuzzobj = $(patsubst %.c,$(B)/fuzz/obj/%.o,$(1))
$(B)/fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/libcommon.a: $(call fuzzobj,$(COMMON_SRC))
	@rm -f $@
	ar rcs $@ $^
$(B)/fuzz/libserver.a: $(call fuzzobj,$(SERVER_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libserver.a $(B)/fuzz/libcommon.a $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzz/libserver.a $(B)/fuzz/libcommon.a \
		-lpthread
fuzz-build: $(FUZZ_BIN)
FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do echo "== $$f ($(FUZZ_SECONDS)s)"; \
		mkdir -p $(B)/fuzz/corpus/$$(basename $$f); \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus/$$(basename $$f) \
		  tests/fuzz/seeds/$$(basename $$f) 2>&1 | tail -n 3 || exit 1; done

deps:
	@scripts/install-deps.sh

test: deps
	$(MAKE) --no-print-directory all unit snippets
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz-build
	@tests/run.sh

demo: deps all
	@scripts/demo.sh

bench: deps all snippets
	@scripts/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/socksify $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/socksify
	install -m 755 $(B)/socksify $(B)/socksifyd $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libsocksify.so $(DESTDIR)$(PREFIX)/lib/socksify/
	if [ -f $(B)/32/libsocksify.so ]; then install -d $(DESTDIR)$(PREFIX)/lib/socksify/32 && \
		install -m 644 $(B)/32/libsocksify.so $(DESTDIR)$(PREFIX)/lib/socksify/32/; fi
	install -m 644 man/socksify.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/socksifyd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 socksify.conf.example $(DESTDIR)$(PREFIX)/share/doc/socksify/

# /etc/ld.so.preload: see socksify(1) --install-system; undo with --uninstall-system.
install-system: install
	$(DESTDIR)$(PREFIX)/bin/socksify --install-system $(if $(PROXY),-p $(PROXY))

clean:
	rm -rf $(B)
