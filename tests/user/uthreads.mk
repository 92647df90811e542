# The thread stress and benchmark as first processes (the programs are in USER_PROGS; this file
# sorts after user.mk, whose variables it uses in prerequisites).
#
# `make stress`: /bin/stress alone under QEMU (4 CPUs unless CPUS says otherwise) for
# STRESS_SECONDS, with SEED (a number replays a run; "-", the default, takes a new seed, which
# the run prints). `make check` runs it for 30 s through /bin/init.
STRESS_SECONDS ?= 300
SEED ?= -
STRESS_ACCESSORS ?= 3
STRESS_ISO := $(BUILD)/dyad-stress.iso

.PHONY: stress bench-threads
stress: deps $(KERNEL) $(USER_BINS)
	tools/mkiso.sh $(STRESS_ISO) $(KERNEL) \
		"ktest init=/bin/stress -- $(SEED) $(STRESS_SECONDS) $(STRESS_ACCESSORS)" $(USER_ISO_MODULES)
	BOOT_TEST_TIMEOUT=$$(($(STRESS_SECONDS) + 300)) \
		BOOT_TEST_EXPECT='^stress: [1-9][0-9]* passed, 0 failed, 0 skipped$$' \
		tools/boot-test.sh qemu $(STRESS_ISO)

# `make bench-threads`: thread and process switches, fault-in throughput on 1, 2 and 4 CPUs and
# the munmap cost with the address space live on 1, 2 and 4 CPUs (tests/user/thbench.c), under
# QEMU with 4 CPUs, in plain multi-threaded TCG and with -icount (tools/bench-threads.sh).
THBENCH_ISO := $(BUILD)/dyad-thbench.iso
$(THBENCH_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "init=/bin/thbench" $(USER_ISO_MODULES)

bench-threads: deps
	$(MAKE) $(THBENCH_ISO)
	tools/bench-threads.sh $(THBENCH_ISO)
