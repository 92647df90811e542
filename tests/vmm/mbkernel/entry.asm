; The multiboot (v1) test kernel's entry: it records the machine state the loader left, then
; makes its own way from 32-bit protected mode without paging to long mode (4 GiB identity-mapped
; in 2 MiB pages) and calls mb_main. Assembled twice: as an ELF loaded by its program headers,
; and with AOUT defined, with the header's address fields for a flat binary (flag 16).

%define MB_MAGIC 0x1badb002
%ifdef AOUT
%define MB_FLAGS 0x00010003		; page-aligned modules, memory information, address fields
%else
%define MB_FLAGS 0x00000003
%endif

extern mb_main
extern __load_start, __load_end, __bss_end
global entry32
global entry_eax, entry_ebx, entry_cr0, entry_cr4, entry_efer, entry_eflags
global entry_cs, entry_ds, entry_ss, entry_cs_limit, entry_cs_ar, entry_ds_limit, entry_ds_ar

section .multiboot
align 4
mb_header:
	dd MB_MAGIC
	dd MB_FLAGS
	dd -(MB_MAGIC + MB_FLAGS)
%ifdef AOUT
	dd mb_header			; header_addr
	dd __load_start			; load_addr
	dd __load_end			; load_end_addr
	dd __bss_end			; bss_end_addr
	dd entry32			; entry_addr
%endif

section .text
bits 32
entry32:
	; Nothing may change a register or flag before it is recorded. ESP is the loader's and the
	; specification leaves it undefined: the kernel's own stack comes first.
	mov [entry_eax], eax
	mov [entry_ebx], ebx
	mov esp, stack_top
	pushfd
	pop dword [entry_eflags]
	mov eax, cr0
	mov [entry_cr0], eax
	mov eax, cr4
	mov [entry_cr4], eax
	mov ecx, 0xc0000080		; EFER
	rdmsr
	mov [entry_efer], eax
	mov [entry_cs], cs
	mov [entry_ds], ds
	mov [entry_ss], ss
	mov ecx, cs
	lsl eax, ecx
	mov [entry_cs_limit], eax
	lar eax, ecx
	mov [entry_cs_ar], eax
	mov ecx, ds
	lsl eax, ecx
	mov [entry_ds_limit], eax
	lar eax, ecx
	mov [entry_ds_ar], eax

	; Page tables in .bss (the loader zeroed it): PML4[0] -> PDPT[0..3] -> four PDs.
	mov eax, pdpt + 3
	mov [pml4], eax
	xor ecx, ecx
.pdpt:
	mov eax, ecx
	shl eax, 12
	add eax, pd + 3
	mov [pdpt + ecx * 8], eax
	inc ecx
	cmp ecx, 4
	jb .pdpt
	xor ecx, ecx
.pd:
	mov eax, ecx
	shl eax, 21
	or eax, 0x83			; present, writable, 2 MiB
	mov [pd + ecx * 8], eax
	inc ecx
	cmp ecx, 2048
	jb .pd

	mov eax, cr4
	or eax, 1 << 5			; PAE
	mov cr4, eax
	mov eax, pml4
	mov cr3, eax
	mov ecx, 0xc0000080
	rdmsr
	or eax, 1 << 8			; LME
	wrmsr
	mov eax, cr0
	or eax, (1 << 31) | 1		; PG
	mov cr0, eax
	lgdt [gdt_ptr]
	jmp 0x08:entry64

bits 64
entry64:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov rsp, stack_top
	call mb_main
.halt:
	cli
	hlt
	jmp .halt

section .rodata
align 8
gdt:
	dq 0
	dq 0x00af9a000000ffff		; 0x08: 64-bit code
	dq 0x00cf92000000ffff		; 0x10: data
gdt_ptr:
	dw gdt_ptr - gdt - 1
	dd gdt

section .data
align 4
entry_eax: dd 0
entry_ebx: dd 0
entry_cr0: dd 0
entry_cr4: dd 0
entry_efer: dd 0
entry_eflags: dd 0
entry_cs_limit: dd 0
entry_cs_ar: dd 0
entry_ds_limit: dd 0
entry_ds_ar: dd 0
entry_cs: dw 0
entry_ds: dw 0
entry_ss: dw 0

section .bss
align 4096
pml4: resb 4096
pdpt: resb 4096
pd: resb 4 * 4096
stack: resb 16384
stack_top:
