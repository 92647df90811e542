# The VM test programs and benchmark: musl programs playing VMM to the nasm guests of
# tests/user/vm_guests.asm, linked into each of them.

VM_PROGS := vm vmfuzz
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
