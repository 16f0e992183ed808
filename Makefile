# uaio - build, test, install.  `make`, `make check`, `make check-asan`,
# `make check-tsan`, `make check-valgrind`, `make bench`, `make install`.
VERSION      := 0.1.0
SOVERSION    := 0
PREFIX       ?= /usr/local
DESTDIR      ?=
SAN          ?=
CC           ?= cc

ifeq ($(SAN),)
BUILD        ?= build
SANFLAGS     :=
else ifeq ($(SAN),asan)
BUILD        ?= build-asan
SANFLAGS     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SAN),tsan)
BUILD        ?= build-tsan
SANFLAGS     := -fsanitize=thread
else
$(error SAN must be empty, asan or tsan)
endif

OPT          ?= -O2
CFLAGS_BASE  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE \
                -Iinclude -Isrc -fvisibility=hidden $(SANFLAGS)
LIBCFLAGS    := $(CFLAGS_BASE) -fPIC
LDLIBS       := -luring -lpthread

LIB_SRCS     := $(wildcard src/*.c src/*/*.c)
LIB_SRCS     := $(filter-out src/compat/% src/preload/%,$(LIB_SRCS))
LIB_HDRS     := $(wildcard src/*.h src/*/*.h)
LIB_OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
TEST_SRCS    := $(wildcard tests/*.c)
TEST_SCRIPTS := $(wildcard tests/*.sh)
TESTS        := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS)) \
                $(patsubst tests/%.sh,$(BUILD)/tests/%,$(filter-out tests/run.sh,$(TEST_SCRIPTS)))
TOOLS        := $(BUILD)/uaio-bench $(BUILD)/uaio-run

# The drop-in libaio.so.1: the same objects plus libaio's entry points,
# in a directory of its own so that it never shadows the system libaio.
COMPAT_DIR   := $(BUILD)/lib/uaio
COMPAT_LIB   := $(COMPAT_DIR)/libaio.so.1
COMPAT_OBJ   := $(BUILD)/obj/compat/libaio.o
# uaio-run --syscalls preloads this one: the same objects plus SIGSYS guards.
PRELOAD_LIB  := $(COMPAT_DIR)/libuaio-preload.so
PRELOAD_OBJ  := $(BUILD)/obj/preload/preload.o
TEST_SUPPORT := $(BUILD)/executors

SHLIB        := $(BUILD)/libuaio.so.$(VERSION)
STLIB        := $(BUILD)/libuaio.a

.PHONY: all lib tests tools check check-asan check-tsan check-valgrind bench soak soak-ci clean install uninstall deps \
	fuzz fuzz-run fuzz-ci

all: lib tools tests

lib: $(SHLIB) $(STLIB) $(COMPAT_LIB) $(PRELOAD_LIB)

$(BUILD)/obj/%.o: src/%.c $(LIB_HDRS) include/uaio.h
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) -c -o $@ $<

$(SHLIB): $(LIB_OBJS) src/libuaio.map
	$(CC) $(LIBCFLAGS) -shared -Wl,-soname,libuaio.so.$(SOVERSION) \
		-Wl,--version-script=src/libuaio.map -o $@ $(LIB_OBJS) $(LDLIBS)
	ln -sf libuaio.so.$(VERSION) $(BUILD)/libuaio.so.$(SOVERSION)
	ln -sf libuaio.so.$(SOVERSION) $(BUILD)/libuaio.so

$(COMPAT_OBJ): src/compat/libaio.c $(LIB_HDRS) include/uaio.h
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) -c -o $@ $<

$(COMPAT_LIB): $(LIB_OBJS) $(COMPAT_OBJ) src/compat/libaio.map
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) -shared -Wl,-soname,libaio.so.1 \
		-Wl,--version-script=src/compat/libaio.map -o $@ $(LIB_OBJS) $(COMPAT_OBJ) $(LDLIBS)

$(PRELOAD_OBJ): src/preload/preload.c $(LIB_HDRS) include/uaio.h
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) -c -o $@ $<

$(PRELOAD_LIB): $(LIB_OBJS) $(PRELOAD_OBJ) src/preload/preload.map
	@mkdir -p $(dir $@)
	$(CC) $(LIBCFLAGS) -shared -Wl,-soname,libuaio-preload.so \
		-Wl,--version-script=src/preload/preload.map -o $@ $(LIB_OBJS) $(PRELOAD_OBJ) $(LDLIBS)

$(STLIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

tests: $(TESTS) $(TEST_SUPPORT)

# Test support programs (not tests): run.sh asks `executors` which
# executors this machine offers.
$(BUILD)/%: tests/support/%.c $(STLIB)
	$(CC) $(CFLAGS_BASE) -o $@ $< $(STLIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Itests -o $@ $< $(STLIB) $(LDLIBS)

# The replay test links the fuzzing harness (the generic rule above takes
# one source file).
FUZZ_HARNESS := tests/fuzz/harness.c tests/fuzz/harness.h
$(BUILD)/tests/fuzz_replay: tests/fuzz_replay.c $(FUZZ_HARNESS) tests/t.h $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Itests -o $@ tests/fuzz_replay.c tests/fuzz/harness.c $(STLIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.sh
	@mkdir -p $(dir $@)
	cp $< $@

tools: $(TOOLS)

BENCH_SRCS   := $(wildcard tools/bench/*.c)
BENCH_HDRS   := $(wildcard tools/bench/*.h) src/hist.h include/uaio.h
$(BUILD)/uaio-bench: $(BENCH_SRCS) $(BENCH_HDRS) $(STLIB)
	$(CC) $(CFLAGS_BASE) -o $@ $(BENCH_SRCS) $(STLIB) $(LDLIBS) -lm

$(BUILD)/uaio-run: tools/uaio-run
	@mkdir -p $(dir $@)
	cp $< $@
	chmod +x $@

deps:
	@./tools/deps.sh

# The README's test command.  Runs every test once per executor.
check: deps
	$(MAKE) all
	UAIO_SAN=$(SAN) UAIO_TEST_CFLAGS="$(SANFLAGS)" ./tests/run.sh $(BUILD)

check-asan:
	$(MAKE) SAN=asan check

# die_after_fork=0: the fork tests start threads in a child of a threaded
# parent, which TSan refuses by default.
check-tsan:
	TSAN_OPTIONS="die_after_fork=0 $${TSAN_OPTIONS:-}" $(MAKE) SAN=tsan check

VALGRIND_TESTS ?= setup_errors submit_errors rw_basic getevents_args destroy_waits ring_direct_reap preadv_pwritev eventfd_notify pipe_rw poll_basic exit_drain ring_no_overflow buffered_async stats_counts stats_process stats_off faults_err faults_seed faults_filters faults_short faults_delay faults_spec fuzz_replay uaccess_fault cancel_points fsize_limit ring_library_view nowait_batch check_native
check-valgrind: deps
	$(MAKE) all
	UAIO_TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no" \
	UAIO_TEST_ONLY="$(VALGRIND_TESTS)" UAIO_TEST_TIMEOUT=300 ./tests/run.sh $(BUILD)

# The main job: uaio-bench on its default workload, three tables (buffered
# on a warm page cache, O_DIRECT, buffered on a cold page cache), about a
# minute in all.  BENCH_ARGS="--mode both" leaves the cold one out.
bench: deps
	$(MAKE) $(BUILD)/uaio-bench
	$(BUILD)/uaio-bench $(BENCH_ARGS)

# The soak test (tests/soak/soak.c, not in `make check`): SOAK_SECONDS per
# executor this machine offers, SOAK_THREADS threads, SOAK_ARGS extra
# options (e.g. --seed 42).  `make soak-ci` is CI's bounded run: 20 s per
# executor, then 20 s per executor built with TSan (a report fails it).
SOAK_SECONDS ?= 600
SOAK_THREADS ?= 4
SOAK_ARGS    ?=
SOAK_TSAN    := TSAN_OPTIONS="halt_on_error=1 exitcode=66 die_after_fork=0 $${TSAN_OPTIONS:-}"

$(BUILD)/soak: tests/soak/soak.c $(STLIB)
	$(CC) $(CFLAGS_BASE) -o $@ $< $(STLIB) $(LDLIBS)

soak: $(BUILD)/soak $(TEST_SUPPORT)
	@for ex in $$($(BUILD)/executors); do \
		echo "soak: $$ex, $(SOAK_SECONDS) s"; \
		UAIO_EXECUTOR=$$ex $(if $(filter tsan,$(SAN)),$(SOAK_TSAN)) $(BUILD)/soak \
			--threads $(SOAK_THREADS) --seconds $(SOAK_SECONDS) --quiet $(SOAK_ARGS) || exit 1; \
	done

soak-ci: deps
	$(MAKE) soak SOAK_SECONDS=20
	$(MAKE) SAN=tsan soak SOAK_SECONDS=20

# libFuzzer: the library's sources compiled into the target with ASan and
# UBSan (README "Fuzzing").  `make fuzz-run FUZZ_SECONDS=600` fuzzes by
# hand, new inputs going to $(FUZZ_BUILD)/corpus; `make fuzz-ci` is CI's
# bounded run (FUZZ_CI_SECONDS per executor), new inputs to a scratch dir.
FUZZ_CC         ?= clang
FUZZ_BUILD      := build-fuzz
FUZZ_SECONDS    ?= 600
FUZZ_CI_SECONDS ?= 60
FUZZ_CFLAGS     := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc \
                   -Itests/fuzz -fsanitize=fuzzer,address,undefined \
                   -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_ARGS       := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

fuzz: $(FUZZ_BUILD)/fuzz_uaio

$(FUZZ_BUILD)/fuzz_uaio: tests/fuzz/fuzz_uaio.c $(FUZZ_HARNESS) $(LIB_SRCS) $(LIB_HDRS) include/uaio.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_uaio.c tests/fuzz/harness.c $(LIB_SRCS) $(LDLIBS)

fuzz-run: $(FUZZ_BUILD)/fuzz_uaio
	@mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/crashes
	nice -n 10 $(FUZZ_BUILD)/fuzz_uaio $(FUZZ_ARGS) -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=$(FUZZ_BUILD)/crashes/ $(FUZZ_BUILD)/corpus tests/fuzz/corpus tests/fuzz/regress

fuzz-ci: deps
	$(MAKE) $(FUZZ_BUILD)/fuzz_uaio build/executors
	FUZZ_SECONDS=$(FUZZ_CI_SECONDS) ./tests/fuzz/ci.sh $(FUZZ_BUILD) build

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Installs the library, header, pkg-config file, tools and man pages.  The
# libaio-compatible library goes to $(PREFIX)/lib/uaio, never next to the
# system libaio: only uaio-run (or an explicit LD_LIBRARY_PATH) uses it.
INSTALLED = lib/libuaio.so.$(VERSION) lib/libuaio.so.$(SOVERSION) lib/libuaio.so lib/libuaio.a \
	lib/uaio/libaio.so.1 lib/uaio/libuaio-preload.so lib/pkgconfig/uaio.pc include/uaio.h bin/uaio-bench bin/uaio-run \
	$(patsubst man/%,share/man/man1/%,$(wildcard man/*.1)) \
	$(patsubst man/%,share/man/man3/%,$(wildcard man/*.3)) \
	$(patsubst man/%,share/man/man7/%,$(wildcard man/*.7))

install: lib tools
	install -d $(DESTDIR)$(PREFIX)/lib/uaio $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libuaio.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libuaio.so.$(SOVERSION)
	ln -sf libuaio.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libuaio.so
	install -m 0644 $(STLIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(COMPAT_LIB) $(PRELOAD_LIB) $(DESTDIR)$(PREFIX)/lib/uaio/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/uaio.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/uaio.pc
	install -m 0644 include/uaio.h $(DESTDIR)$(PREFIX)/include/
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(wildcard man/*.1),install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/)
	install -m 0644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

# Removes exactly what install put in place (and lib/uaio if left empty).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DESTDIR)$(PREFIX)/lib/uaio 2>/dev/null
