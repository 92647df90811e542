; VMRUN and back. VMRUN switches only RAX, RSP, RIP, RFLAGS, CS/DS/ES/SS and the control
; registers; the rest of the guest's general registers live in struct svm_gprs, and FS, GS,
; TR, LDTR, KERNEL_GS_BASE, the SYSCALL and SYSENTER MSRs are switched with VMSAVE/VMLOAD.
; The caller runs with GIF clear and IF set, so a host interrupt during the guest is an
; intercepted INTR exit that the host takes at STGI.

bits 64

; struct svm_gprs offsets
%define G_RBX 0
%define G_RCX 8
%define G_RDX 16
%define G_RSI 24
%define G_RDI 32
%define G_RBP 40
%define G_R8 48
%define G_R9 56
%define G_R10 64
%define G_R11 72
%define G_R12 80
%define G_R13 88
%define G_R14 96
%define G_R15 104

section .text

; void svm_vmrun(paddr_t vmcb_pa (rdi), struct svm_gprs *gprs (rsi), paddr_t host_pa (rdx))
global svm_vmrun
svm_vmrun:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	push rdx			; [rsp + 16] host save area
	push rsi			; [rsp + 8]  gprs
	push rdi			; [rsp]      vmcb

	mov rax, rdx
	vmsave				; the host's FS/GS/TR/LDTR and syscall MSRs
	mov rax, rdi
	vmload				; the guest's

	mov rbx, [rsi + G_RBX]
	mov rcx, [rsi + G_RCX]
	mov rdx, [rsi + G_RDX]
	mov rdi, [rsi + G_RDI]
	mov rbp, [rsi + G_RBP]
	mov r8, [rsi + G_R8]
	mov r9, [rsi + G_R9]
	mov r10, [rsi + G_R10]
	mov r11, [rsi + G_R11]
	mov r12, [rsi + G_R12]
	mov r13, [rsi + G_R13]
	mov r14, [rsi + G_R14]
	mov r15, [rsi + G_R15]
	mov rsi, [rsi + G_RSI]

	vmrun				; rax = vmcb; #VMEXIT restores the host's rax and rsp

	vmsave				; the guest's FS/GS/TR/LDTR and syscall MSRs, to its VMCB
	push rsi			; the guest's rsi; gprs is now at [rsp + 16]
	mov rsi, [rsp + 16]
	mov [rsi + G_RBX], rbx
	mov [rsi + G_RCX], rcx
	mov [rsi + G_RDX], rdx
	mov [rsi + G_RDI], rdi
	mov [rsi + G_RBP], rbp
	mov [rsi + G_R8], r8
	mov [rsi + G_R9], r9
	mov [rsi + G_R10], r10
	mov [rsi + G_R11], r11
	mov [rsi + G_R12], r12
	mov [rsi + G_R13], r13
	mov [rsi + G_R14], r14
	mov [rsi + G_R15], r15
	pop rax
	mov [rsi + G_RSI], rax

	mov rax, [rsp + 16]
	vmload				; the host's again

	add rsp, 24
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
