; The application processors' way from INIT-SIPI-SIPI to C. arch/x86/smp.c copies the blob
; between ap_tramp_start and ap_tramp_end to a page below 1 MiB and fills its parameter block
; (struct ap_params in smp.c: the offsets below must match its static assertions). A SIPI
; starts the AP at the page's first byte in real mode (CS = page >> 4, IP = 0); it loads the
; blob's own GDT, enters protected mode, turns on PAE, long mode and paging on the trampoline
; tables (identity for the page's 2 MiB, the kernel half shared), checks that the parameter
; block is for its APIC ID, and jumps to ap_entry64 in the kernel image, which switches to the
; kernel's page tables and the AP's own stack and calls smp_ap_main(percpu).

%include "arch/x86/segments.inc"

bits 16

%define P_GDTR 0		; u16 limit, u32 base (linear)
%define P_PM32 8		; u32 offset, u16 selector: the 32-bit code, linear
%define P_LM64 16		; u32 offset, u16 selector: the 64-bit code, linear
%define P_CR0 24
%define P_CR3 28		; the trampoline page tables (below 4 GiB)
%define P_CR4 32
%define P_EFER 36		; low half
%define P_ENTRY 40		; ap_entry64
%define P_STACK 48		; the AP's idle stack top
%define P_PERCPU 56
%define P_KERNEL_CR3 64
%define P_APIC_ID 72
%define P_X2APIC 76		; nonzero: compare the x2APIC ID (CPUID 0xB), else CPUID 1's 8-bit ID

section .rodata
align 16
global ap_tramp_start, ap_tramp_end, ap_tramp_params, ap_tramp_pm32, ap_tramp_lm64, ap_tramp_gdt
ap_tramp_start:
	cli
	cld
	mov ax, cs
	mov ds, ax
	movzx esi, ax
	shl esi, 4			; esi = the page's linear address, kept to the end
	o32 lgdt [ap_tramp_params - ap_tramp_start + P_GDTR]
	mov eax, cr0
	or eax, 1			; PE
	mov cr0, eax
	jmp far dword [ap_tramp_params - ap_tramp_start + P_PM32]

bits 32
ap_tramp_pm32:
	LOAD_DATA_SEGMENTS 0x10
	mov eax, [esi + ap_tramp_params - ap_tramp_start + P_CR4]
	mov cr4, eax
	mov eax, [esi + ap_tramp_params - ap_tramp_start + P_CR3]
	mov cr3, eax
	mov ecx, 0xc0000080		; EFER: LME, NXE
	mov eax, [esi + ap_tramp_params - ap_tramp_start + P_EFER]
	xor edx, edx
	wrmsr
	mov eax, [esi + ap_tramp_params - ap_tramp_start + P_CR0]
	mov cr0, eax			; PG: long mode is active
	jmp far [esi + ap_tramp_params - ap_tramp_start + P_LM64]

bits 64
ap_tramp_lm64:
	mov esi, esi			; the upper half is undefined after the mode switch
	; A late AP (one that answered after its start timed out) must not take the block meant
	; for the next: smp.c sends INIT to a late AP, and this check stops one that slipped by.
	cmp dword [rsi + ap_tramp_params - ap_tramp_start + P_X2APIC], 0
	je .xapic_id
	mov eax, 0xb
	xor ecx, ecx
	cpuid
	jmp .compare
.xapic_id:
	mov eax, 1
	cpuid
	shr ebx, 24
	mov edx, ebx
.compare:
	cmp edx, [rsi + ap_tramp_params - ap_tramp_start + P_APIC_ID]
	jne .park
	mov rax, [rsi + ap_tramp_params - ap_tramp_start + P_ENTRY]
	jmp rax
.park:
	cli
	hlt
	jmp .park

align 16
ap_tramp_gdt:
	dq 0
	dq 0x00cf9a000000ffff		; 0x08 32-bit code
	dq 0x00cf92000000ffff		; 0x10 data
	dq 0x00af9a000000ffff		; 0x18 64-bit code
align 16
ap_tramp_params:
	times 80 db 0
ap_tramp_end:

section .text
extern smp_ap_main
; In the kernel image, still on the trampoline tables (rsi = the page, identity-mapped).
global ap_entry64
ap_entry64:
	mov rsp, [rsi + ap_tramp_params - ap_tramp_start + P_STACK]
	mov rdi, [rsi + ap_tramp_params - ap_tramp_start + P_PERCPU]
	mov rax, [rsi + ap_tramp_params - ap_tramp_start + P_KERNEL_CR3]
	mov cr3, rax
	xor ebp, ebp			; ends the backtrace chain
	call smp_ap_main		; does not return
.hang:
	cli
	hlt
	jmp .hang

section .note.GNU-stack noalloc noexec nowrite progbits
