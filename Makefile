# Dyad: top-level build. `make help` lists the targets.

BUILD ?= build
CC := gcc
NASM := nasm
LD := ld

# The kernel command line the ISO boots with (tests add `ktest`).
CMDLINE ?=

KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-ffreestanding -fno-stack-protector -fno-pic -fno-pie -fno-common \
	-mno-red-zone -mcmodel=kernel -mgeneral-regs-only -mno-sse -mno-mmx -mno-80387 \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-toplevel-reorder \
	-Iinclude -D__KERNEL__ -MMD -MP
# DEBUG=1: the pair module checks every invariant of a table tree after every operation.
ifdef DEBUG
KCFLAGS += -DPMAP_DEBUG
endif
KLDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T arch/x86/kernel.ld
KASFLAGS := -f elf64 -Iinclude/

HOSTCC := gcc
HOSTCFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -Werror \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Iinclude -Itests/unit -DHOST_BUILD -MMD -MP
HOSTLIBS := -lcmocka

KSRCS := $(sort $(wildcard kern/*.c kern/virtio/*.c arch/x86/*.c))
KASMS := $(sort $(wildcard arch/x86/*.asm))
KOBJS := $(KSRCS:%.c=$(BUILD)/k/%.o) $(KASMS:%.asm=$(BUILD)/k/%.asm.o)

# KERNEL= given to make names the guest kernel of `make run` (any bzImage or vmlinux); the Dyad kernel
# keeps its own name.
ifneq ($(filter command line environment%,$(origin KERNEL)),)
GUEST_KERNEL := $(KERNEL)
endif
override KERNEL := $(BUILD)/dyad.elf
ISO := $(BUILD)/dyad.iso
TEST_ISO := $(BUILD)/dyad-ktest.iso
CMDLINE_TEST ?= ktest
# Self-tests, then the user-space tests (tests/user) with /bin/init as the first process.
UTEST_ISO := $(BUILD)/dyad-utest.iso
CMDLINE_UTEST ?= ktest init=/bin/init
# The user-space benchmark as the first process.
UBENCH_ISO := $(BUILD)/dyad-ubench.iso

.PHONY: all iso test-iso utest-iso check-debug boot-test-ryzen boot-test-user bench-user kernel check unit boot-test-qemu boot-test-bochs run run-qemu run-bochs run-dyad run-dyad-qemu run-dyad-bochs debug \
	deps bench format clean help FORCE compile_commands.json compile-all

# A recipe that fails leaves no target behind for the next make to take as up to date.
.DELETE_ON_ERROR:

all: iso

kernel: $(KERNEL)
iso: $(ISO)

# V=1 shows full command lines.
Q := $(if $(V),,@)

$(BUILD)/k/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/k/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NASM    $<")
	$(Q)$(NASM) $(KASFLAGS) -MD $(@:.o=.d) $< -o $@

# Flags live here: objects rebuild when it changes.
$(KOBJS): Makefile

$(KERNEL): $(KOBJS) arch/x86/kernel.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJS)

# Extra multiboot2 modules (guest images, files) for the run ISO, as mkiso.sh takes them: FILE or
# FILE:/path/in/dyad. Only the FILE part is a prerequisite (a colon in a prerequisite is a make rule).
ISO_MODULES ?=
ISO_MODULE_FILES = $(foreach m,$(ISO_MODULES),$(firstword $(subst :, ,$(m))))

$(TEST_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(ISO_MODULE_FILES)
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE_TEST)" $(ISO_MODULES)

test-iso: $(TEST_ISO)

# ---- user programs (static musl) --------------------------------------------------------------
include $(sort $(wildcard tests/user/*.mk))
include user/vmm/vmm.mk

$(UTEST_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE_UTEST)" $(USER_ISO_MODULES)

$(UBENCH_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "init=/bin/bench" $(USER_ISO_MODULES)

utest-iso: $(UTEST_ISO)

# The run ISO (`make run`) carries the user programs, so `CMDLINE='init=/bin/sysconf'` boots one.
# Its command line and module list are kept in a file rewritten only when they change: the ISO
# depends on it, so a new CMDLINE rebuilds the ISO.
ISO_CONFIG := $(BUILD)/dyad.iso.config
$(ISO_CONFIG): FORCE
	@tools/update-if-changed.sh $@ "cmdline=$(CMDLINE)" "modules=$(ISO_MODULES)"

$(ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(ISO_CONFIG) $(USER_BINS) tests/user/motd.txt \
		$(ISO_MODULE_FILES)
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE)" $(USER_ISO_MODULES) $(ISO_MODULES)

# ---- host unit tests (cmocka, ASan + UBSan) --------------------------------------------------
# Each tests/unit/*.mk adds a name to UNIT_TESTS and sets UNIT_SRCS_<name>.
UNIT_TESTS :=
include $(sort $(wildcard tests/unit/*.mk))

define unit_template
$(BUILD)/host/test_$(1): $$(UNIT_SRCS_$(1):%.c=$(BUILD)/host/%.o)
	@$$(if $$(Q),echo "  HOSTLD  $$@")
	$$(Q)$$(HOSTCC) $$(HOSTCFLAGS) -o $$@ $$^ $$(HOSTLIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_template,$(t))))

$(BUILD)/host/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(HOSTCC) $(HOSTCFLAGS) -c $< -o $@

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/host/test_%)

unit: $(UNIT_BINS)
	tools/run-unit.sh $(UNIT_BINS)

# ---- boot self-tests ------------------------------------------------------------------------
boot-test-qemu: deps
	$(MAKE) test-iso
	tools/boot-test.sh qemu $(TEST_ISO)

boot-test-bochs: deps
	$(MAKE) test-iso
	tools/boot-test.sh bochs $(TEST_ISO)

# Both emulators boot the self-tests and then the user-space tests (Bochs: the VMX CPU model).
USER_TEST_EXPECT := ^user: [1-9][0-9]* passed, 0 failed, [0-9]+ skipped$$

# The user tests take minutes with threads: 1,000 threads, 500 threaded processes killed, and the
# address-space stress's 30 s (tests/user/uthreads.mk), about 10 minutes under Bochs; a kernel
# with threads may not skip them.
USER_TEST_TIMEOUT := 400
BOCHS_USER_TEST_TIMEOUT := 1800
DEBUG_USER_TEST_TIMEOUT := 900
THREADS_NO_SKIP := no threads in this kernel

boot-test-user: deps
	$(MAKE) utest-iso scratch-disk
	BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' DISK=$(SCRATCH_DISK) BOOT_TEST_TIMEOUT=$(USER_TEST_TIMEOUT) \
		BOOT_TEST_NO_SKIP='$(THREADS_NO_SKIP)' tools/boot-test.sh qemu $(UTEST_ISO)

# Tests that must not skip under Bochs, whose CPU model (corei7_skylake_x) has what they need:
# there no VM test may skip, and the VMX ktests must have passed. "vm" or "VM" after an S is
# SVM's, whose ktests rightly skip on this Intel model; every other one is a VM or VMX test.
BOCHS_NO_SKIP := kernel_cannot_execute_user_page|[^Ss][Vv][Mm]|vcpu|ENODEV
BOCHS_MIN_PASS := 3:^ok [0-9]+ - vmx_
# With several CPUs (the runners' default; CPUS=1 asks for one), the SMP ktests must not skip.
SMP_NO_SKIP := $(if $(filter 1,$(CPUS)),,|one CPU online)
# The Bochs boot runs 2 CPUs unless CPUS says otherwise: there the APs start in x2APIC mode.
BOCHS_CHECK_CPUS := $(or $(CPUS),2)

# The ktests and the VM tests (/bin/vm, /bin/vmnmi) on Bochs's `ryzen` model: SVM with NRIP
# save, flush-by-ASID and an XSETBV intercept, as AMD hardware has and QEMU's SVM has not, so
# those paths run. /bin/vmfuzz is left out: its random guests triple-fault, which resets that
# model. No VM test may skip there but the two that model cannot run (a guest triple fault
# resets it; a guest spinning with IF = 0 is never interrupted: vm.c says why), and the XSETBV
# exits must have been counted.
VMTEST_ISO := $(BUILD)/dyad-vmtest.iso
CMDLINE_VMTEST := ktest init=/bin/init -- /bin/vm /bin/vmnmi
RYZEN_NO_SKIP := no VMX/SVM|XSETBV|AVX|XSAVE|ENODEV|guest-visible|GiB
RYZEN_MIN_PASS := 1:stats count 2 XSETBV exits

$(VMTEST_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE_VMTEST)" $(USER_ISO_MODULES)

boot-test-ryzen: deps
	$(MAKE) $(VMTEST_ISO)
	BOCHS_CPU=ryzen BOOT_TEST_TIMEOUT=300 BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' \
		BOOT_TEST_NO_SKIP='$(RYZEN_NO_SKIP)' BOOT_TEST_MIN_PASS='$(RYZEN_MIN_PASS)' \
		tools/boot-test.sh bochs $(VMTEST_ISO)

# The self-tests and the user tests that depend most on the CPU (mmap's page sizes and
# protections, faults, the ring-3 register state, /bin/vm, /bin/vmnmi) on QEMU TCG CPU models
# other than -cpu max alone: AMD and Hygon models with SVM and nested paging (the VM tests must
# run), and models without (Intel's under TCG, SVM without nested paging, or without SVM: Dyad
# must refuse VMs with a reason). One boot per model, 5-30 s each; not in `make check`.
# CPU_MODELS='EPYC max,-pdpe1gb' picks models (tools/check-cpu-models.sh has the table and what
# each model must show).
CPU_MODELS ?=
CPUMODELS_ISO := $(BUILD)/dyad-cpumodels.iso
CMDLINE_CPUMODELS := ktest init=/bin/init -- /bin/mmap /bin/faults /bin/cpustate /bin/vm /bin/vmnmi

$(CPUMODELS_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE_CPUMODELS)" $(USER_ISO_MODULES)

.PHONY: check-cpu-models
check-cpu-models: deps
	$(MAKE) $(CPUMODELS_ISO)
	tools/check-cpu-models.sh $(CPUMODELS_ISO) $(CPU_MODELS)

# Each stage appends its counts (passed, failed, skipped tests) to CHECK_SUMMARY; the last line
# totals them, skips apart.
CHECK_SUMMARY = $(abspath $(BUILD))/check-summary.txt
# The guest images the later stages boot (the Debian 12 disk image of the last stage and the cloud
# flavour's kernel; check-tools has built the default kernel and initramfs): on a fresh machine
# downloads and dpkg, two to three minutes, about a minute of CPU. They build in the background
# beside the Bochs stages (no QEMU stage runs meanwhile); check waits for them before the first
# stage that needs them. DEBIAN_E2E_REFERENCE=degraded: bare QEMU boots the image only when
# Dyad's boot is degraded (tests/vmm/debian.sh).
GUEST_BG = $(BUILD)/guest-images-bg
# Not written $(MAKE) in the recipes: make -n runs such lines, and would start the jobs.
CHECK_MAKE = $(MAKE) --no-print-directory
# The DEBUG=1 kernel and ISO of check-debug (its own build directory): built in the background
# beside the Bochs stages too, about 20 s of one CPU.
DEBUG_BG = $(BUILD)/debug-build-bg
# Order: the QEMU boot of the self-tests first, then the Bochs stages (check-bochs), then the
# QEMU stages of the DEBUG=1 kernel and of the VMM. A QEMU stage never runs beside another
# emulator or a build: its TCG runs one thread per CPU, and some of its tests have timing margins.
check: deps
	@mkdir -p $(BUILD) && rm -f $(CHECK_SUMMARY)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) $(MAKE) unit
	$(MAKE) utest-iso scratch-disk
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' DISK=$(SCRATCH_DISK) \
		QEMU_DEVICES=edu BOOT_TEST_STDIN=$(CONSOLE_BURST) BOOT_TEST_TIMEOUT=$(USER_TEST_TIMEOUT) \
		BOOT_TEST_NO_SKIP='$(VM_TEST_NO_SKIP)$(SMP_NO_SKIP)$(BLK_NO_SKIP)|$(THREADS_NO_SKIP)' \
		tools/boot-test.sh qemu $(UTEST_ISO)
	$(MAKE) $(CHECK_BOCHS_BUILD)
	tools/bg-job.sh start $(GUEST_BG) $(CHECK_MAKE) guest-rootfs guest-image-cloud
	tools/bg-job.sh start $(DEBUG_BG) $(CHECK_MAKE) $(CHECK_DEBUG_BUILD)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) $(MAKE) check-bochs
	tools/bg-job.sh wait $(DEBUG_BG)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) $(MAKE) check-debug
	tools/bg-job.sh wait $(GUEST_BG)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) VMM_E2E_NO_SKIP=1 $(MAKE) vmm-e2e
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) VMM_E2E_NO_SKIP=1 $(MAKE) vmm-multiboot
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) VMM_E2E_NO_SKIP=1 DEBIAN_E2E_REFERENCE=degraded \
		$(MAKE) vmm-e2e-debian
	@echo "check: the stages were unit tests, QEMU boot, Bochs boot, Bochs ryzen (SVM) boot of" \
		"the VM tests, the multiboot test kernel under the VMM on Bochs, Linux under the VMM on" \
		"Bochs (VMX; beside the three before it), QEMU boot of a DEBUG=1 kernel, Linux guests" \
		"under the VMM on QEMU (SVM), the multiboot test kernel under the VMM on QEMU, Debian 12" \
		"with systemd under the VMM (QEMU with SVM)"
	@awk '{ print "check:   " $$0; n++; p += $$(NF-5); f += $$(NF-3); s += $$(NF-1) } \
		END { printf "check: %d stages passed, 0 failed; tests: %d passed, %d failed, %d skipped\n", \
			n, p, f, s }' $(CHECK_SUMMARY)

# The Bochs stages of check, two Bochs processes at a time: Linux under the VMM on Bochs (one
# boot of about 6 minutes, make vmm-e2e-bochs) in the background, beside the Bochs boot of the
# self-tests, the ryzen boot and the multiboot kernels under the VMM on Bochs, one after the
# other. Bochs is single-threaded and runs its emulated clock from its instruction count (clock:
# sync=none), so what a guest sees does not depend on host load, and each boot's limit is on
# Bochs's CPU time (tools/boot-test.sh, tests/vmm/boot.sh): two runs at once, or beside other
# work, change their wall time only.
# Everything the stages build is built first: no two makes build the same files at once. A
# failed foreground stage stops the background one, and check stops there as before.
.PHONY: check-bochs
CHECK_BOCHS_BUILD = $(UTEST_ISO) $(VMTEST_ISO) $(VMM_E2E_DEPS) $(VMM_MB_DEPS) guest-image
E2E_BOCHS_BG = $(BUILD)/vmm-e2e-bochs-bg
check-bochs: deps
	$(MAKE) $(CHECK_BOCHS_BUILD)
	tools/bg-job.sh start $(E2E_BOCHS_BG) env VMM_E2E_NO_SKIP=1 $(CHECK_MAKE) vmm-e2e-bochs
	{ BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' CPUS=$(BOCHS_CHECK_CPUS) \
		BOOT_TEST_TIMEOUT=$(BOCHS_USER_TEST_TIMEOUT) \
		BOOT_TEST_NO_SKIP='$(BOCHS_NO_SKIP)$(SMP_NO_SKIP)|$(THREADS_NO_SKIP)' \
		BOOT_TEST_MIN_PASS='$(BOCHS_MIN_PASS)' \
		tools/boot-test.sh bochs $(UTEST_ISO) && \
		$(CHECK_MAKE) boot-test-ryzen && \
		VMM_E2E_NO_SKIP=1 $(CHECK_MAKE) vmm-multiboot-bochs; } || \
		{ tools/bg-job.sh stop $(E2E_BOCHS_BG); exit 1; }
	tools/bg-job.sh finish $(E2E_BOCHS_BG)

# The same boot with DEBUG=1 kernel objects in their own build directory.
CHECK_DEBUG_BUILD = BUILD=$(BUILD)/debug DEBUG=1 utest-iso scratch-disk
check-debug:
	$(MAKE) $(CHECK_DEBUG_BUILD)
	BUILD=$(BUILD)/debug BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' DISK=$(BUILD)/debug/scratch-disk.img \
		QEMU_DEVICES=edu BOOT_TEST_TIMEOUT=$(DEBUG_USER_TEST_TIMEOUT) \
		BOOT_TEST_NO_SKIP='$(BLK_NO_SKIP:|%=%)' tools/boot-test.sh qemu $(BUILD)/debug/dyad-utest.iso

deps:
	tools/install-deps.sh

# ---- interactive -----------------------------------------------------------------------------
# `make run` boots Dyad with the VMM as first process into a Linux guest's shell.
# The default guest (make guest-image) unless both images are given.
# DISK=debian (make guest-rootfs) or DISK=FILE: the guest's disk (tools/run-guest.sh's GUEST_DISK);
# tools/lib.sh's DISK, the emulator's disk for Dyad itself, is not given to these runs.
RUN_GUEST_DEPS := deps $(KERNEL) $(VMM_BIN) $(if $(and $(GUEST_KERNEL),$(INITRD)),,guest-image) \
	$(if $(filter debian,$(DISK)),guest-rootfs)
# GUEST_CPUS: the guest's vCPUs (the VMM's -c), next to RAM= (the guest's memory).
GUEST_CPUS ?= 2
RUN_GUEST = GUEST_DISK='$(DISK)' DISK= GUEST_CPUS='$(GUEST_CPUS)' \
	$(if $(GUEST_KERNEL),KERNEL='$(GUEST_KERNEL)') tools/run-guest.sh

run: $(RUN_GUEST_DEPS)
	$(RUN_GUEST) auto $(KERNEL) $(VMM_BIN)

run-qemu run-guest: $(RUN_GUEST_DEPS)
	$(RUN_GUEST) qemu $(KERNEL) $(VMM_BIN)

run-bochs: $(RUN_GUEST_DEPS)
	$(RUN_GUEST) bochs $(KERNEL) $(VMM_BIN)

# The plain Dyad monitor (or CMDLINE='init=...'), on the same path choice, or chosen.
run-dyad: deps iso
	tools/run.sh $(ISO)

run-dyad-qemu: deps iso
	tools/run-qemu.sh $(ISO)

run-dyad-bochs: deps iso
	tools/run-bochs.sh $(ISO)

debug: deps iso
	tools/debug.sh $(ISO) $(KERNEL)

# ---- tests of the tools and of first use (tests/tools) ------------------------------------------
include $(sort $(wildcard tests/tools/*.mk))

# ---- benchmarks -------------------------------------------------------------------------------
include $(sort $(wildcard tests/bench/*.mk))

# System-call and page-fault costs measured by a user program under QEMU (see tools/bench-user.sh).
bench-user: deps
	$(MAKE) $(UBENCH_ISO)
	tools/bench-user.sh $(UBENCH_ISO)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# ---- editor support ---------------------------------------------------------------------------
# clangd's compilation database, from make's own command lines (a dry run of every compile), so the
# kernel, host-test, benchmark and user builds each get their flags, target-specific ones included.
compile-all: $(KOBJS) $(foreach t,$(UNIT_TESTS),$(UNIT_SRCS_$(t):%.c=$(BUILD)/host/%.o)) \
	$(USER_BINS) $(BENCH_PMAP_SRCS:%.c=$(BUILD)/bench/%.o)

compile_commands.json:
	$(MAKE) --no-print-directory -Bn V=1 compile-all | tools/compile-commands.sh "$(CURDIR)" >$@.tmp
	mv $@.tmp $@

help:
	@echo "Targets:"
	@echo "  make run            boot Dyad straight into a Linux guest's busybox shell on the fastest"
	@echo "                      path: QEMU+KVM (nested VMX), else QEMU TCG (SVM), else Bochs;"
	@echo "                      the guest's 'poweroff -f' ends it (see README)"
	@echo "  make run-qemu       the same in QEMU (KVM if usable, else TCG -cpu max); Ctrl-A X quits"
	@echo "  make run-bochs      the same in Bochs (emulated VMX with EPT); Ctrl-] quits"
	@echo "  make run-guest      the same as make run-qemu"
	@echo "  make run-dyad       boot Dyad to its monitor (or CMDLINE's init=), same path choice;"
	@echo "                      run-dyad-qemu, run-dyad-bochs choose; the monitor's 'quit' ends it"
	@echo "  make debug          QEMU stopped at kmain with gdb attached; Ctrl-C interrupts the kernel"
	@echo "  make iso            build $(ISO) (kernel, user programs, CMDLINE)"
	@echo "  make check          tool tests, unit tests, self-tests and user tests in QEMU and Bochs,"
	@echo "                      a DEBUG=1 kernel, Linux guests under the VMM (QEMU SVM, Bochs VMX),"
	@echo "                      Debian 12 with systemd under the VMM (builds it: root, network)"
	@echo "  make unit           the host unit tests only"
	@echo "  make check-tools    the tests of the build tools and first use"
	@echo "  make bench          benchmarks (figures, not pass/fail), bench-user included"
	@echo "  make bench-user     system-call and page-fault costs measured in QEMU"
	@echo "  make bench-vm       VM exit round trip and second-stage fault costs (QEMU, SVM)"
	@echo "  make bench-guest    the stock bzImage booted directly and by the VMM (Bochs)"
	@echo "  make bench-blk      /dev/vda throughput from a Dyad process and from bare Linux (QEMU)"
	@echo "  make boot-test-q35  ktests and /bin/blk on QEMU Q35 (PCI by ECAM), 4 CPUs, edu (MSI)"
	@echo "  make bench-guest-disk  dd in a guest through the VMM's disk vs bare QEMU; start times (QEMU)"
	@echo "  make check-guest-disk  the guest's disk end to end: persistence, SIGKILL, errors (QEMU)"
	@echo "  make bench-smp      boot with 1, 2, 4 vCPUs against bare QEMU -smp N, parallel speedup, IPI latency"
	@echo "  make bench-threads  thread/process switch, fault-in on 1/2/4 CPUs, munmap cost (QEMU)"
	@echo "  make stress         the address-space stress alone (QEMU), STRESS_SECONDS=300 SEED=-"
	@echo "  make stress-vmm-chaos  the chaos guest under the VMM (QEMU), SEED=- RUNS=8 CHAOS_OPS=4000"
	@echo "  make stress-vmm-inject  interrupt injection stress, 2 and 4 vCPUs (QEMU), INJ_SECONDS=10 INJ_SEED="
	@echo "  make vmm-e2e        Linux guests through the VMM (QEMU); vmm-e2e-bochs on VMX"
	@echo "  make vmm-e2e-kernels  other stock kernels (Debian 13, backports, sid) and guest workloads (QEMU)"
	@echo "  make guest-rootfs   the Debian 12 disk image for DISK=debian (mmdebstrap, as root)"
	@echo "  make vmm-multiboot  the multiboot test kernel and Dyad through the VMM (QEMU);"
	@echo "                      vmm-multiboot-bochs (test kernel), vmm-multiboot-bochs-dyad on VMX"
	@echo "  make boot-test-ryzen  the VM tests on Bochs's ryzen model (SVM with NRIP save, XSETBV exits)"
	@echo "  make check-cpu-models  self-tests and VM tests on ~20 QEMU CPU models (EPYC, Opteron, Intel"
	@echo "                      without VMX, max without npt/svm/pdpe1gb...); CPU_MODELS='...' picks"
	@echo "  make compile_commands.json   compilation database for clangd"
	@echo "  make format         clang-format every C file"
	@echo "  make clean          remove $(BUILD)/"
	@echo "Variables:"
	@echo "  CMDLINE='...'       make run-dyad: Dyad's command line, e.g. CMDLINE='init=/bin/sysconf'"
	@echo "                      (options: ktest, init=PATH, then -- ARGS for init)"
	@echo "  ISO_MODULES='F:/p'  extra files on the run ISO; F is seen by Dyad as /p"
	@echo "  RAM=256M            make run: guest RAM, from 32M to 3G (checked before booting)"
	@echo "  GUEST_CPUS=2        make run: the guest's vCPUs, 1 to 32 (the VMM's -c; one thread each)"
	@echo "  GUEST_CMDLINE='...' make run: words added to the guest kernel's command line"
	@echo "  KERNEL=F, INITRD=F  make run: guest kernel (bzImage, vmlinux or multiboot) and initramfs"
	@echo "                      (default: Debian's bzImage, fetched by make guest-image)"
	@echo "  DISK=debian         make run: the guest boots Debian 12 with systemd from a virtio disk"
	@echo "                      (make guest-rootfs); DISK=FILE: any raw image, its root named by"
	@echo "                      GUEST_CMDLINE (root=/dev/vda rw); writes last until power-off"
	@echo "  RUN_PATH=p          make run/run-dyad: force kvm, tcg-svm or bochs"
	@echo "  CPUS=n              emulated CPUs, 1 to 64 (default: 4 under QEMU, 1 under Bochs)"
	@echo "  QEMU_CPU=m          QEMU runs: the CPU model and flags (default max), e.g. EPYC-Rome or"
	@echo "                      max,-pdpe1gb; checked against qemu-system-x86_64 -cpu help"
	@echo "  DISK=FILE           QEMU runs: attach the raw image FILE as a virtio-blk disk, Dyad's /dev/vda"
	@echo "  DEBUG=1             a kernel whose page-table pair checks every invariant after each change"
	@echo "  BUILD=dir           build directory (default build)"
	@echo "  V=1                 show full command lines"
	@echo "  GDB_PORT=n          make debug's gdb port (default 1234)"
	@echo "  PMAP_SEED, MM_SEED, BUDDY_SEED, ACPI_SEED, CPUMASK_SEED=n   replay a randomized"
	@echo "                      unit-test run (make unit)"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
