; Tiny guests for the VM tests, each between guest_NAME and guest_NAME_end. The VMM copies one
; to guest-physical GUEST_CODE (0x10000) and starts it there: real-mode guests with CS = 0x1000,
; IP = 0; long-mode guests at RIP 0x10000 with the identity page tables of tests/user/vm_lib.h.
; They use only relative jumps and absolute addresses of that fixed layout, so they run from
; wherever they are copied. Ports: 0x10.. mark steps for the VMM.

bits 16
section .rodata

; Real mode: every I/O form. IF = 0 throughout, so the final HLT is a HLT exit.
global guest_rm_io, guest_rm_io_end
guest_rm_io:
	mov al, 0x5a
	out 0x80, al			; OUT imm8, byte
	out 0x43, al			; the PIT's command port reaches the VMM too
	mov dx, 0x3f8
	mov al, 'A'
	out dx, al			; COM1 reaches the VMM, not the UART
	mov ax, 0x1234
	out dx, ax			; word
	mov eax, 0xdeadbeef
	out dx, eax			; dword
	in al, dx			; IN: the VMM supplies al
	out 0x81, al			; echoed back
	mov cx, 3
	xor si, si
	rep outsb			; string form, REP: port dx, ds:si
	cpuid
	vmmcall
	hlt
guest_rm_io_end:

; Real mode: reads the MMIO address 0x1f000 (not guest memory), writes it, then HLT.
global guest_rm_mmio, guest_rm_mmio_end
guest_rm_mmio:
	mov ax, 0x1f00
	mov ds, ax
	mov bx, [0x10]			; MMIO read at 0x1f010
	mov word [0x20], 0xbeef		; MMIO write at 0x1f020
	out 0x10, al
	hlt
guest_rm_mmio_end:

bits 64

; Writes rsi at [rdi] (GPA X), reports, then reads [rdi + 8] into rax for the VMM: the central
; claim both ways.
global guest_lm_rw, guest_lm_rw_end
guest_lm_rw:
	mov [rdi], rsi
	out 0x10, al
	mov rax, [rdi + 8]
	vmmcall
	cli
	hlt
guest_lm_rw_end:

; Read, write and execute at rdi, each followed by a report port: an access the mapping does
; not allow is an MMIO exit the VMM skips (rip += length it decodes) or returns from.
global guest_lm_access, guest_lm_access_end, guest_lm_access_after_call
guest_lm_access:
	xor eax, eax
	mov rax, [rdi]			; 48 8b 07
	out 0x10, al
	mov [rdi + 8], rsi		; 48 89 77 08: past the RET
	out 0x11, al
	call rdi			; ff d7: the VMM put a RET (c3) there
guest_lm_access_after_call:
	out 0x12, al
	cli
	hlt
guest_lm_access_end:

; Reads [rdi] into rax and reports on port 0x10; a guest exception lands at
; guest_lm_probe_fault, which reports on port 0x1e.
global guest_lm_probe, guest_lm_probe_end, guest_lm_probe_fault
guest_lm_probe:
	mov rax, 0x1111111111111111
	mov rax, [rdi]
	out 0x10, al
	cli
	hlt
guest_lm_probe_fault:
	out 0x1e, al
	cli
	hlt
guest_lm_probe_end:

; MSRs: the kernel keeps EFER (SVME/VMXE hidden), the VMM gets everything else.
global guest_lm_msr, guest_lm_msr_end
guest_lm_msr:
	mov ecx, 0xc0000080		; EFER: kept by the kernel, no exit
	rdmsr
	mov r8, rax
	mov ecx, 0x1b			; APIC_BASE: a host MSR, must exit to the VMM
	mov eax, 0xfee00900
	xor edx, edx
	wrmsr
	mov ecx, 0x1b
	rdmsr				; the VMM supplies edx:eax
	mov r9, rax
	mov ecx, 0xc0000081		; STAR: switched around entries, no exit
	mov eax, 0x11223344
	mov edx, 0x00230010
	wrmsr
	rdmsr
	mov r10, rdx
	out 0x10, al
	cli
	hlt
guest_lm_msr_end:

; Interrupts: the handler at guest_lm_irq_handler counts in [0x30100] and returns. The guest
; enables interrupts, spins until the count moves, disables them, reports.
global guest_lm_irq, guest_lm_irq_end, guest_lm_irq_handler
guest_lm_irq:
	sti
.wait:
	cmp qword [0x30100], 0
	je .wait
	cli
	out 0x10, al
	; IF = 0 now: an interrupt queued here must wait for the window STI opens.
	out 0x11, al
	mov rax, [0x30100]
	sti
	nop
	nop
.wait2:
	cmp qword [0x30100], rax
	je .wait2
	cli
	out 0x12, al
	hlt
guest_lm_irq_handler:
	inc qword [0x30100]
	mov [0x30108], rsp
	iretq
guest_lm_irq_end:

; Spins with interrupts off: only the host timer and the VMM's deadline end it.
global guest_lm_spin, guest_lm_spin_end
guest_lm_spin:
	cli
.spin:
	jmp .spin
guest_lm_spin_end:

; HLT with IF = 1: the host sleeps until the deadline.
global guest_lm_sleep, guest_lm_sleep_end
guest_lm_sleep:
	sti
	hlt
	out 0x10, al
	cli
	hlt
guest_lm_sleep_end:

; Triple fault: UD2 with an empty IDT.
global guest_lm_ud, guest_lm_ud_end
guest_lm_ud:
	lidt [rel .empty]
	ud2
.empty:
	dw 0
	dq 0
guest_lm_ud_end:

; XSETBV: sets XCR0 to r12 (x87|SSE, or x87|SSE|AVX) and reads it back into r8 (port 0x10).
; With AVX it fills ymm1 with ones and stores it at [0x30000] (port 0x13, where the VMM returns
; to the kernel once), then stores ymm1 again at [0x30020]: the upper half must have survived.
; Then an invalid XCR0 (SSE without x87) must raise #GP: the handler at guest_lm_xsetbv_gp
; reports on port 0x11. A #UD (an AVX instruction refused) lands at guest_lm_xsetbv_ud (0x1e).
global guest_lm_xsetbv, guest_lm_xsetbv_end, guest_lm_xsetbv_gp, guest_lm_xsetbv_ud
guest_lm_xsetbv:
	mov rax, cr4
	bts rax, 18			; OSXSAVE
	mov cr4, rax
	xor ecx, ecx
	mov eax, r12d
	xor edx, edx
	xsetbv
	xor ecx, ecx
	xgetbv
	mov r8, rax
	out 0x10, al
	test r12, 4
	jz .invalid
	vxorps ymm1, ymm1, ymm1
	vcmpps ymm1, ymm1, ymm1, 0	; equal: every bit set
	vmovups [0x30000], ymm1
	out 0x13, al
	vmovups [0x30020], ymm1
.invalid:
	xor ecx, ecx
	mov eax, 2
	xor edx, edx
	xsetbv
	out 0x12, al			; not reached: #GP
	hlt
guest_lm_xsetbv_gp:
	out 0x11, al
	cli
	hlt
guest_lm_xsetbv_ud:
	out 0x1e, al
	cli
	hlt
guest_lm_xsetbv_end:

; XMM and MXCSR without XSAVE in the guest (its XCR0 is the reset x87 only): xmm5 = rsi,
; MXCSR = [0x30200], report (port 0x10); then xmm5 back into rax, MXCSR to [0x30204], VMMCALL.
global guest_lm_xmm, guest_lm_xmm_end
guest_lm_xmm:
	movq xmm5, rsi
	ldmxcsr [0x30200]
	out 0x10, al
	movq rax, xmm5
	stmxcsr [0x30204]
	vmmcall
	cli
	hlt
guest_lm_xmm_end:

; Debug registers: DR0 into r8 and DR6 into r9, then DR0 = rsi and DR6 = rdx, report (port
; 0x10); then DR0 into r10 and DR6 into r11, VMMCALL. DR7 stays 0x400: nothing is armed.
global guest_lm_dr, guest_lm_dr_end
guest_lm_dr:
	mov rax, dr0
	mov r8, rax
	mov rax, dr6
	mov r9, rax
	mov dr0, rsi
	mov dr6, rdx
	out 0x10, al
	mov rax, dr0
	mov r10, rax
	mov rax, dr6
	mov r11, rax
	vmmcall
	cli
	hlt
guest_lm_dr_end:

; PKRU: sets CR4.PKE, reads PKRU into r8, writes esi to it, report (port 0x10); then reads it
; into r10, VMMCALL.
global guest_lm_pkru, guest_lm_pkru_end
guest_lm_pkru:
	mov rax, cr4
	bts rax, 22			; PKE
	mov cr4, rax
	xor ecx, ecx
	rdpkru
	mov r8, rax
	mov eax, esi
	xor ecx, ecx
	xor edx, edx
	wrpkru
	out 0x10, al
	xor ecx, ecx
	rdpkru
	mov r10, rax
	vmmcall
	cli
	hlt
guest_lm_pkru_end:

; #DB: single-steps one instruction (TF); the handler at guest_lm_db_handler counts in
; [0x30100], clears TF in the frame and returns; then report (port 0x10).
global guest_lm_db, guest_lm_db_end, guest_lm_db_handler
guest_lm_db:
	pushfq
	or qword [rsp], 0x100
	popfq
	nop				; the trap comes after this instruction
	nop
	out 0x10, al
	cli
	hlt
guest_lm_db_handler:
	inc qword [0x30100]
	and qword [rsp + 16], ~0x100
	iretq
guest_lm_db_end:

; EFER: clears LME while paging is on, which must raise #GP (handler guest_lm_efer_gp, port
; 0x11); port 0x10 if the write went through.
global guest_lm_efer, guest_lm_efer_end, guest_lm_efer_gp
guest_lm_efer:
	mov ecx, 0xc0000080
	rdmsr
	btr eax, 8
	wrmsr
	out 0x10, al
	cli
	hlt
guest_lm_efer_gp:
	out 0x11, al
	cli
	hlt
guest_lm_efer_end:

; Touches one byte every rsi bytes over [rdi, rdi + rdx): the fault count the VMM measures.
global guest_lm_touch, guest_lm_touch_end
guest_lm_touch:
	mov rcx, rdi
	add rdx, rdi
.next:
	mov byte [rcx], 1
	add rcx, rsi
	cmp rcx, rdx
	jb .next
	out 0x10, al
	cli
	hlt
guest_lm_touch_end:

; The benchmark's exit: OUT in a loop, the TSC between two reports read by the VMM.
global guest_lm_outloop, guest_lm_outloop_end
guest_lm_outloop:
.again:
	out 0x10, al
	jmp .again
guest_lm_outloop_end:

; A vCPU of a multi-vCPU test: reports AL (its number, set by the VMM) on port 0x10, then spins
; with IF = 0 until the host kicks it out.
global guest_lm_smp, guest_lm_smp_end
guest_lm_smp:
	out 0x10, al
.spin:
	jmp .spin
guest_lm_smp_end:

; The same with IF = 1 while it spins: a host interrupt ends the entry on every backend (Bochs's
; VMX keeps them pending while both the host's and the guest's IF are 0).
global guest_lm_smp_sti, guest_lm_smp_sti_end
guest_lm_smp_sti:
	out 0x10, al
	sti
.spin:
	jmp .spin
guest_lm_smp_sti_end:

; NMIs (tests/user/vmnmi.c). The handler counts in [0x30200] and keeps the RIP each NMI
; interrupted in [0x30220 + 8 * count]; while [0x30208] is set it reports on port 0x20 on entry
; and on 0x21 before its IRET, so the VMM sees it running. rbx and r12 are witnesses the
; handler must leave alone. Steps: 0x10 ready (IF = 0), 0x11 two NMIs done, then a HLT sleep
; with IF = 1 that an NMI ends (0x13), then a spin with IF = 1 until a fourth NMI (0x15).
global guest_lm_nmi, guest_lm_nmi_end, guest_lm_nmi_handler, guest_lm_nmi_ready
global guest_lm_nmi_two, guest_lm_nmi_after_hlt, guest_lm_nmi_spin, guest_lm_nmi_spun
guest_lm_nmi:
	mov rbx, 0x1122334455667788
	mov r12, 0x0123456789abcdef
	out 0x10, al
guest_lm_nmi_ready:
	cmp qword [0x30200], 2
	jb guest_lm_nmi_ready
guest_lm_nmi_two:
	out 0x11, al
	sti
	hlt
guest_lm_nmi_after_hlt:
	out 0x13, al
guest_lm_nmi_spin:
	cmp qword [0x30200], 4
	jb guest_lm_nmi_spin
guest_lm_nmi_spun:
	out 0x15, al
	cli
	hlt
guest_lm_nmi_handler:
	push rax
	push rcx
	mov rcx, [0x30200]
	inc rcx
	mov [0x30200], rcx
	mov rax, [rsp + 16]		; the interrupted RIP
	mov [0x30220 + rcx * 8], rax
	cmp qword [0x30208], 0
	je .quiet
	out 0x20, al
	out 0x21, al
.quiet:
	pop rcx
	pop rax
	iretq
guest_lm_nmi_end:

section .note.GNU-stack noalloc noexec nowrite progbits
