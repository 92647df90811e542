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

%include "guest_entry.inc"
