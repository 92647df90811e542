; VM entry and exit for the VMX backend (arch/x86/vmx_run.c).
;
; int vmx_run_guest(struct dyad_regs *regs, int launched)
; The guest's general registers live in struct dyad_regs (include/uapi/dyad/vcpu.h); RSP, RIP
; and RFLAGS are VMCS fields, so the offsets of rsp/rip/rflags are skipped. The host's
; callee-saved registers and the regs pointer stay on the stack; HOST_RSP points at them, and
; HOST_RIP is vmx_exit, which stores the guest's registers and returns 0 to the caller.

bits 64
section .text

%define VMCS_HOST_RSP 0x6c14

%define R_RAX 0
%define R_RBX 8
%define R_RCX 16
%define R_RDX 24
%define R_RSI 32
%define R_RDI 40
%define R_RBP 48
%define R_R8 64
%define R_R9 72
%define R_R10 80
%define R_R11 88
%define R_R12 96
%define R_R13 104
%define R_R14 112
%define R_R15 120

global vmx_run_guest, vmx_exit
vmx_run_guest:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	push rdi			; regs, found again at [rsp] on the exit
	mov rax, VMCS_HOST_RSP
	vmwrite rax, rsp		; the stack as it is now, every entry
	jbe .failed_early
	mov rax, rdi
	test esi, esi			; the flags survive the moves below
	mov rbx, [rax + R_RBX]
	mov rcx, [rax + R_RCX]
	mov rdx, [rax + R_RDX]
	mov rsi, [rax + R_RSI]
	mov rdi, [rax + R_RDI]
	mov rbp, [rax + R_RBP]
	mov r8, [rax + R_R8]
	mov r9, [rax + R_R9]
	mov r10, [rax + R_R10]
	mov r11, [rax + R_R11]
	mov r12, [rax + R_R12]
	mov r13, [rax + R_R13]
	mov r14, [rax + R_R14]
	mov r15, [rax + R_R15]
	mov rax, [rax + R_RAX]
	jnz .resume
	vmlaunch
	jmp .failed
.resume:
	vmresume
.failed:
	; Still on the host stack; the registers hold guest values, the callee-saved ones are
	; restored below.
.failed_early:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	mov eax, 1
	ret

; HOST_RIP. RSP = HOST_RSP, interrupts off (RFLAGS = 2), the guest's GPRs still live.
vmx_exit:
	push rax
	mov rax, [rsp + 8]		; regs
	mov [rax + R_RBX], rbx
	mov [rax + R_RCX], rcx
	mov [rax + R_RDX], rdx
	mov [rax + R_RSI], rsi
	mov [rax + R_RDI], rdi
	mov [rax + R_RBP], rbp
	mov [rax + R_R8], r8
	mov [rax + R_R9], r9
	mov [rax + R_R10], r10
	mov [rax + R_R11], r11
	mov [rax + R_R12], r12
	mov [rax + R_R13], r13
	mov [rax + R_R14], r14
	mov [rax + R_R15], r15
	pop qword [rax + R_RAX]
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	xor eax, eax
	ret

; An external interrupt acknowledged on the VM exit is handed to the host through its IDT
; gate, exactly as if it had arrived in the host: `call vmx_int_stubs + 4 * vector`.
section .text
align 16
global vmx_int_stubs
vmx_int_stubs:
%assign v 0
%rep 256
	int v
	ret
	nop
%assign v v + 1
%endrep
