/* SPDX-License-Identifier: MIT */
#ifndef VMM_MMIO_H
#define VMM_MMIO_H

#include <stdint.h>

#include <dyad/vcpu.h>

/* A decoded MMIO access: length of the instruction, and for a load the register it fills. */
struct mmio_insn {
	unsigned len; /* bytes */
	unsigned size; /* access size: 1, 2, 4 or 8 */
	int is_write;
	int reg; /* load destination / store source: 0 = rax ... 15 = r15; -1 for an immediate */
	int zero_extend; /* MOVZX */
	int high8; /* reg 4..7 without REX in a byte access: AH, CH, DH, BH */
	uint64_t imm; /* store of an immediate */
};

/*
 * Decodes the 64-bit-mode MOV forms compilers use for device registers: 88, 89, 8a, 8b, c6,
 * c7, 0f b6, 0f b7, with 66/REX/segment prefixes and any ModRM/SIB/displacement. Returns 0,
 * or -1 for anything else (the VMM then cannot emulate the access).
 */
int mmio_decode(const uint8_t *insn, unsigned n, struct mmio_insn *out);

/* The general register @reg (0..15, in x86 encoding order) of @r. */
unsigned long *mmio_reg(struct dyad_regs *r, int reg);

/* The value a decoded store @d writes (the bus masks it to d->size). */
uint64_t mmio_store_value(struct dyad_regs *r, const struct mmio_insn *d);

/* Puts the value @v a decoded load @d read into its destination register, as the CPU would:
 * 32-bit and MOVZX loads zero-extend, 8- and 16-bit loads keep the register's other bits. */
void mmio_load(struct dyad_regs *r, const struct mmio_insn *d, uint64_t v);

/*
 * A vCPU that can make no progress: an MMIO exit the VMM cannot finish (no instruction it
 * decodes: #GP injected) that comes back at the same RIP and address, over and over. A guest
 * whose page tables, IDT or stack lie outside RAM does that: each fetch, walk or exception
 * delivery faults again, and on a PC it would end in a triple fault. Another MMIO exit, or
 * an exit of the guest's own instructions (port I/O, MSRs, CPUID, HLT), ends a streak; timer,
 * host-interrupt and kick exits do not (they come between the repeats).
 */
#define MMIO_STUCK_LIMIT 256
struct mmio_stuck {
	uint64_t rip, gpa;
	unsigned count; /* the same unfinished exit in a row */
};

/*
 * Notes an MMIO exit at @rip for @gpa; @unfinished when the VMM could not decode it. Returns 1
 * when this is the MMIO_STUCK_LIMIT-th unfinished one in a row at that RIP and address.
 */
int mmio_stuck_note(struct mmio_stuck *s, uint64_t rip, uint64_t gpa, int unfinished);

/* Notes that the guest made progress (an exit of one of its instructions): the streak ends. */
static inline void mmio_stuck_reset(struct mmio_stuck *s)
{
	s->count = 0;
}

#endif
