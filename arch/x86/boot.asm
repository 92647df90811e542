; Boot: GRUB (multiboot2) enters here in 32-bit protected mode, paging off. We build the boot
; page tables, enter long mode and jump to kmain in the higher half.
;
; Invariant from the first instruction: every page-table page is an 8 KiB, 8 KiB-aligned pair
; whose even half is the host table and whose odd half is the EPT for the same addresses. The
; kernel's tables are never linked into an EPT, so their odd halves stay zero; boot_ktest
; checks that.

%include "arch/x86/segments.inc"

%define KERNEL_VMA 0xffffffff80000000
%define PHYS(x) ((x) - KERNEL_VMA)

%define MB2_MAGIC 0xe85250d6
%define MB2_BOOT_MAGIC 0x36d76289

%define PTE_P (1 << 0)
%define PTE_W (1 << 1)
%define PTE_PS (1 << 7)

%define PAIR_SIZE 8192

section .multiboot2
align 8
mb2_header:
	dd MB2_MAGIC
	dd 0				; i386 (protected mode) entry
	dd mb2_header_end - mb2_header
	dd -(MB2_MAGIC + 0 + (mb2_header_end - mb2_header))
align 8
	; Entry address tag: the ELF entry is a higher-half address GRUB cannot jump to.
	dw 3, 0
	dd 12
	dd PHYS(boot_entry32)
align 8
	dw 0, 0				; end tag
	dd 8
mb2_header_end:

; Multiboot (v1), for loaders that know only that (Dyad's VMM): page-aligned modules and a
; memory map asked for; the image is loaded by its ELF64 program headers (so not by `qemu
; -kernel`, which takes ELF32 only), and the entry, boot_entry32, is the same. boot_mb1.c turns
; the information into multiboot2 before kmain.
%define MB1_MAGIC 0x1badb002
%define MB1_FLAGS 0x00000003
%define MB1_BOOT_MAGIC 0x2badb002
align 4
mb1_header:
	dd MB1_MAGIC
	dd MB1_FLAGS
	dd -(MB1_MAGIC + MB1_FLAGS)

section .boot.text
bits 32
global boot_entry32
boot_entry32:
	cli
	cld
	mov esp, PHYS(boot_stack_top)
	mov edi, eax			; multiboot2 magic, kept for kmain
	mov esi, ebx			; physical address of the boot information

	; Caching on. Firmware may hand over with CR0.CD and CR0.NW still at their reset value 1
	; (Bochs's BIOS does), and then every access, user processes' included, bypasses the
	; caches. With NW set the caches may hold lines that were never written back: the SDM
	; (vol. 3A, 11.5.3) has them written back and invalidated before the mode changes.
	mov eax, cr0
	test eax, (1 << 30) | (1 << 29)	; CD, NW
	jz .cache_on
	wbinvd
	and eax, ~((1 << 30) | (1 << 29))
	mov cr0, eax
.cache_on:

	; Long mode is required: CPUID 0x80000001 EDX bit 29.
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000001
	jb .no_long_mode
	mov eax, 0x80000001
	cpuid
	test edx, 1 << 29
	jz .no_long_mode
	mov ebp, edx			; remember NX (bit 20)

	; Zero the four boot pairs, both halves.
	push edi
	mov edi, PHYS(boot_tables_start)
	mov ecx, (boot_tables_end - boot_tables_start) / 4
	xor eax, eax
	rep stosd
	pop edi

	; PML4[0] (identity, for the jump) and PML4[256] (direct map) share the low PDPT:
	; both map the first GiB. PML4[511] maps the kernel image at -2 GiB.
	mov eax, PHYS(boot_pdpt_low) + PTE_P + PTE_W
	mov [PHYS(boot_pml4) + 0 * 8], eax
	mov [PHYS(boot_pml4) + 256 * 8], eax
	mov eax, PHYS(boot_pdpt_high) + PTE_P + PTE_W
	mov [PHYS(boot_pml4) + 511 * 8], eax
	mov eax, PHYS(boot_pd) + PTE_P + PTE_W
	mov [PHYS(boot_pdpt_low) + 0 * 8], eax
	mov [PHYS(boot_pdpt_high) + 510 * 8], eax

	; boot_pd: the first GiB in 2 MiB pages.
	mov ecx, 0
.fill_pd:
	mov eax, ecx
	shl eax, 21
	or eax, PTE_P + PTE_W + PTE_PS
	mov [PHYS(boot_pd) + ecx * 8], eax
	inc ecx
	cmp ecx, 512
	jb .fill_pd

	mov eax, cr4
	or eax, 1 << 5			; PAE
	mov cr4, eax
	mov eax, PHYS(boot_pml4)
	mov cr3, eax

	mov ecx, 0xc0000080		; EFER
	rdmsr
	or eax, 1 << 8			; LME
	test ebp, 1 << 20
	jz .no_nx
	or eax, 1 << 11			; NXE
.no_nx:
	wrmsr

	; NE: x87 errors raise #MF instead of the legacy FERR# line, and VMXON requires it.
	mov eax, cr0
	or eax, (1 << 31) | (1 << 16) | (1 << 5) | 1	; PG, WP, NE, PE
	mov cr0, eax

	lgdt [PHYS(gdt_ptr32)]
	jmp 0x08:PHYS(boot_entry64_low)

.no_long_mode:
	; No console yet: say it on COM1 at whatever rate the firmware left, then stop.
	mov esi, PHYS(msg_no_long_mode)
.putc:
	lodsb
	test al, al
	jz .halt
	mov dx, 0x3f8
	out dx, al
	jmp .putc
.halt:
	hlt
	jmp .halt

bits 64
boot_entry64_low:
	mov rax, boot_entry64_high
	jmp rax

section .text
extern kmain
extern boot_mb1_to_mb2
boot_entry64_high:
	lgdt [gdt_ptr64]
	LOAD_DATA_SEGMENTS 0x10
	mov rsp, boot_stack_top
	xor ebp, ebp			; ends the backtrace chain
	; edi = magic, esi = boot information (physical); zero-extend both.
	mov edi, edi
	mov esi, esi
	cmp edi, MB1_BOOT_MAGIC
	jne .call_kmain
	mov edi, esi
	call boot_mb1_to_mb2		; the same information as multiboot2, for kmain
	mov rsi, rax
	mov edi, MB2_BOOT_MAGIC
.call_kmain:
	call kmain
.hang:
	cli
	hlt
	jmp .hang

section .rodata
msg_no_long_mode:
	db "dyad: this CPU has no long mode (x86-64); cannot boot", 13, 10, 0

align 16
global gdt
gdt:
	dq 0				; null
	dq 0x00af9a000000ffff		; 0x08 kernel code, 64-bit
	dq 0x00cf92000000ffff		; 0x10 kernel data
gdt_end:

gdt_ptr32:
	dw gdt_end - gdt - 1
	dd PHYS(gdt)

gdt_ptr64:
	dw gdt_end - gdt - 1
	dq gdt

section .bss
align PAIR_SIZE
global boot_tables_start, boot_tables_end, boot_pml4, boot_pdpt_low, boot_pdpt_high, boot_pd
boot_tables_start:
boot_pml4:	resb PAIR_SIZE
boot_pdpt_low:	resb PAIR_SIZE
boot_pdpt_high:	resb PAIR_SIZE
boot_pd:	resb PAIR_SIZE
boot_tables_end:

align 16
global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	resb 32768
boot_stack_top:
