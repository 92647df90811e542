; Trap entry: 256 stubs that push a uniform (vector, error) pair, then one common path that
; saves the general registers as a struct trap_frame (include/arch/x86/trap.h) and calls
; trap_dispatch(frame).

bits 64
%include "arch/x86/trap_frame.inc"
%include "arch/x86/percpu.inc"
section .text
extern trap_dispatch, sched_user_return
extern cpu_smap_enabled

; Vectors where the CPU pushes an error code itself.
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro TRAP_STUB 1
align 16
trap_stub_%1:
%if !HAS_ERROR(%1)
	push 0
%endif
	push %1
	jmp trap_common
%endmacro

%assign v 0
%rep 256
	TRAP_STUB v
%assign v v + 1
%endrep

; struct trap_frame offsets once PUSH_GPRS has run.
%define TF_VECTOR (15 * 8)
%define TF_CS (18 * 8)

; GS (include/arch/x86/percpu.h): from ring 3, SWAPGS in and out. From ring 0, GS is the
; kernel's except where NMI, #DB, #DF or #MC can land: on syscall_entry's first instruction, or
; between an exit's SWAPGS and its SYSRET/IRETQ. For those four, GS.base decides (a kernel
; address is negative), and r12 (callee-saved, so intact after trap_dispatch; the frame holds
; the interrupted r12) remembers whether to swap back.
trap_common:
	PUSH_GPRS
	cld
	xor r12d, r12d
	test byte [rsp + TF_CS], 3
	jz .from_kernel
	swapgs
	jmp .gs_ready
.from_kernel:
	mov rax, [rsp + TF_VECTOR]
	cmp rax, 1			; #DB
	je .check_gs
	cmp rax, 2			; NMI
	je .check_gs
	cmp rax, 8			; #DF
	je .check_gs
	cmp rax, 18			; #MC
	jne .gs_ready
.check_gs:
	mov ecx, MSR_GS_BASE
	rdmsr
	test edx, edx
	js .gs_ready
	swapgs
	mov r12d, 1
.gs_ready:
	; Exception delivery keeps RFLAGS.AC: a trap taken inside uaccess (or from ring 3 with AC
	; set) would otherwise run its handler with SMAP off. IRETQ restores the interrupted AC.
	cmp byte [rel cpu_smap_enabled], 0
	je .ac_clear
	clac
.ac_clear:
	mov rdi, rsp
	; Frame pointer chain for backtraces: link through the interrupted RIP/RBP.
	mov rbp, [rsp + 8 * 8]
	call trap_dispatch
	test byte [rsp + TF_CS], 3
	jnz .to_user
	test r12d, r12d
	jz .restore
	swapgs				; back to the user GS this NMI/#DB/#DF/#MC found
	jmp .restore
.to_user:
	; A killed thread exits, a preempted one yields here; not on an IST stack (NMI, #DB, #DF,
	; #MC), which is this CPU's and not the thread's: the next return to ring 3 does it.
	mov rax, [rsp + TF_VECTOR]
	cmp rax, 1
	je .no_resched
	cmp rax, 2
	je .no_resched
	cmp rax, 8
	je .no_resched
	cmp rax, 18
	je .no_resched
	call sched_user_return
.no_resched:
	cli				; no interrupt between SWAPGS and IRETQ
	swapgs
.restore:
	POP_GPRS
	add rsp, 16			; vector, error
	iretq

section .rodata
align 8
global trap_stubs
trap_stubs:
%assign v 0
%rep 256
	dq trap_stub_ %+ v
%assign v v + 1
%endrep

; Context save/restore for trap_catch (a setjmp/longjmp pair kept to callee-saved state).
section .text
global kjmp_save, kjmp_restore
; int kjmp_save(struct kjmp *j): returns 0 now, and 1 when kjmp_restore(j) is called later.
kjmp_save:
	mov [rdi + 0], rbx
	mov [rdi + 8], rbp
	mov [rdi + 16], r12
	mov [rdi + 24], r13
	mov [rdi + 32], r14
	mov [rdi + 40], r15
	lea rax, [rsp + 8]
	mov [rdi + 48], rax		; rsp after return
	mov rax, [rsp]
	mov [rdi + 56], rax		; return address
	pushfq
	pop qword [rdi + 64]
	xor eax, eax
	ret

; void kjmp_restore(struct kjmp *j): resumes at the matching kjmp_save, which returns 1.
kjmp_restore:
	mov rbx, [rdi + 0]
	mov rbp, [rdi + 8]
	mov r12, [rdi + 16]
	mov r13, [rdi + 24]
	mov r14, [rdi + 32]
	mov r15, [rdi + 40]
	mov rsp, [rdi + 48]
	push qword [rdi + 64]
	popfq
	mov eax, 1
	jmp [rdi + 56]
