# Benchmarks: figures, not pass/fail. `make bench` builds them at -O2 without sanitizers and
# prints markdown tables (instructions under callgrind, ns natively).
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-Iinclude -Itests/unit -Itests/bench -DHOST_BUILD -DPMEM_SHIM_NO_FILL -MMD -MP
BENCH_PMAP_SRCS := tests/bench/bench_pmap.c tests/bench/alt_designs.c tests/unit/pmem_shim.c \
	arch/x86/pmap.c

$(BUILD)/bench/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_CFLAGS) -c $< -o $@

$(BUILD)/bench/bench_pmap: $(BENCH_PMAP_SRCS:%.c=$(BUILD)/bench/%.o)
	$(HOSTCC) $(BENCH_CFLAGS) -o $@ $^

bench: $(BUILD)/bench/bench_pmap
	tests/bench/run-bench.sh $(BUILD)/bench/bench_pmap $(BUILD)/bench
bench: bench-user

# Where a second-stage fault's extra instructions go, per function (QEMU with SVM, gdb stepping).
.PHONY: bench-fault-cycles
bench-fault-cycles: deps
	$(MAKE) $(VMBENCH_ISO)
	tests/bench/fault-cycles.sh $(VMBENCH_ISO) $(KERNEL)
