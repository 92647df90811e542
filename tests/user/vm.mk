# The VM test programs and benchmark: musl programs playing VMM to the nasm guests of
# tests/user/vm_guests.asm, linked into each of them.

VM_PROGS := vm vmfuzz vmbench vmsmp vmnmi
VM_BINS := $(VM_PROGS:%=$(BUILD)/user/%)
VM_GUESTS_OBJ := $(BUILD)/user/vm_guests.o

USER_BINS += $(VM_BINS)
USER_ISO_MODULES += $(foreach p,$(VM_PROGS),$(BUILD)/user/$(p):/bin/$(p))

$(VM_GUESTS_OBJ): tests/user/vm_guests.asm
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NASM    $<")
	$(Q)$(NASM) -f elf64 $< -o $@

$(VM_BINS): $(BUILD)/user/%: tests/user/%.c tests/user/vm_lib.h $(VM_GUESTS_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(USER_CC) $(USER_CFLAGS) -o $@ $< $(VM_GUESTS_OBJ)

# 1 KiB of serial input for the console test of /bin/vm (the QEMU boot of `make check` feeds it
# from the start). It follows a newline: QEMU holds one byte in the UART before the kernel
# enables the FIFO, which flushes it, and the test ignores a leading newline.
CONSOLE_BURST := $(BUILD)/console-burst.txt
$(CONSOLE_BURST):
	@mkdir -p $(dir $@)
	awk 'BEGIN { printf "\n"; for (i = 0; i < 1024; i++) printf "%c", 33 + (i * 7) % 90 }' >$@

utest-iso: $(CONSOLE_BURST)

# QEMU's `-cpu max` has SVM with nested paging: there the VM tests must run, never skip.
VM_TEST_NO_SKIP := no VMX/SVM

# `make bench-vm`: the VM figures under QEMU with SVM (tools/bench-vm.sh).
VMBENCH_ISO := $(BUILD)/dyad-vmbench.iso
$(VMBENCH_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "init=/bin/vmbench" $(USER_ISO_MODULES)

.PHONY: bench-vm
bench-vm: deps
	$(MAKE) $(VMBENCH_ISO)
	tools/bench-vm.sh $(VMBENCH_ISO)
