// SPDX-License-Identifier: MIT
/*
 * Just enough x86 decoding to finish an MMIO exit (Intel SDM vol. 2, ch. 2: instruction
 * format; ModRM/SIB addressing in 64-bit mode), and the register side of the access: the value
 * a store writes, and how a load's value lands in its destination register.
 */
#include <string.h>

#include "mmio.h"

unsigned long *mmio_reg(struct dyad_regs *r, int reg)
{
	/* x86 order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
	unsigned long *const map[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
					 &r->rsi, &r->rdi, &r->r8,  &r->r9,  &r->r10, &r->r11,
					 &r->r12, &r->r13, &r->r14, &r->r15 };
	return map[reg & 15];
}

uint64_t mmio_store_value(struct dyad_regs *r, const struct mmio_insn *d)
{
	if (d->reg < 0)
		return d->imm;
	uint64_t v = *mmio_reg(r, d->reg);
	return d->high8 ? v >> 8 : v;
}

void mmio_load(struct dyad_regs *r, const struct mmio_insn *d, uint64_t v)
{
	unsigned long *dst = mmio_reg(r, d->reg);

	if (d->high8)
		*dst = (*dst & ~0xff00UL) | (v & 0xff) << 8;
	else if (d->zero_extend || d->size >= 4)
		*dst = v; /* MOVZX, and a 32-bit load, zero-extend; the bus masked v to the size */
	else if (d->size == 2)
		*dst = (*dst & ~0xffffUL) | (v & 0xffff);
	else
		*dst = (*dst & ~0xffUL) | (v & 0xff);
}

int mmio_decode(const uint8_t *insn, unsigned n, struct mmio_insn *out)
{
	unsigned i = 0, opsize = 4, rex = 0;

	memset(out, 0, sizeof(*out));
	for (; i < n; i++) {
		uint8_t b = insn[i];
		if (b == 0x66)
			opsize = 2;
		else if (b == 0x2e || b == 0x3e || b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65)
			continue;
		else
			break;
	}
	if (i < n && (insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	if (rex & 8)
		opsize = 8;
	if (i >= n)
		return -1;

	uint8_t op = insn[i++];
	unsigned imm_bytes = 0;
	switch (op) {
	case 0x88: /* mov r/m8, r8 */
		out->is_write = 1;
		out->size = 1;
		break;
	case 0x89: /* mov r/m, r */
		out->is_write = 1;
		out->size = opsize;
		break;
	case 0x8a: /* mov r8, r/m8 */
		out->size = 1;
		break;
	case 0x8b: /* mov r, r/m */
		out->size = opsize;
		break;
	case 0xc6: /* mov r/m8, imm8 */
		out->is_write = 1;
		out->size = 1;
		imm_bytes = 1;
		break;
	case 0xc7: /* mov r/m, imm16/32 (sign-extended for 64) */
		out->is_write = 1;
		out->size = opsize;
		imm_bytes = opsize == 2 ? 2 : 4;
		break;
	case 0x0f:
		if (i >= n || (insn[i] != 0xb6 && insn[i] != 0xb7))
			return -1;
		out->size = insn[i++] == 0xb6 ? 1 : 2;
		out->zero_extend = 1;
		break;
	default:
		return -1;
	}
	if (i >= n)
		return -1;
	uint8_t modrm = insn[i++];
	unsigned mod = modrm >> 6, rm = modrm & 7;
	if (mod == 3)
		return -1; /* a register operand cannot have caused an MMIO exit */
	out->reg = (int)(((modrm >> 3) & 7) | ((rex & 4) << 1));
	if (out->size == 1 && !out->zero_extend && !rex && out->reg >= 4) {
		out->high8 = 1;
		out->reg -= 4;
	}
	if (rm == 4) {
		if (i >= n)
			return -1;
		uint8_t sib = insn[i++];
		if (mod == 0 && (sib & 7) == 5)
			i += 4;
	} else if (mod == 0 && rm == 5) {
		i += 4; /* RIP-relative */
	}
	i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (imm_bytes) {
		if (i + imm_bytes > n)
			return -1;
		uint64_t v = 0;
		memcpy(&v, insn + i, imm_bytes);
		if (imm_bytes == 4 && opsize == 8)
			v = (uint64_t)(int64_t)(int32_t)v;
		out->imm = v;
		out->reg = -1;
		i += imm_bytes;
	}
	if (i > n || i > 15)
		return -1;
	out->len = i;
	return 0;
}

int mmio_stuck_note(struct mmio_stuck *s, uint64_t rip, uint64_t gpa, int unfinished)
{
	if (!unfinished || !s->count || s->rip != rip || s->gpa != gpa) {
		*s = (struct mmio_stuck){ .rip = rip, .gpa = gpa, .count = unfinished ? 1 : 0 };
		return 0;
	}
	return ++s->count == MMIO_STUCK_LIMIT;
}
