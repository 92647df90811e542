; The chaos guest's assembly half (main.c is the rest): the bootstrap processor's entry, the
; application processor's real-mode start (copied by the BSP to every page a SIPI of the guest
; may name) on its way to long mode, and the interrupt and exception stubs. Loaded as an ELF at
; 1 MiB and entered by the VMM in 64-bit mode with the first 4 GiB identity-mapped.
bits 64

%define STACK_SIZE	0x4000

section .text
global _start
extern bsp_main
_start:
	cli
	lea rsp, [bsp_stack + STACK_SIZE]
	mov rbx, rsi			; boot_params
	lgdt [gdtr64]
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	push 0x18
	lea rax, [rel .cs]
	push rax
	retfq
.cs:
	mov rdi, rbx
	call bsp_main
	out 0xf4, al			; a verdict from bsp_main ends the VM
.stop:
	cli
	hlt
	jmp .stop

; ---- the AP start: [tramp_start, tramp_end) is copied to each SIPI page ----------------------
; CS = vector << 8, IP = 0. 32-bit protected mode on the GDT below, then long mode on the BSP's
; page tables (ap_cr3), the AP's stack from its top again, and ap_main(), which goes on with the
; AP's operations where an INIT stopped them.
bits 16
global tramp_start, tramp_end
tramp_start:
	cli
	mov ax, cs
	mov ds, ax
	o32 lgdt [gdtr - tramp_start]
	mov eax, cr0
	or eax, 1
	mov cr0, eax
	jmp dword 0x08:ap_pm32
gdtr:
	dw gdt_end - gdt - 1
	dd gdt
tramp_end:

bits 32
ap_pm32:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov eax, cr4
	or eax, 0x20			; PAE
	mov cr4, eax
	mov eax, [ap_cr3]
	mov cr3, eax
	mov ecx, 0xc0000080		; EFER.LME
	rdmsr
	or eax, 0x100
	wrmsr
	mov eax, cr0
	and eax, 0x9fffffff		; CD and NW off
	or eax, 0x80000001		; PG, PE
	mov cr0, eax
	jmp 0x18:ap_lm64

bits 64
extern ap_main
ap_lm64:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	lea rsp, [ap_stack + STACK_SIZE]
	call ap_main
.stop:
	cli
	hlt
	jmp .stop

; ---- every vector to trap_entry(frame) ---------------------------------------------------------
; Only the exceptions 8 and 10-14 push an error code: the VMM injects external interrupts from
; vector 16 on, and a guest's own IPI or device may use 16-31, so those have the frame of an
; interrupt (the exceptions 17, 21, 29 and 30 never happen in this guest). The stubs of all the
; others push a 0. trap_entry() may change the frame's RIP (the recovery of a faulting operation).
extern trap_entry
global trap_stubs
align 16
trap_stubs:
%assign v 0
%rep 256
	align 16
%if v == 8 || (v >= 10 && v <= 14)
	push qword v
%else
	push qword 0
	push qword v
%endif
	jmp trap_common
%assign v v + 1
%endrep

trap_common:
	push rbx
	push rax
	push rcx
	push rdx
	push rsi
	push rdi
	push r8
	push r9
	push r10
	push r11
	lea rdi, [rsp + 10 * 8]		; vector, error code, RIP, CS, RFLAGS, RSP, SS
	mov rbx, rsp
	and rsp, -16
	call trap_entry
	mov rsp, rbx
	pop r11
	pop r10
	pop r9
	pop r8
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rax
	pop rbx
	add rsp, 16			; vector, error code
	iretq

section .data
align 16
global gdt
gdt:
	dq 0
	dq 0x00cf9a000000ffff		; 0x08: code, 32-bit
	dq 0x00cf92000000ffff		; 0x10: data
	dq 0x00af9a000000ffff		; 0x18: code, 64-bit
gdt_end:
gdtr64:
	dw gdt_end - gdt - 1
	dq gdt

global ap_cr3
ap_cr3:		dq 0

section .bss
align 16
global bsp_stack, ap_stack
bsp_stack:	resb STACK_SIZE
ap_stack:	resb STACK_SIZE
