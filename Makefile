# socksify: a plain GNU Makefile. Sources are found by wildcard, so adding a .c file
# to a component's folder is enough.
#
#   make            build/libsocksify.so build/socksify build/socksifyd
#   make test       install missing packages, build everything, run every suite
#   make demo       the main job end to end
#   make bench      benchmarks side by side with the peers
#   make fuzz       longer libFuzzer runs (FUZZ_SECONDS per target)
#   make install    PREFIX=/usr/local DESTDIR=

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
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -fPIC -Icommon -DSOCKSIFY_VERSION=\"$(VERSION)\" \
	-DSOCKSIFY_PREFIX=\"$(PREFIX)\" $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

COMMON_SRC := $(wildcard common/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
CLI_SRC := $(wildcard cli/*.c)
SERVER_SRC := $(wildcard server/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SNIPPET_SRC := $(wildcard tests/snippets/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
HDRS := $(wildcard common/*.h preload/*.h cli/*.h server/*.h tests/unit/*.h)

.PHONY: all test demo bench fuzz install clean unit snippets asan deps fuzz-build
all: $(B)/libsocksify.so $(B)/socksify $(B)/socksifyd

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
	$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(B)/socksifyd: $(call obj,$(SERVER_SRC)) $(B)/libcommon.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcrypt -lpthread

# C unit tests: one binary per tests/unit/test_*.c, each printing TAP.
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))
$(B)/unit/%: tests/unit/%.c $(B)/libcommon.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -Ipreload -o $@ $< $(B)/libcommon.a $(LDFLAGS_ALL)
unit: $(UNIT_BIN)

# Snippet programs: one per interposed behaviour, run under the shim by the e2e suites.
SNIPPET_BIN := $(patsubst tests/snippets/%.c,$(B)/snippets/%,$(SNIPPET_SRC))
$(B)/snippets/%: tests/snippets/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) -O1 -g $(WARN) -Wno-missing-prototypes -pthread -fPIC $(if $(findstring lib,$*),-shared) -o $@ $< -ldl
snippets: $(SNIPPET_BIN)
# The fortified build of async_loop includes its source.
$(B)/snippets/async_loop_fortify: tests/snippets/async_loop.c

# ASan+UBSan build of the server and the unit tests, in its own tree.
asan:
	$(MAKE) --no-print-directory B=$(B)/asan SAN=1 $(B)/asan/socksifyd unit

# libFuzzer targets (clang), over the common/ parsers.
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
$(B)/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(CSTD) -O1 -g -Icommon -fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRC)
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
	install -m 644 man/socksify.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/socksifyd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 socksify.conf.example $(DESTDIR)$(PREFIX)/share/doc/socksify/

clean:
	rm -rf $(B)
