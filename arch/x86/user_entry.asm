; The two ways between ring 0 and ring 3: SYSCALL/SYSRET for system calls, IRETQ to enter a new
; process. The kernel stack of the process running on this CPU is in its per-CPU data,
; gs:PERCPU_KERNEL_RSP (and TSS.rsp0, for interrupts from ring 3). SWAPGS comes first on the
; way in and last on the way out (include/arch/x86/percpu.h).

bits 64
%include "arch/x86/trap_frame.inc"
%include "arch/x86/percpu.inc"
%define USER_DS (0x18 | 3)
%define USER_CS (0x20 | 3)
%define SYSCALL_VECTOR 0x80		; marks a syscall frame in struct trap_frame.vector

section .text
extern syscall_dispatch, sched_user_return, trap_nmi_report, trap_nmi_seen, trap_nmi_reported

; Entered by SYSCALL: RCX = user RIP, R11 = user RFLAGS, interrupts masked by SFMASK.
; Builds a struct trap_frame on the kernel stack so a system call looks like any other trap.
global syscall_entry
syscall_entry:
	swapgs
	mov [gs:PERCPU_USER_RSP], rsp
	mov rsp, [gs:PERCPU_KERNEL_RSP]
	push USER_DS			; ss
	push qword [gs:PERCPU_USER_RSP]	; rsp
	push r11			; rflags
	push USER_CS			; cs
	push rcx			; rip
	push 0				; error
	push SYSCALL_VECTOR		; vector
	PUSH_GPRS
	xor ebp, ebp
	sti
	; A safe place to print what the NMI handler recorded (trap.c); the test keeps the
	; common case to three instructions.
	mov rax, [rel trap_nmi_seen]
	cmp rax, [rel trap_nmi_reported]
	je .no_nmi
	call trap_nmi_report
.no_nmi:
	mov rdi, rsp
	call syscall_dispatch		; the result is in the frame's rax
	call sched_user_return		; a killed thread exits, a preempted one yields here
	cli
	POP_GPRS
	add rsp, 16			; vector, error
	pop rcx				; rip
	add rsp, 8			; cs
	pop r11				; rflags
	swapgs				; interrupts are off: nothing runs on ring 3's GS here
	pop rsp				; user rsp; interrupts stay off until SYSRET loads RFLAGS
	o64 sysret

; void user_enter(u64 rip, u64 rsp): starts ring-3 code with every register zero and RFLAGS
; just IF. The kernel's own flags are cleared first (interrupts off, and NT, which would make
; IRETQ a task return and fault in ring 0), whatever the path here left in them.
global user_enter
user_enter:
	push 2				; bit 1 is always set
	popfq
	push USER_DS
	push rsi
	push 0x202			; IF
	push USER_CS
	push rdi
	xor eax, eax
	xor ebx, ebx
	xor ecx, ecx
	xor edx, edx
	xor esi, esi
	xor edi, edi
	xor ebp, ebp
	xor r8d, r8d
	xor r9d, r9d
	xor r10d, r10d
	xor r11d, r11d
	xor r12d, r12d
	xor r13d, r13d
	xor r14d, r14d
	xor r15d, r15d
	swapgs				; interrupts are off (the popfq above)
	iretq

section .note.GNU-stack noalloc noexec nowrite progbits
