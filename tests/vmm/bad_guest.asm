; A guest that does senseless things, for the VMM's end-to-end test: port I/O on pseudo-random
; ports, MMIO reads and writes where no RAM or device is, MSR accesses (two the platform has,
; then one it has not), and with no IDT the #GP for the last one becomes a triple fault.
; Loaded as an ELF at 1 MiB and entered in 64-bit mode by the VMM like any kernel.
bits 64
section .text
global _start
_start:
	mov ecx, 256
	mov r8d, 0x2545f491		; a fixed seed: the run repeats
.io:
	imul r8d, r8d, 1103515245	; the C standard's example LCG
	add r8d, 12345
	mov edx, r8d
	shr edx, 8
	and edx, 0x3ff			; the ISA range, where the platform's devices are
	cmp dx, 0xf4			; not the verdict port,
	je .next
	cmp dx, 0x64			; nor the reset lines
	je .next
	cmp dx, 0x3f9			; nor the UART's interrupt enable (an interrupt would be
	je .next			; a #GP-free way out, with no IDT: a triple fault too soon)
	cmp dx, 0x21
	je .next
	cmp dx, 0xa1
	je .next
	in al, dx
	out dx, al
	in ax, dx
	in eax, dx
.next:
	dec ecx
	jnz .io

	mov rsi, 0xd0000000		; MMIO: nothing there (a register base: an absolute
	mov rax, [rsi]			; disp32 would sign-extend above 4 GiB)
	mov dword [rsi + 0x1000], 0x12345678
	mov rdi, 0xfed00000
	mov byte [rdi], 1
	movzx ebx, word [rsi + 0x10000010]

	mov ecx, 0x1a0			; IA32_MISC_ENABLE: emulated
	rdmsr
	wrmsr
	mov ecx, 0xdeadbeef		; no such MSR: #GP, no IDT, triple fault
	rdmsr
	hlt
