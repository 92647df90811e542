; The SMP test guest's assembly half (main.c is the rest): the bootstrap processor's entry, the
; application processors' real-mode start (copied below 1 MiB by the BSP, entered at the SIPI
; vector's page) on their way to long mode, and the interrupt stubs. Loaded as an ELF at 1 MiB
; and entered by the VMM in 64-bit mode with the first 4 GiB identity-mapped (its page tables
; are what the APs load too).
bits 64

%define MARK_ADDR	0xf000		; the AP's start mark (main.c: MARK_ADDR)
%define STACK_SIZE	0x4000

section .text
global _start
extern bsp_main
_start:
	cli
	lea rsp, [bsp_stack + STACK_SIZE]
	mov rbx, rsi			; boot_params
	lgdt [gdtr64]			; this image's GDT for both kinds of CPU: one IDT serves
	mov ax, 0x10			; them all (its gates name CS 0x18)
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
	out 0xf4, al			; the verdict ends the VM
.stop:
	cli
	hlt
	jmp .stop

; ---- the AP start: [tramp_start, tramp_end) is copied to the SIPI page ------------------------
; CS = vector << 8, IP = 0. The mark is CS: it proves the SIPI's vector was followed. Then 32-bit
; protected mode on the GDT below (in this image: the GDTR's base is linear), then long mode on
; the BSP's page tables (ap_cr3), the stack ap_stack_top, and ap_main().
bits 16
global tramp_start, tramp_end
tramp_start:
	cli
	mov ax, cs
	mov ds, ax
	xor bx, bx
	mov es, bx
	mov [es:MARK_ADDR], ax
	lock inc word [es:MARK_ADDR + 2]	; starts seen
	o32 lgdt [gdtr - tramp_start]	; a 32-bit base
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
	and eax, 0x9fffffff		; CD and NW off (their reset value is on)
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
	mov rsp, [ap_stack_top]
	call ap_main
.stop:
	cli
	hlt
	jmp .stop

; ---- interrupts: every vector to irq_entry(vector) -----------------------------------------------
; Vectors 8, 10-14, 17, 21, 29 and 30 push an error code; the stubs of the others push a 0 so
; that the frame is the same. The C handler runs with interrupts off (interrupt gates).
extern irq_entry
global irq_stubs
align 16
irq_stubs:
%assign v 0
%rep 256
	align 16
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
	push qword v
%else
	push qword 0
	push qword v
%endif
	jmp irq_common
%assign v v + 1
%endrep

irq_common:
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
	mov rdi, [rsp + 10 * 8]		; the vector
	mov rsi, [rsp + 12 * 8]		; the interrupted RIP (above the error code)
	lea rdx, [rsp + 12 * 8]		; the frame: RIP, CS, RFLAGS, RSP, SS
	mov rbx, rsp			; rbx is callee-saved: the handler keeps it
	and rsp, -16
	call irq_entry
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

; ---- the injection stress (main.c: inject_stress) -----------------------------------------------
; void inj_wrmsr(uint32_t msr, uint64_t value, int how): one WRMSR that exits to the VMM, in one
; of the windows an injection must respect. how 0: interrupts on; 1: in an STI shadow (no
; interrupt may come at inj_sti_at, the WRMSR itself); 2: interrupts off, then STI and a NOP;
; 3: in a MOV SS shadow (none at inj_movss_at). Interrupts are on when it returns.
global inj_wrmsr, inj_sti_at, inj_movss_at, inj_gp_pair, inj_gp_at
inj_wrmsr:
	mov r8d, edx
	mov ecx, edi
	mov rax, rsi
	mov rdx, rsi
	shr rdx, 32
	cmp r8d, 1
	je inj_w_sti
	cmp r8d, 2
	je inj_w_off
	cmp r8d, 3
	je inj_w_movss
	wrmsr
	ret
inj_w_sti:
	cli
	sti
inj_sti_at:
	wrmsr
	ret
inj_w_off:
	cli
	wrmsr
	pause
	pause
	sti
	nop
	ret
inj_w_movss:
	mov r9w, ss
	mov ss, r9w
inj_movss_at:
	wrmsr
	ret

; void inj_gp_pair(uint32_t vector): interrupts off, a self-IPI with @vector, then a WRMSR to the
; read-only x2APIC ID register, which must raise #GP exactly once (main.c's handler steps over
; inj_gp_at), then STI: the self-IPI must come after it, once.
inj_gp_pair:
	cli
	mov ecx, 0x83f
	mov eax, edi
	xor edx, edx
	wrmsr
	mov ecx, 0x802
	xor eax, eax
inj_gp_at:
	wrmsr
	sti
	nop
	ret

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

global ap_cr3, ap_stack_top
ap_cr3:		dq 0
ap_stack_top:	dq 0

section .bss
align 16
bsp_stack:	resb STACK_SIZE
