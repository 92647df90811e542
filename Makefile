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

KSRCS := $(sort $(wildcard kern/*.c arch/x86/*.c))
KASMS := $(sort $(wildcard arch/x86/*.asm))
KOBJS := $(KSRCS:%.c=$(BUILD)/k/%.o) $(KASMS:%.asm=$(BUILD)/k/%.asm.o)

KERNEL := $(BUILD)/dyad.elf
ISO := $(BUILD)/dyad.iso
TEST_ISO := $(BUILD)/dyad-ktest.iso
CMDLINE_TEST ?= ktest
# Self-tests, then the user-space tests (tests/user) with /bin/init as the first process.
UTEST_ISO := $(BUILD)/dyad-utest.iso
CMDLINE_UTEST ?= ktest init=/bin/init
# The user-space benchmark as the first process.
UBENCH_ISO := $(BUILD)/dyad-ubench.iso

.PHONY: all iso test-iso utest-iso check-debug boot-test-user bench-user kernel check unit boot-test-qemu boot-test-bochs run run-qemu run-bochs debug \
	deps bench format clean help

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

# Extra multiboot2 modules (user programs, guest images) are listed by later build steps.
ISO_MODULES ?=
$(ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(ISO_MODULES)
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE)" $(ISO_MODULES)

$(TEST_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(ISO_MODULES)
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

boot-test-user: deps
	$(MAKE) utest-iso
	BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' tools/boot-test.sh qemu $(UTEST_ISO)

# Each stage appends its counts (passed, failed, skipped tests) to CHECK_SUMMARY; the last line
# totals them, skips apart.
CHECK_SUMMARY = $(abspath $(BUILD))/check-summary.txt
check: deps
	@mkdir -p $(BUILD) && rm -f $(CHECK_SUMMARY)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) $(MAKE) unit
	$(MAKE) utest-iso
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' \
		BOOT_TEST_STDIN=$(CONSOLE_BURST) BOOT_TEST_NO_SKIP='$(VM_TEST_NO_SKIP)' \
		tools/boot-test.sh qemu $(UTEST_ISO)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' \
		tools/boot-test.sh bochs $(UTEST_ISO)
	TEST_SUMMARY_FILE=$(CHECK_SUMMARY) $(MAKE) check-debug
	@echo "check: the stages were unit tests, QEMU boot, Bochs boot, QEMU boot of a DEBUG=1 kernel"
	@awk '{ print "check:   " $$0; n++; p += $$(NF-5); f += $$(NF-3); s += $$(NF-1) } \
		END { printf "check: %d stages passed, 0 failed; tests: %d passed, %d failed, %d skipped\n", \
			n, p, f, s }' $(CHECK_SUMMARY)

# The same boot with DEBUG=1 kernel objects in their own build directory.
check-debug:
	$(MAKE) BUILD=$(BUILD)/debug DEBUG=1 utest-iso
	BUILD=$(BUILD)/debug BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' \
		tools/boot-test.sh qemu $(BUILD)/debug/dyad-utest.iso

deps:
	tools/install-deps.sh

# ---- interactive -----------------------------------------------------------------------------
run: deps iso
	tools/run.sh $(ISO)

run-qemu: deps iso
	tools/run-qemu.sh $(ISO)

run-bochs: deps iso
	tools/run-bochs.sh $(ISO)

debug: deps iso
	tools/debug.sh $(ISO) $(KERNEL)

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

help:
	@echo "make run      boot Dyad interactively (Bochs unless nested-VMX KVM is usable)"
	@echo "make check    unit tests + boot self-tests in QEMU and Bochs"
	@echo "make iso      build $(ISO)"
	@echo "make debug    QEMU with a gdb stub and gdb attached"
	@echo "make bench    benchmarks (figures, not pass/fail)"
	@echo "make clean    remove $(BUILD)/"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
