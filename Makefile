# voxfit build. `make demo` runs the demo study; `make check` runs the tests.
# Everything is built under $(BUILD); `make SAN=1 ...` builds and tests with
# AddressSanitizer + UndefinedBehaviorSanitizer under build-san/.

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
OPT = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT = -O2 -g
endif

CC = mpicc
PKGS = pnetcdf scalapack-openmpi yaml-0.1 openblas
# Recursive (=) so pkg-config runs after `deps` has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) gsl 2>/dev/null)
# GSL's distributions only; its CBLAS symbols come from OpenBLAS, not
# libgslcblas, so one BLAS serves the whole program.
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lgsl
CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Iinclude $(PKG_CFLAGS)
LDFLAGS = $(OPT)
LDLIBS = $(PKG_LIBS) -lm

LIB_SRC = $(wildcard src/util/*.c src/config/*.c src/io/*.c src/linalg/*.c \
                     src/ridge/*.c src/stats/*.c src/sched/*.c src/sim/*.c \
                     src/proto/*.c)
CLI_SRC = $(wildcard src/cli/*.c)
TEST_SRC = $(wildcard tests/*/test_*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB = $(BUILD)/lib/libvoxfit.a
BIN = $(BUILD)/bin/voxfit
DEPS_OK = $(BUILD)/.deps-ok

.PHONY: all deps demo check check-san tests clean
all: $(BIN)

# Installs the Debian packages of configs/debian-packages.txt that are missing.
deps: $(DEPS_OK)
$(DEPS_OK): configs/debian-packages.txt
	@mkdir -p $(BUILD)
	@missing=$$(for p in $$(sed 's/#.*//' $<); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing missing Debian packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: not root; run: sudo apt-get install" $$missing >&2; exit 2; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 2; \
	fi
	@touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $< $(LIB) $(LDLIBS) -o $@

tests: $(BIN) $(TEST_BIN)

# The demo study: generate, run under mpirun on the local cores, summarise.
demo: $(BIN)
	@sh tests/demo.sh $(BUILD)

# The whole test suite (C unit tests, multi-rank tests, CLI tests, Python
# references), then the same C tests under ASan/UBSan.
check: tests
	@sh tests/run.sh $(BUILD)
	@$(MAKE) --no-print-directory SAN=1 check-san

check-san: tests
	@sh tests/run.sh $(BUILD)

# The benchmark of the CV ridge fit (not a test; docs/benchmarks.md): every
# case in its own process, then numpy on the same data.
# `make bench BENCH_ARGS=--quick` runs a scaled-down version in a minute or two.
BENCH_BIN = $(BUILD)/tests/bench/bench_ridge
BENCH_ARGS ?=
.PHONY: bench
bench: $(LIB) $(BENCH_BIN) $(BIN) $(BUILD)/tests/bench/bench_team
	@sh tests/bench/bench.sh $(BUILD) $(BENCH_ARGS)
	@sh tests/bench/bench_batch.sh $(BUILD) $(BATCH_SCALE)
	@sh tests/bench/bench_team.sh $(BUILD) $(TEAM_ARGS)

# The batch system alone (god preset at BATCH_SCALE, default 0.4).
.PHONY: bench-team
bench-team: $(BUILD)/tests/bench/bench_team
	@sh tests/bench/bench_team.sh $(BUILD) $(TEAM_ARGS)

.PHONY: bench-batch
bench-batch: $(BIN)
	@sh tests/bench/bench_batch.sh $(BUILD) $(BATCH_SCALE)

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
