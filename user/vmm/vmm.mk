# The VMM: a static musl program, linked far above any guest RAM (guest-physical X is its
# virtual X, so its image, heap and stack must stay out of [0, BOOT_RAM_MAX)). mmap places
# without a hint search down from the top of the user half, so only the image and brk need
# placing.
VMM_SRCS := $(sort $(wildcard user/vmm/*.c))
VMM_BIN := $(BUILD)/user/vmm
VMM_TEXT := 0x600000000000
# musl has no kernel headers: <asm/bootparam.h> and its includes come from linux-libc-dev,
# through a directory of links so that nothing else of the host's libc leaks in.
VMM_KINC := $(BUILD)/vmm-kinc
# The small code model cannot reach above 2 GiB: the VMM's code is position-independent
# (RIP-relative) yet linked as a fixed ET_EXEC, which is what Dyad loads; --no-relax keeps the
# linker from turning GOT loads into 32-bit absolute addresses.
VMM_CFLAGS := $(filter-out -MMD -MP -fno-pie,$(USER_CFLAGS)) -fpie -Wno-unused-parameter \
	-fno-delete-null-pointer-checks -Iuser/vmm -I$(VMM_KINC) \
	-nostartfiles -Wl,-Ttext-segment=$(VMM_TEXT) -Wl,--no-relax

$(VMM_KINC)/.stamp:
	@mkdir -p $(VMM_KINC)
	ln -sfn /usr/include/linux $(VMM_KINC)/linux
	ln -sfn /usr/include/asm-generic $(VMM_KINC)/asm-generic
	ln -sfn /usr/include/x86_64-linux-gnu/asm $(VMM_KINC)/asm
	ln -sfn /usr/include/video $(VMM_KINC)/video
	@touch $@

$(VMM_BIN): $(VMM_SRCS) $(wildcard user/vmm/*.h) $(VMM_KINC)/.stamp include/uapi/dyad/vcpu.h \
		include/uapi/dyad/abi.h user/vmm/vmm.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSLCC  $@")
	$(Q)$(USER_CC) $(VMM_CFLAGS) -o $@ $(VMM_SRCS)

.PHONY: vmm guest-image
vmm: $(VMM_BIN)

# Debian's kernel and a busybox initramfs (tools/guest-image.sh), cached under build/guest.
GUEST_DIR := $(BUILD)/guest
guest-image:
	tools/guest-image.sh $(GUEST_DIR)
# The Debian 12 root file system (tools/guest-rootfs.sh; mmdebstrap, as root), cached as
# GUEST_DIR/debian.ext4: the disk of `make run DISK=debian` and of vmm-e2e-debian.
.PHONY: guest-rootfs
guest-rootfs: deps guest-image
	tools/guest-rootfs.sh $(GUEST_DIR)
# Debian's other amd64 flavours, each in GUEST_DIR-FLAVOUR (the e2e cases linux-cloud, linux-rt).
.PHONY: guest-image-cloud guest-image-rt
guest-image-cloud guest-image-rt: guest-image-%:
	FLAVOUR=$* tools/guest-image.sh $(GUEST_DIR)-$*

# ---- end-to-end tests (tests/vmm/e2e.sh) ------------------------------------------------------
# The misbehaving guest: a nasm ELF loaded at 1 MiB like a kernel.
VMM_BAD_GUEST := $(BUILD)/vmm/bad_guest
$(VMM_BAD_GUEST): tests/vmm/bad_guest.asm
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -o $@.o $<
	$(LD) -nostdlib -z max-page-size=0x1000 -z noexecstack -Ttext-segment=0x100000 -e _start -o $@ $@.o

# The hostile virtio driver, built the same way; e2e.sh finds it next to the bad guest.
VMM_HOSTILE_GUEST := $(BUILD)/vmm/hostile_virtio
$(VMM_HOSTILE_GUEST): tests/vmm/hostile_virtio.asm
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -o $@.o $<
	$(LD) -nostdlib -z max-page-size=0x1000 -z noexecstack -Ttext-segment=0x100000 -e _start -o $@ $@.o

# The two-vCPU test guests, ELFs at 1 MiB like the others; e2e.sh finds them next to the bad
# guest. The SMP test guest (tests/vmm/smpguest: INIT-SIPI-SIPI, IPI storm, bad IPIs, IPI
# latency) and the chaos guest (tests/vmm/chaos: thousands of random device, MSR, CPUID, IPI and
# XSETBV operations from a seed on two vCPUs) share their CPU set-up: tests/vmm/guest_cpu.c,
# tests/vmm/guest_entry.inc (in each entry.asm) and tests/vmm/guest.ld.
VMM_SMP_GUEST := $(BUILD)/vmm/smpguest
VMM_CHAOS_GUEST := $(BUILD)/vmm/chaos
SMPG_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-stack-protector -fno-pic \
	-fno-pie -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables -fno-builtin
$(BUILD)/vmm/guest_cpu.o: tests/vmm/guest_cpu.c tests/vmm/guest_cpu.h
	@mkdir -p $(dir $@)
	$(CC) $(SMPG_CFLAGS) -c -o $@ $<
$(BUILD)/vmm/smpguest-main.o $(BUILD)/vmm/chaos-main.o: $(BUILD)/vmm/%-main.o: tests/vmm/%/main.c \
		tests/vmm/guest_io.h tests/vmm/guest_cpu.h tests/vmm/guest_cmdline.h
	@mkdir -p $(dir $@)
	$(CC) $(SMPG_CFLAGS) -c -o $@ $<
$(BUILD)/vmm/smpguest-entry.o $(BUILD)/vmm/chaos-entry.o: $(BUILD)/vmm/%-entry.o: \
		tests/vmm/%/entry.asm tests/vmm/guest_entry.inc
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -Itests/vmm/ -o $@ $<
$(VMM_SMP_GUEST) $(VMM_CHAOS_GUEST): $(BUILD)/vmm/%: $(BUILD)/vmm/%-entry.o $(BUILD)/vmm/%-main.o \
		$(BUILD)/vmm/guest_cpu.o tests/vmm/guest.ld
	$(LD) -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments \
		-T tests/vmm/guest.ld -o $@ $(filter %.o,$^)

# vmmrun, the first process that runs the VMM several times in one boot and checks each run's
# status and free frames; e2e.sh finds it next to the bad guest.
VMM_RUNNER := $(BUILD)/vmm/vmmrun
$(VMM_RUNNER): tests/vmm/vmmrun.c tests/user/utest.h
	@mkdir -p $(dir $@)
	$(USER_CC) $(filter-out -MMD -MP,$(USER_CFLAGS)) -o $@ $<

VMM_E2E_DEPS := $(KERNEL) $(VMM_BIN) $(VMM_BAD_GUEST) $(VMM_HOSTILE_GUEST) $(VMM_SMP_GUEST) \
	$(VMM_CHAOS_GUEST) $(VMM_RUNNER) \
	tests/vmm/e2e.sh tools/mkiso.sh

.PHONY: vmm-e2e vmm-e2e-quick vmm-e2e-flavours vmm-e2e-smp
# For `make check`: the stock bzImage (the artifact users have), the same kernel with 2 and 4
# vCPUs, and the vmlinux fast path, each through the guest test script, the cloud flavour's
# vmlinux (ACPI only: no MP-table parser), then the misbehaving guest and a guest kernel that panics
# (garbage initrd), the virtio devices (twice: hvc0, then ttyS0), the hostile virtio driver, a
# command typed on hvc0 (the busybox shell, about 30 s), the SMP test guest (about 20 s) and the
# chaos guest with one fixed seed, its four finales and 41 bad VMM inputs (one boot, 16-22 s). About
# 10 minutes under QEMU TCG.
vmm-e2e: deps $(VMM_E2E_DEPS) guest-image guest-image-cloud
	tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) linux-bzimage linux-smp2 \
		linux-smp4 linux-vmlinux linux-cloud bad-guest garbage-initrd linux-virtio hostile-virtio \
		hvc0-input smp-guest chaos-guest
# The chaos guest under QEMU with RUNS seeds from SEED on (SEED=- or none: a new random one),
# CHAOS_OPS operations per vCPU, all runs in one boot, then the bad inputs; each seed's line gives
# the words that replay it (tests/vmm/chaos/main.c). VMM_E2E_EMU=bochs runs it under Bochs (VMX).
RUNS ?= 8
CHAOS_OPS ?= 4000
.PHONY: stress-vmm-chaos
stress-vmm-chaos: deps $(VMM_E2E_DEPS) guest-image
	@if [ -z "$(SEED)" ] || [ "$(SEED)" = - ]; then first=$$(od -An -tu4 -N4 /dev/urandom | tr -d ' '); \
	else first=$$(( $(SEED) )); fi; \
	seeds=$$(for i in $$(seq 0 $$(( $(RUNS) - 1 ))); do printf '%#x ' $$(( first + i )); done); \
	echo "stress-vmm-chaos: seeds $$seeds(replay: make stress-vmm-chaos SEED=$$(printf '%#x' $$first) RUNS=$(RUNS) CHAOS_OPS=$(CHAOS_OPS))"; \
	CHAOS_SEEDS="$$seeds" CHAOS_OPS=$(CHAOS_OPS) VMM_E2E_TIMEOUT=$${VMM_E2E_TIMEOUT:-1800} \
		tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) chaos-guest
# The SMP test guest's injection stress (tests/vmm/smpguest, smpg.inj): 2 and then 4 vCPUs doing
# x2APIC WRMSRs in every interrupt window while IPIs, timers and NMIs come in, INJ_SECONDS each
# (default 10) from INJ_SEED (default: a new seed each boot, printed; it replays each vCPU's
# operations). About 1 minute under QEMU; VMM_E2E_EMU=bochs for VMX.
.PHONY: stress-vmm-inject
stress-vmm-inject: deps $(VMM_E2E_DEPS)
	tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) smp-inject2 smp-inject4

# Every amd64 flavour Debian ships for the release (vmlinux each), about 4 minutes.
vmm-e2e-flavours: deps $(VMM_E2E_DEPS) guest-image guest-image-cloud guest-image-rt
	tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) linux-vmlinux \
		linux-cloud linux-rt
# Multi-vCPU guests: Debian's kernel with -c 2, -c 4 and -c 8 (oversubscribed), and the SMP test
# guest with a 10 s IPI storm, about 5 minutes.
vmm-e2e-smp: deps $(VMM_E2E_DEPS) guest-image
	tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) linux-smp2 linux-smp4 linux-smp8 \
		smp-guest-10s
# Debian 12 with systemd from a virtio disk (tests/vmm/debian.sh): Dyad's VMM, then bare QEMU as
# the reference, under QEMU TCG, with the boot times side by side. make check runs it with
# DEBIAN_E2E_REFERENCE=degraded: bare QEMU only when Dyad's boot is degraded.
.PHONY: vmm-e2e-debian
vmm-e2e-debian: deps $(KERNEL) $(VMM_BIN) tests/vmm/debian.sh tools/mkiso.sh guest-image guest-rootfs
	tests/vmm/debian.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR)
# Under Bochs (Dyad's VMX backend on Bochs's EPT walker): by default the kernel with 2 vCPUs on 2
# emulated CPUs (INIT-SIPI-SIPI into real mode, IPIs, the SMP checks; about 5 minutes), as
# `make check` runs it; BOCHS_E2E_CASES=linux-bzimage boots the stock bzImage with one vCPU
# instead (its 100 s of emulated decompression run with interrupts off).
BOCHS_E2E_CASES ?= linux-smp2
.PHONY: vmm-e2e-bochs
vmm-e2e-bochs: deps $(VMM_E2E_DEPS) guest-image
	CPUS=2 VMM_E2E_EMU=bochs tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) \
		$(BOCHS_E2E_CASES)
# Figures: the bzImage booted directly by GRUB and by Dyad's VMM, side by side under Bochs.
.PHONY: bench-guest
bench-guest: deps $(KERNEL) $(VMM_BIN) guest-image
	tools/bench-guest.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR)
# Multi-vCPU figures under QEMU: boot to the banner with 1, 2, 4 vCPUs against bare QEMU -smp N
# (same bzImage and initramfs), the parallel checksum's speedup, the SMP test guest's IPI latency.
.PHONY: bench-smp
bench-smp: deps $(KERNEL) $(VMM_BIN) $(VMM_SMP_GUEST) guest-image
	tools/bench-smp.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_SMP_GUEST)
# The vmlinux fast path and the misbehaving guest only.
vmm-e2e-quick: deps $(VMM_E2E_DEPS) guest-image
	tests/vmm/e2e.sh $(KERNEL) $(VMM_BIN) $(GUEST_DIR) $(VMM_BAD_GUEST) linux-vmlinux bad-guest

# run-guest (the same as run-qemu) is defined in the Makefile next to run: like it, it passes
# KERNEL= on to tools/run-guest.sh as the guest kernel.

# ---- the multiboot test kernel (tests/vmm/mbkernel) ----------------------------------------------
# One link at 1 MiB, three images: the ELF64 itself (loaded by its program headers), the same
# converted to ELF32 (what `qemu -kernel` takes), and a flat binary whose header carries the
# a.out-kludge address fields (flag 16).
MBK_DIR := $(BUILD)/vmm/mbkernel
MBK_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-stack-protector -fno-pic \
	-fno-pie -mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables -fno-builtin
MBK_LDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments \
	-T tests/vmm/mbkernel/mbkernel.ld
MBK_ELF := $(MBK_DIR)/mbkernel.elf
MBK_ELF32 := $(MBK_DIR)/mbkernel32.elf
MBK_BIN := $(MBK_DIR)/mbkernel.bin

$(MBK_DIR)/main.o: tests/vmm/mbkernel/main.c tests/vmm/guest_io.h tests/vmm/guest_cmdline.h \
		user/vmm/vmm.mk
	@mkdir -p $(dir $@)
	$(CC) $(MBK_CFLAGS) -c -o $@ $<
$(MBK_DIR)/entry.o: tests/vmm/mbkernel/entry.asm
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -o $@ $<
$(MBK_DIR)/entry-aout.o: tests/vmm/mbkernel/entry.asm
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -DAOUT -o $@ $<
$(MBK_ELF): $(MBK_DIR)/entry.o $(MBK_DIR)/main.o tests/vmm/mbkernel/mbkernel.ld
	$(LD) $(MBK_LDFLAGS) -o $@ $(MBK_DIR)/entry.o $(MBK_DIR)/main.o
$(MBK_ELF32): $(MBK_ELF)
	objcopy -O elf32-i386 $< $@
$(MBK_DIR)/mbkernel-aout.elf: $(MBK_DIR)/entry-aout.o $(MBK_DIR)/main.o tests/vmm/mbkernel/mbkernel.ld
	$(LD) $(MBK_LDFLAGS) -o $@ $(MBK_DIR)/entry-aout.o $(MBK_DIR)/main.o
$(MBK_BIN): $(MBK_DIR)/mbkernel-aout.elf
	objcopy -O binary $< $@

.PHONY: mbkernel
mbkernel: $(MBK_ELF) $(MBK_ELF32) $(MBK_BIN)

# The multiboot test kernel through the VMM (tests/vmm/multiboot.sh), then Dyad as its guest:
# QEMU TCG (SVM), about 40 s. Under Bochs (VMX) the three test-kernel boots take about 60 s and
# go into make check; Dyad's self-tests as a guest add about 110 s: vmm-multiboot-bochs-dyad.
VMM_MB_DEPS := $(KERNEL) $(VMM_BIN) mbkernel tests/vmm/multiboot.sh tools/mkiso.sh
.PHONY: vmm-multiboot vmm-multiboot-bochs vmm-multiboot-bochs-dyad
vmm-multiboot: deps $(VMM_MB_DEPS)
	tests/vmm/multiboot.sh $(KERNEL) $(VMM_BIN) $(MBK_DIR)
vmm-multiboot-bochs: deps $(VMM_MB_DEPS)
	VMM_E2E_EMU=bochs tests/vmm/multiboot.sh $(KERNEL) $(VMM_BIN) $(MBK_DIR) elf64 elf32 aout
vmm-multiboot-bochs-dyad: deps $(VMM_MB_DEPS)
	VMM_E2E_EMU=bochs tests/vmm/multiboot.sh $(KERNEL) $(VMM_BIN) $(MBK_DIR) dyad

# ---- other stock kernels (tests/vmm/kernels.sh) --------------------------------------------------
# Debian 13's kernel, Debian 12's backported one and Debian's unstable one (tools/guest-kernels.sh
# fetches each into build/kernels: about 350 MB of packages the first time; a SKIP where the
# archive cannot be reached), each booted by the VMM with 1 and 2 vCPUs through the guest test
# script and its workloads (memory hog, short processes, threads, timers under load,
# /proc/interrupts while IPIs fly), and the bzImage with 1 vCPU: 9 boots, 50 minutes under QEMU
# TCG on a 2-core host at load 12-14 (the fetch redoes apt-get update: 2-3 minutes a kernel);
# not in make check.
GUEST_KERNELS ?= trixie bookworm-backports sid
GUEST_THREADS := $(BUILD)/vmm/guest-threads
$(GUEST_THREADS): tests/vmm/guest-threads.c
	@mkdir -p $(dir $@)
	$(USER_CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
.PHONY: vmm-e2e-kernels
vmm-e2e-kernels: deps $(KERNEL) $(VMM_BIN) $(GUEST_THREADS) tests/vmm/kernels.sh tools/mkiso.sh
	KERNELS_FETCH=1 KERNELS_THREADS=$(GUEST_THREADS) tests/vmm/kernels.sh $(KERNEL) $(VMM_BIN) \
		$(BUILD)/kernels $(GUEST_KERNELS)
