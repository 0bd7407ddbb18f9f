# netwarden — one entry point: make, make test, make demo, make bench.
# Generated code (BPF objects, skeletons, protobuf-c) goes to $(OUTPUT), never git.

OUTPUT ?= .output
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
	-ffunction-sections -fdata-sections
CPPFLAGS += -I$(OUTPUT) -I. -Ibpf
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,--gc-sections
LDLIBS_BPF := -lbpf -lelf -lz
LDLIBS_ALL := $(LDLIBS_BPF) -lprotobuf-c -lseccomp -lcap -lm

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ibpf/include -Ibpf -I$(OUTPUT)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h bpf/*.bpf.h)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

PROTO_C := $(OUTPUT)/netwarden.pb-c.c
PROTO_H := $(OUTPUT)/netwarden.pb-c.h
PROTO_O := $(OUTPUT)/netwarden.pb-c.o

COMMON_SRCS := $(wildcard proto/*.c) $(wildcard sandbox/*.c)
PRIV_SRCS := $(wildcard privileged/*.c)
WORKER_SRCS := $(wildcard unprivileged/*.c unprivileged/dns/*.c unprivileged/usm/*.c)
CLIENT_SRCS := $(wildcard client/*.c)

obj = $(patsubst %.c,$(OUTPUT)/obj/%.o,$(1))
COMMON_OBJS := $(call obj,$(COMMON_SRCS)) $(PROTO_O)

BINS := $(OUTPUT)/netwarden $(OUTPUT)/netwarden-worker $(OUTPUT)/netwardenctl
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TEST_HELPER_SRCS := $(wildcard tests/helpers/*.c)
TEST_HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/%,$(TEST_HELPER_SRCS))

.PHONY: all deps test unit integration demo bench bench-quick clean fuzz fuzz-bins bench-dns
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BINS) $(UNIT_BINS) $(TEST_HELPER_BINS)

deps:
	$(Q)scripts/deps.sh build

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# --- BPF -------------------------------------------------------------------
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) bpf/include/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# --- protobuf --------------------------------------------------------------
$(PROTO_C) $(PROTO_H) &: proto/netwarden.proto | $(OUTPUT)
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --c_out=$(OUTPUT) -Iproto $<

$(PROTO_O): $(PROTO_C)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-error -c $< -o $@

# --- userspace -------------------------------------------------------------
$(OUTPUT)/obj/%.o: %.c $(PROTO_H) $(SKELS) $(wildcard */*.h unprivileged/dns/*.h unprivileged/usm/*.h) | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUTPUT)/netwarden: $(call obj,$(PRIV_SRCS)) $(COMMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_ALL) -o $@

$(OUTPUT)/netwarden-worker: $(call obj,$(WORKER_SRCS)) $(COMMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_ALL) -o $@

$(OUTPUT)/netwardenctl: $(call obj,$(CLIENT_SRCS)) $(COMMON_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS_ALL) -o $@

# Unit tests #include the module under test (to reach statics) and link the
# generated protobuf code; mocks use -Wl,--wrap listed in the test's first line
# as: /* WRAP: sym1 sym2 */ ; extra libraries the same way: /* LIBS: -lldns */
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(PROTO_O) $(SKELS) $(wildcard */*.h */*.c unprivileged/dns/*.[ch] unprivileged/usm/*.[ch] tests/unit/*.h) | $(OUTPUT)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(PROTO_O) \
		$$(sed -n '1s|.*WRAP:\(.*\)\*/.*|\1|p' $< | tr ' ' '\n' | sed -n 's/^\(..*\)$$/-Wl,--wrap=\1/p') \
		$(LDLIBS_ALL) -lcmocka $$(sed -n '1s|.*LIBS:\(.*\)\*/.*|\1|p' $<) -o $@

$(OUTPUT)/tests/%: tests/helpers/%.c $(COMMON_OBJS) $(SKELS) | $(OUTPUT)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(COMMON_OBJS) $(LDLIBS_ALL) -o $@

# libFuzzer targets: tests/fuzz/fuzz_X.c #includes the modules it fuzzes.
# Built for `make test` (tests/integration/test_fuzz_dns.py runs a bounded
# session) and `make fuzz` (FUZZ_SECONDS, corpus kept in $(OUTPUT)/fuzz/corpus).
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard unprivileged/dns/*.[ch] unprivileged/usm/*.[ch]) | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) $< -o $@

fuzz-bins: $(FUZZ_BINS)

fuzz:
	$(Q)scripts/deps.sh test
	$(Q)$(MAKE) --no-print-directory fuzz-bins
	$(Q)NW_FUZZ_SECONDS=$(FUZZ_SECONDS) NW_FUZZ_CORPUS=$(OUTPUT)/fuzz/corpus \
		/usr/bin/python3 tests/integration/test_fuzz_dns.py
	$(Q)NW_FUZZ_SECONDS=$(FUZZ_SECONDS) NW_FUZZ_CORPUS=$(OUTPUT)/fuzz/corpus \
		/usr/bin/python3 tests/integration/test_fuzz_capture.py

# Parser cost per DNS response against ldns (callgrind): bench/dns_parse.sh.
$(OUTPUT)/bench/dns_parse_bench: bench/dns_parse_bench.c $(call obj,unprivileged/dns/dns_parse.c) | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $^ -lldns -o $@

bench-dns:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/bench/dns_parse_bench
	$(Q)bench/dns_parse.sh

# Scale (bench/scale.py): conn_hold keeps N loopback connections open,
# rpc_cost times one full GetConnections answer through client/nwclient.c.
$(OUTPUT)/bench/conn_hold: bench/conn_hold.c | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

$(OUTPUT)/bench/rpc_cost: bench/rpc_cost.c $(call obj,client/nwclient.c proto/frame.c) $(PROTO_O) | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $^ -lprotobuf-c -o $@

# The DNS capture's CPU per packet on lo against tcpdump and no capture, both
# capture modes, DNS queries and other traffic (bench/dns_capture.py).
$(OUTPUT)/bench/dns_load: bench/dns_load.c | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

# Per-event kernel cost in units of one empty tp_btf program measured in the
# same run (bench/evcost.py); the unit is bench/evcost.bpf.c, its skeleton is
# generated next to the binary like bpf/*.bpf.c's are in $(OUTPUT).
$(OUTPUT)/bench/evcost.bpf.o: bench/evcost.bpf.c bpf/include/vmlinux.h | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/bench/evcost.skel.h: $(OUTPUT)/bench/evcost.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name evcost_bpf > $@

$(OUTPUT)/bench/evcost: bench/evcost.c $(OUTPUT)/bench/evcost.skel.h | $(OUTPUT)
	$(Q)mkdir -p $(@D)
	$(call msg,CC-BENCH,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS_BPF) -lm -o $@

.PHONY: bench-dns-capture
bench-dns-capture:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all $(OUTPUT)/bench/dns_load
	$(Q)/usr/bin/python3 bench/dns_capture.py

# HTTP monitoring's cost: requests/s nginx keeps under wrk with USM on (HTTP,
# HTTP+Kafka), off, and no tracer, and requests counted (bench/usm_nginx.py).
.PHONY: bench-usm
bench-usm:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)/usr/bin/python3 bench/usm_nginx.py

# The side-by-side suite (bench/suite.py; research perf.md section 11):
# netwarden against no tracer and its peers, interleaved rounds, ratios;
# table and raw JSON in bench/results/. bench-quick: 3 rounds, shorter runs.
BENCH_BINS := $(addprefix $(OUTPUT)/bench/,dns_load evcost conn_hold rpc_cost dns_parse_bench)
bench bench-quick:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)/usr/bin/python3 bench/suite.py --profile=$(if $(filter bench-quick,$@),quick,full)

# --- entry points ----------------------------------------------------------
test:
	$(Q)scripts/deps.sh test
	$(Q)$(MAKE) --no-print-directory all fuzz-bins
	$(Q)tests/run.sh

unit:
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh unit

integration:
	$(Q)$(MAKE) --no-print-directory all fuzz-bins
	$(Q)tests/run.sh integration

demo:
	$(Q)scripts/deps.sh demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

clean:
	rm -rf $(OUTPUT)
