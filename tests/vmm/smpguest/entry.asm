; The SMP test guest's assembly half (main.c is the rest): the entry, AP trampoline, GDT, stacks
; and trap stubs of ../guest_entry.inc, with the AP's start mark.

; An exception is the only way to the vectors below 32 here, so 17, 21, 29 and 30 (#AC, #CP,
; #VC, #SX) have the CPU's error code too.
%define ERROR_CODE_VECTOR(v) (v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || \
	v == 29 || v == 30)

%define MARK_ADDR	0xf000		; the AP's start mark (main.c: MARK_ADDR)

; The mark is CS: it proves the SIPI's vector was followed.
%macro ap_real_mode_hook 0
	xor bx, bx
	mov es, bx
	mov [es:MARK_ADDR], ax
	lock inc word [es:MARK_ADDR + 2]	; starts seen
%endmacro

; Each AP starts on the stack main.c names in ap_stack_top (the injection stress starts several).
extern ap_stack_top
%define AP_STACK_TOP ap_stack_top

%include "guest_entry.inc"

section .text
bits 64
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

