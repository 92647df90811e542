# Host unit tests of the VMM's device models, loaders and parsers (no VMX or SVM needed).
# The VMM's sources see the user ABI as <dyad/...> (include/uapi) ahead of the kernel's headers.
# Every test links the VMM's core (the bus and logging) and the files it names.
VMM_UNIT := bus cpuid uart pic x2apic boot image misc multiboot fw_cfg pcports acpi ioapic pit \
	pci virtq virtio ipi halt
UNIT_TESTS += $(VMM_UNIT:%=vmm_%)
VMM_UNIT_CORE := user/vmm/bus.c user/vmm/log.c

UNIT_SRCS_vmm_bus := tests/unit/vmm_bus.c user/vmm/mmio.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_cpuid := tests/unit/vmm_cpuid.c user/vmm/cpuid.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_uart := tests/unit/vmm_uart.c user/vmm/uart.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_pic := tests/unit/vmm_pic.c user/vmm/pic.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_x2apic := tests/unit/vmm_x2apic.c user/vmm/x2apic.c user/vmm/pic.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_boot := tests/unit/vmm_boot.c user/vmm/bootparams.c user/vmm/boot64.c \
	user/vmm/image.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_image := tests/unit/vmm_image.c user/vmm/image.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_multiboot := tests/unit/vmm_multiboot.c user/vmm/multiboot.c user/vmm/options.c \
	user/vmm/bootparams.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_fw_cfg := tests/unit/vmm_fw_cfg.c user/vmm/fw_cfg.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_pcports := tests/unit/vmm_pcports.c user/vmm/ports.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_acpi := tests/unit/vmm_acpi.c user/vmm/acpi.c user/vmm/pm.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_ioapic := tests/unit/vmm_ioapic.c user/vmm/ioapic.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_ipi := tests/unit/vmm_ipi.c user/vmm/ipi.c user/vmm/x2apic.c user/vmm/pic.c \
	$(VMM_UNIT_CORE)
UNIT_SRCS_vmm_halt := tests/unit/vmm_halt.c user/vmm/halt.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_pit := tests/unit/vmm_pit.c user/vmm/pit.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_pci := tests/unit/vmm_pci.c user/vmm/pci.c user/vmm/msix.c user/vmm/acpi.c \
	$(VMM_UNIT_CORE)
UNIT_SRCS_vmm_virtq := tests/unit/vmm_virtq.c user/vmm/virtq.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_virtio := tests/unit/vmm_virtio.c user/vmm/virtio_pci.c user/vmm/virtq.c \
	user/vmm/msix.c user/vmm/pci.c user/vmm/virtio_blk.c user/vmm/virtio_blk_backend.c \
	user/vmm/virtio_console.c user/vmm/virtio_rng.c user/vmm/options.c $(VMM_UNIT_CORE)
UNIT_SRCS_vmm_misc := tests/unit/vmm_misc.c user/vmm/options.c user/vmm/console.c \
	user/vmm/mmio.c user/vmm/cpuid.c user/vmm/rtc.c user/vmm/ports.c user/vmm/msr.c \
	$(VMM_UNIT_CORE)

$(BUILD)/host/user/vmm/%.o $(BUILD)/host/tests/unit/vmm_%.o: HOSTCFLAGS := -Iinclude/uapi \
	-Iuser/vmm $(HOSTCFLAGS)
