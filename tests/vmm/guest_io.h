/* SPDX-License-Identifier: MIT */
/*
 * Port I/O and a COM1 console for the freestanding test guests (tests/vmm/smpguest,
 * tests/vmm/chaos and the long-mode C of tests/vmm/mbkernel). Each is one program without a
 * library: everything here is static inline, and nothing depends on the code's width.
 * The console writes without waiting and ends lines with LF alone: the VMM's 16550 takes every
 * byte at once (its LSR always has THRE set), and the test scripts read lines either way.
 */
#ifndef DYAD_TESTS_VMM_GUEST_IO_H
#define DYAD_TESTS_VMM_GUEST_IO_H

#include <stdint.h>

#define COM1 0x3f8

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void putc(char c)
{
	outb(COM1, (uint8_t)c);
}

static inline void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

/* @v in decimal. */
static inline void putu(uint64_t v)
{
	char b[24];
	int i = 0;

	do
		b[i++] = (char)('0' + v % 10);
	while (v /= 10);
	while (i)
		putc(b[--i]);
}

/* @v in hexadecimal with 0x and no leading zeros. */
static inline void puthex(uint64_t v)
{
	int i = 60;

	puts("0x");
	while (i > 0 && !(v >> i))
		i -= 4;
	for (; i >= 0; i -= 4)
		putc("0123456789abcdef"[(v >> i) & 15]);
}

#endif
