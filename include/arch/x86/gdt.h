/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_GDT_H
#define ARCH_X86_GDT_H

#include <dyad/types.h>

/*
 * Segment selectors. The order is fixed by SYSCALL/SYSRET: kernel code, kernel data, then user
 * data and user code (STAR[63:48] + 8 and + 16).
 */
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_DS (0x18 | 3)
#define GDT_USER_CS (0x20 | 3)
#define GDT_TSS 0x28

/* Interrupt stack table slots. */
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_DEBUG 3

/* The boot CPU's GDT, TSS and per-CPU data (CPU 0), loaded and made current through GS. */
void gdt_init(void);

struct percpu;
/*
 * Builds @pc's GDT and TSS (IST stacks from pc->ist_top), loads them on this CPU, and makes
 * @pc this CPU's per-CPU data (GS.base; KERNEL_GS_BASE = 0, ring 3's).
 */
void gdt_load_cpu(struct percpu *pc);

/* The stack this CPU switches to on an interrupt or exception from ring 3. */
void tss_set_kernel_stack(u64 rsp0);

#endif
