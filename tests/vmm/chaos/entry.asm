; The chaos guest's assembly half (main.c is the rest): the entry, AP trampoline, GDT, stacks and
; trap stubs of ../guest_entry.inc. The BSP copies the trampoline to every page a SIPI of the
; guest may name; ap_main() goes on with the AP's operations where an INIT stopped them.

; Only the exceptions 8 and 10-14 push an error code: the VMM injects external interrupts from
; vector 16 on, and a guest's own IPI or device may use 16-31, so those have the frame of an
; interrupt (the exceptions 17, 21, 29 and 30 never happen in this guest).
%define ERROR_CODE_VECTOR(v) (v == 8 || (v >= 10 && v <= 14))

%include "guest_entry.inc"
