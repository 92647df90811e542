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

#endif
