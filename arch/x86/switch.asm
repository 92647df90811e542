; Thread switch (kern/sched.c): the callee-saved registers and the stack pointer. Everything
; else a thread owns is either on its stack already (a trap frame, the C caller's registers) or
; switched by sched.c around this call (CR3, FS base, FPU registers, TSS.rsp0).

bits 64
%include "arch/x86/trap_frame.inc"
section .text
extern sched_switch_finish

; void sched_switch(u64 *save_rsp, u64 next_rsp): saves this thread's kernel context, with its
; stack pointer in *save_rsp, and resumes the thread whose saved stack pointer is next_rsp.
; Called with interrupts off and sched_lock held; returns when this thread is resumed.
global sched_switch
sched_switch:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	mov [rdi], rsp
	mov rsp, rsi
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret

; A new thread's first instructions: sched_switch "returned" here with r12 = its function and
; r13 = the argument (kern/sched.c builds that stack). The switch is completed as in any other
; resumption, then the function runs; it never returns.
global sched_thread_start
sched_thread_start:
	call sched_switch_finish
	mov rdi, r13
	call r12
	ud2

; void user_return_frame(struct trap_frame *tf): leaves the kernel for ring 3 through the frame
; @tf (at the top of the current kernel stack): a new thread's first entry, or a clone child's.
global user_return_frame
user_return_frame:
	cli
	mov rsp, rdi
	swapgs				; interrupts are off: nothing runs on ring 3's GS here
	POP_GPRS
	add rsp, 16			; vector, error
	iretq

section .note.GNU-stack noalloc noexec nowrite progbits
