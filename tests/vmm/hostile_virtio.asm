; A hostile virtio driver, for the VMM's end-to-end test: run with `-R` alone, so virtio-rng is
; 00:01.0. It moves the function's BAR, then brings the device up five times through the
; modern transport: once with a good request (the device must fill it and stay up), then with
; a descriptor that is its own next, a buffer beyond RAM, an available index far past the ring,
; and a descriptor table in the 32-bit hole. After each hostile try the device status must show
; DEVICE_NEEDS_RESET (0x40). The verdict on the debug port is the number of checks that failed;
; the VMM must still be there to take it. Loaded as an ELF at 1 MiB, entered in 64-bit mode with
; the first 4 GiB identity-mapped; interrupts stay off (MSI-X is never enabled).
bits 64

%define CFG(off)	(0x80000000 | (1 << 11) | (off))	; 00:01.0
%define BAR		0xd0000000	; where the guest moves BAR 0
%define DESC		0x200000
%define AVAIL		0x201000
%define USED		0x202000
%define BUF		0x300000
%define NEEDS_RESET	0x40

section .text
global _start
_start:
	mov rsp, 0x180000
	xor r15d, r15d			; failed checks
	; BAR 0 (64-bit) to BAR, then memory space on.
	mov esi, CFG(0x10)
	mov eax, BAR
	call cfg_write
	mov esi, CFG(0x14)
	xor eax, eax
	call cfg_write
	mov esi, CFG(0x04)
	mov eax, 6			; memory space, bus master
	call cfg_write
	mov rbx, BAR

	; 1. A good request: 16 bytes to fill. The device stays up and returns it.
	mov r12d, DESC
	call bring_up
	mov qword [DESC], BUF
	mov dword [DESC + 8], 16
	mov word [DESC + 12], 2		; device-writable
	mov ax, 1
	call kick
	movzx eax, byte [rbx + 0x14]	; MOV and MOVZX only: what the VMM decodes
	test al, NEEDS_RESET
	jz .good_status
	inc r15d
.good_status:
	cmp word [USED + 2], 1
	je .good_used
	inc r15d
.good_used:
	cmp dword [USED + 8], 16	; used element 0: id, then the length written
	je .good_len
	inc r15d
.good_len:

	; 2. A descriptor that is its own next.
	call bring_up
	mov qword [DESC], BUF
	mov dword [DESC + 8], 16
	mov word [DESC + 12], 3		; next, device-writable
	mov word [DESC + 14], 0
	mov ax, 1
	call kick
	call expect_broken

	; 3. A buffer far beyond RAM.
	call bring_up
	mov rax, 0x7fff00000000
	mov [DESC], rax
	mov dword [DESC + 8], 4096
	mov word [DESC + 12], 2
	mov ax, 1
	call kick
	call expect_broken

	; 4. The available index 100 ahead of a ring of 8.
	call bring_up
	mov qword [DESC], BUF
	mov dword [DESC + 8], 16
	mov word [DESC + 12], 2
	mov ax, 100
	call kick
	call expect_broken

	; 5. The descriptor table in the 32-bit hole, refused when the queue is enabled.
	mov r12d, 0xf0000000
	call bring_up
	call expect_broken

	mov eax, r15d
	out 0xf4, al			; the verdict ends the VM
	hlt

; Writes eax to configuration dword esi.
cfg_write:
	mov edi, eax
	mov eax, esi
	mov dx, 0xcf8
	out dx, eax
	mov eax, edi
	mov dx, 0xcfc
	out dx, eax
	ret

; Resets the device and brings it up with VERSION_1, queue 0 of 8 at r12 (descriptors), AVAIL
; and USED, all of them cleared first.
bring_up:
	mov byte [rbx + 0x14], 0	; reset
	mov rdi, DESC
	mov ecx, 0x3000 / 8
	xor eax, eax
	rep stosq
	mov byte [rbx + 0x14], 3	; acknowledge, driver
	mov dword [rbx + 0x08], 1
	mov dword [rbx + 0x0c], 1	; VIRTIO_F_VERSION_1
	mov byte [rbx + 0x14], 0xb	; features OK
	mov word [rbx + 0x16], 0
	mov word [rbx + 0x18], 8
	mov [rbx + 0x20], r12d
	mov dword [rbx + 0x24], 0
	mov dword [rbx + 0x28], AVAIL
	mov dword [rbx + 0x2c], 0
	mov dword [rbx + 0x30], USED
	mov dword [rbx + 0x34], 0
	mov word [rbx + 0x1c], 1	; enable
	mov byte [rbx + 0x14], 0xf	; driver OK
	ret

; Publishes chain 0 with available index ax and notifies queue 0.
kick:
	mov word [AVAIL + 4], 0
	mov [AVAIL + 2], ax
	mov word [rbx + 0x1800], 0
	ret

expect_broken:
	movzx eax, byte [rbx + 0x14]
	test al, NEEDS_RESET
	jnz .broken
	inc r15d
.broken:
	ret
