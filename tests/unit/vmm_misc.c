// SPDX-License-Identifier: MIT
/*
 * The VMM's smaller parts: its options, the console's batching and banner watch, the MMIO
 * decoder, the CPUID policy against a fake host, the RTC, the PC ports and the MSR table.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "console.h"
#include "cpuid.h"
#include "mmio.h"
#include "msr.h"
#include "options.h"
#include "ports.h"
#include "rtc.h"
#include "vmm.h"

#include "x2apic.h"

static struct bus bus;

static int parse(struct options *o, char *err, int argc, ...)
{
	char *argv[16] = { "vmm" };
	va_list ap;

	va_start(ap, argc);
	for (int i = 1; i <= argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	err[0] = 0;
	return options_parse(argc + 1, argv, o, err, 200);
}

static void test_options(void **state)
{
	struct options o;
	char err[200];

	assert_int_equal(parse(&o, err, 1, "bzImage"), 0);
	assert_string_equal(o.kernel, "bzImage");
	assert_null(o.initrd);
	assert_int_equal(o.ram, 256 << 20);
	assert_string_equal(o.cmdline, OPTIONS_DEFAULT_CMDLINE);

	assert_int_equal(parse(&o, err, 8, "-m", "1G", "-i", "initrd", "-q", "vmlinux",
			       "console=ttyS0", "quiet"),
			 0);
	assert_int_equal(o.ram, 1 << 30);
	assert_string_equal(o.initrd, "initrd");
	assert_int_equal(o.quiet, 1);
	assert_string_equal(o.cmdline, "console=ttyS0 quiet");

	assert_int_equal(parse(&o, err, 5, "-a", "dyad_mode=test", "-a", "x=1", "k"), 0);
	assert_non_null(strstr(o.cmdline, "panic=-1 dyad_mode=test x=1"));

	assert_int_equal(parse(&o, err, 2, "-x", "k"), -1);
	assert_non_null(strstr(err, "unknown option '-x'"));
	assert_int_equal(parse(&o, err, 0), -1);
	assert_non_null(strstr(err, "no kernel"));
	assert_int_equal(parse(&o, err, 1, "-m"), -1);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, err, 3, "-m", "12Q", "k"), -1);
	assert_non_null(strstr(err, "bad RAM size"));
	assert_int_equal(parse(&o, err, 3, "-m", "16M", "k"), -1);
	assert_non_null(strstr(err, "32 MiB to 1048576 MiB"));
	assert_int_equal(parse(&o, err, 3, "-m", "2048G", "k"), -1);
	/* Above 3 GiB is allowed: RAM continues at 4 GiB. */
	assert_int_equal(parse(&o, err, 3, "-m", "6G", "k"), 0);
	assert_int_equal(o.ram, 6ULL << 30);
	/* The guest's physical address width. */
	assert_int_equal(parse(&o, err, 3, "-p", "36", "k"), 0);
	assert_int_equal(o.phys_bits, 36);
	assert_int_equal(parse(&o, err, 3, "-p", "31", "k"), -1);
	assert_non_null(strstr(err, "bad physical address width '31'"));
	assert_int_equal(parse(&o, err, 3, "-p", "53", "k"), -1);
	assert_int_equal(parse(&o, err, 3, "-p", "4x", "k"), -1);
	assert_int_equal(parse(&o, err, 3, "-m", "99999999999999999999G", "k"), -1);
	/* vCPUs: 1 by default, 1 to OPTIONS_MAX_CPUS with -c. */
	assert_int_equal(parse(&o, err, 1, "k"), 0);
	assert_int_equal(o.ncpus, 1);
	assert_int_equal(parse(&o, err, 3, "-c", "8", "k"), 0);
	assert_int_equal(o.ncpus, 8);
	assert_int_equal(parse(&o, err, 3, "-c", "32", "k"), 0);
	assert_int_equal(parse(&o, err, 3, "-c", "0", "k"), -1);
	assert_non_null(strstr(err, "bad vCPU count '0' (1 to 32)"));
	assert_int_equal(parse(&o, err, 3, "-c", "33", "k"), -1);
	assert_int_equal(parse(&o, err, 3, "-c", "2x", "k"), -1);
	assert_int_equal(parse(&o, err, 2, "k", "-c"), 0); /* after the kernel: a guest word */
}

static void test_options_long_cmdline(void **state)
{
	static char word[1500];
	struct options o;
	char err[200];

	memset(word, 'a', sizeof(word) - 1);
	/* 2 KiB is Linux's limit on x86: one 1.5 KiB word fits, two do not. */
	assert_int_equal(parse(&o, err, 2, "k", word), 0);
	assert_int_equal(strlen(o.cmdline), sizeof(word) - 1);
	assert_int_equal(parse(&o, err, 3, "k", word, word), -1);
	assert_non_null(strstr(err, "longer than"));
}

/* Absurd values and counts: each refused with a line that names it, none taken as valid. */
static void test_options_absurd(void **state)
{
	static char *argv[2 * (OPTIONS_MAX_APPEND + 1) + 3];
	struct options o;
	char err[200];
	int n = 0;

	assert_int_equal(parse(&o, err, 3, "-c", "-1", "k"), -1);
	assert_non_null(strstr(err, "bad vCPU count '-1'"));
	assert_int_equal(parse(&o, err, 3, "-c", "18446744073709551617", "k"), -1);
	assert_non_null(strstr(err, "bad vCPU count"));
	assert_int_equal(parse(&o, err, 3, "-p", "4294967328", "k"), -1);
	assert_non_null(strstr(err, "bad physical address width"));
	assert_int_equal(parse(&o, err, 3, "-m", "-5M", "k"), -1);
	assert_non_null(strstr(err, "bad RAM size '-5M'"));
	assert_int_equal(parse(&o, err, 3, "-m", "1.5G", "k"), -1);
	assert_int_equal(parse(&o, err, 3, "-m", "33000K", "k"), -1);
	assert_non_null(strstr(err, "whole number of MiB"));
	assert_int_equal(parse(&o, err, 2, "-C", ""), -1);
	assert_non_null(strstr(err, "option -C needs"));
	assert_int_equal(parse(&o, err, 1, "-d"), -1);
	assert_non_null(strstr(err, "option -d needs a disk image"));
	assert_int_equal(parse(&o, err, 2, "--module", ",string"), -1);
	assert_non_null(strstr(err, "--module needs FILE"));
	/* One -a more than OPTIONS_MAX_APPEND. */
	argv[n++] = "vmm";
	for (int i = 0; i <= OPTIONS_MAX_APPEND; i++) {
		argv[n++] = "-a";
		argv[n++] = "w";
	}
	argv[n++] = "k";
	assert_int_equal(options_parse(n, argv, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 256 -a options"));
	/* OPTIONS_MAX_APPEND of them fit. */
	argv[n - 3] = "k";
	assert_int_equal(options_parse(n - 2, argv, &o, err, sizeof(err)), 0);
}

static void test_size_suffixes(void **state)
{
	assert_int_equal(options_size("4096"), 4096);
	assert_int_equal(options_size("64k"), 64 << 10);
	assert_int_equal(options_size("3G"), 3ULL << 30);
	assert_int_equal(options_size(""), 0);
	assert_int_equal(options_size("M"), 0);
	assert_int_equal(options_size("1MB"), 0);
}

static void test_console_batches_and_finds_banner(void **state)
{
	struct console c;
	int fds[2];
	char buf[64];
	const char *out = "boot\n=== dyad-gu=== dyad-guest: Linux\n";

	assert_int_equal(pipe(fds), 0);
	console_init(&c, fds[1], 1000, "=== dyad-guest:"); /* 1 MHz: 10 ms = 10000 ticks */
	for (unsigned i = 0; out[i]; i++)
		console_put(&c, (uint8_t)out[i], 100 + i);
	/* Nothing written yet: one batch, due 10 ms after the first byte. */
	assert_int_equal(c.writes, 0);
	assert_int_equal(c.due, 100 + 10000);
	assert_int_equal(c.banner_tsc, 100 + strlen("boot\n=== dyad-gu=== dyad-guest:") - 1);
	console_flush(&c);
	assert_int_equal(c.writes, 1);
	assert_int_equal(c.due, 0);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), strlen(out));
	assert_memory_equal(buf, out, strlen(out));
	close(fds[0]);
	close(fds[1]);
}

static void put_str(struct console *c, const char *s, uint64_t now)
{
	while (*s)
		console_put(c, (uint8_t)*s++, now);
}

/* What console_end_line writes after the guest's output so far: a newline only mid-line. */
static void test_console_end_line(void **state)
{
	struct console c;
	int fds[2];
	char buf[64];

	assert_int_equal(pipe(fds), 0);
	console_init(&c, fds[1], 1000, NULL);
	console_end_line(&c); /* nothing printed yet: nothing to end */
	put_str(&c, "(order: 5, 131", 1);
	console_end_line(&c);
	put_str(&c, "072 bytes)\r\n", 2);
	console_end_line(&c); /* the guest ended its line itself */
	console_end_line(&c);
	console_flush(&c);
	ssize_t n = read(fds[0], buf, sizeof(buf));
	assert_int_equal(n, strlen("(order: 5, 131\n072 bytes)\r\n"));
	assert_memory_equal(buf, "(order: 5, 131\n072 bytes)\r\n", n);
	close(fds[0]);
	close(fds[1]);
}

/* Linux's panic line is kept from its marker on, the first one only; the end line is seen. */
static void test_console_panic_watch(void **state)
{
	struct console c;
	int fd = open("/dev/null", O_WRONLY);

	console_init(&c, fd, 1000, NULL);
	put_str(&c, "[    1.0] Kernel panic - not syncing\r\n", 5);
	assert_int_equal(c.panic_tsc, 5);
	assert_string_equal(c.panic, "Kernel panic - not syncing");
	assert_false(c.panic_end);
	put_str(&c, "[    1.1] Kernel panic - not syncing: second\r\n", 6);
	assert_int_equal(c.panic_tsc, 5);
	assert_string_equal(c.panic, "Kernel panic - not syncing");
	put_str(&c, "[    1.2] ---[ end Kernel panic - not syncing: x ]---\r\n", 7);
	assert_true(c.panic_end);
	close(fd);

	/* A line longer than the watch keeps its start; a marker split across writes counts. */
	fd = open("/dev/null", O_WRONLY);
	console_init(&c, fd, 1000, NULL);
	put_str(&c, "[ 2.0] Kernel panic - not sync", 1);
	assert_int_equal(c.panic_tsc, 0);
	put_str(&c, "ing: VFS: Unable to mount root fs on unknown-block(0,0)", 2);
	for (int i = 0; i < 300; i++)
		console_put(&c, 'x', 3);
	assert_int_equal(c.panic_tsc, 0); /* the line has not ended */
	put_str(&c, "\n", 4);
	assert_int_equal(c.panic_tsc, 4);
	assert_int_equal(strlen(c.panic), CONSOLE_LINE - 1 - strlen("[ 2.0] "));
	assert_memory_equal(c.panic, "Kernel panic - not syncing: VFS: Unable to mount root fs",
			    strlen("Kernel panic - not syncing: VFS: Unable to mount root fs"));
	/* An ordinary boot has no panic. */
	console_init(&c, fd, 1000, NULL);
	put_str(&c, "Run /init as init process\nkernel panic in a sentence\n", 1);
	assert_int_equal(c.panic_tsc, 0);
	close(fd);
}

static void test_console_banner_overlap(void **state)
{
	struct console c;
	int fd = open("/dev/null", O_WRONLY);

	/* "abab" then "c": the match must fall back to "ab", not restart. */
	console_init(&c, fd, 1000, "abac");
	const char *s = "ababac";
	for (unsigned i = 0; s[i]; i++)
		console_put(&c, (uint8_t)s[i], 1 + i);
	assert_int_equal(c.banner_tsc, 6);
	close(fd);
}

static void test_console_full_buffer_flushes(void **state)
{
	struct console c;
	int fd = open("/dev/null", O_WRONLY);

	console_init(&c, fd, 1000, NULL);
	for (unsigned i = 0; i < CONSOLE_BUF + 1; i++)
		console_put(&c, 'x', 1);
	assert_int_equal(c.writes, 1);
	assert_int_equal(c.len, 1);
	close(fd);
}

/*
 * The stuck detector: the MMIO_STUCK_LIMIT-th unfinished exit in a row at one RIP and address
 * ends the guest, and not one earlier; a decoded exit, another address or RIP, or progress
 * (mmio_stuck_reset) starts over.
 */
static void test_mmio_stuck(void **state)
{
	struct mmio_stuck s = { 0 };

	(void)state;
	for (unsigned i = 1; i < MMIO_STUCK_LIMIT; i++)
		assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 0);
	assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 1);
	/* Each kind of break in the streak. */
	for (int kind = 0; kind < 4; kind++) {
		s = (struct mmio_stuck){ 0 };
		for (unsigned i = 1; i < MMIO_STUCK_LIMIT; i++)
			assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 0);
		if (kind == 0)
			assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 0), 0);
		else if (kind == 1)
			assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000008, 1), 0);
		else if (kind == 2)
			assert_int_equal(mmio_stuck_note(&s, 0x1003, 0xd0000000, 1), 0);
		else
			mmio_stuck_reset(&s);
		for (unsigned i = 1; i < MMIO_STUCK_LIMIT - 1; i++)
			assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 0);
		/* A streak begun anew reaches the limit MMIO_STUCK_LIMIT exits after its start. */
		assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 0);
		assert_int_equal(mmio_stuck_note(&s, 0x1000, 0xd0000000, 1), 1);
	}
}

static void test_mmio_decode(void **state)
{
	struct mmio_insn d;
	struct dyad_regs r = { 0 };

	/* mov (%rdi), %eax */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x8b, 0x07 }, 2, &d), 0);
	assert_int_equal(d.len, 2);
	assert_int_equal(d.size, 4);
	assert_false(d.is_write);
	assert_ptr_equal(mmio_reg(&r, d.reg), &r.rax);
	/* mov %r9, 0x10(%rax) */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x4c, 0x89, 0x48, 0x10 }, 4, &d), 0);
	assert_int_equal(d.len, 4);
	assert_int_equal(d.size, 8);
	assert_true(d.is_write);
	assert_ptr_equal(mmio_reg(&r, d.reg), &r.r9);
	/* movl $0x12345678, 0xfee000b0 (SIB, disp32) */
	const uint8_t movl[] = { 0xc7, 0x04, 0x25, 0xb0, 0x00, 0xe0, 0xfe, 0x78, 0x56, 0x34, 0x12 };
	assert_int_equal(mmio_decode(movl, sizeof(movl), &d), 0);
	assert_int_equal(d.len, 11);
	assert_int_equal(d.imm, 0x12345678);
	/* movzbl 0x1(%rdx), %ecx; mov 0x100(%rbx), %ah */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x0f, 0xb6, 0x4a, 0x01 }, 4, &d), 0);
	assert_int_equal(d.len, 4);
	assert_true(d.zero_extend);
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x8a, 0xa3, 0, 1, 0, 0 }, 6, &d), 0);
	assert_int_equal(d.len, 6);
	assert_true(d.high8);
	assert_ptr_equal(mmio_reg(&r, d.reg), &r.rax);
	/* Refused: a register operand, an unknown opcode, bytes cut short. */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x89, 0xc0 }, 2, &d), -1);
	assert_int_equal(mmio_decode((const uint8_t[]){ 0xa5 }, 1, &d), -1);
	assert_int_equal(mmio_decode(movl, 8, &d), -1);
	assert_int_equal(mmio_decode(movl, 0, &d), -1);
}

/* A host that has everything the policy must hide. */
static void fake_host(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	memset(r, 0, 16);
	switch (leaf) {
	case 0:
		r[0] = 0xd;
		memcpy(&r[1], "Genu", 4);
		memcpy(&r[3], "ineI", 4);
		memcpy(&r[2], "ntel", 4);
		break;
	case 1:
		r[0] = 0x906ea;
		r[1] = 0x05100800; /* APIC ID 5, 16 logical */
		r[2] = 0xffffffff & ~(1u << 31);
		r[3] = 0xffffffff;
		break;
	case 6:
		r[0] = 0xffff;
		break;
	case 0xd:
		r[0] = 0x2e7;
		r[1] = r[2] = 2696;
		break;
	case 7:
		r[1] = r[2] = r[3] = 0xffffffff;
		break;
	case 0x80000001:
		r[2] = r[3] = 0xffffffff;
		break;
	}
}

static void test_cpuid_policy(void **state)
{
	struct cpuid_policy p = { .tsc_khz = 2500000, .host = fake_host };
	uint32_t r[4];

	cpuid_guest(&p, 0, 0, r);
	assert_int_equal(r[0], 0x16); /* raised to reach the frequency leaves */
	cpuid_guest(&p, 1, 0, r);
	assert_int_equal(r[1] >> 24, 0);
	assert_int_equal((r[1] >> 16) & 0xff, 1);
	assert_true(r[2] & (1u << 31)); /* hypervisor */
	assert_true(r[2] & (1u << 21)); /* x2APIC */
	assert_true(r[2] & (1u << 24)); /* TSC-deadline */
	assert_false(r[2] & (1u << 5)); /* VMX */
	assert_false(r[2] & (1u << 3)); /* MONITOR */
	assert_false(r[3] & (1u << 7)); /* MCE */
	assert_false(r[3] & (1u << 12)); /* MTRR */
	assert_false(r[3] & (1u << 28)); /* HTT */
	assert_true(r[2] & (1u << 26)); /* XSAVE */
	cpuid_guest(&p, 6, 0, r);
	assert_int_equal(r[0], 4); /* ARAT only */
	cpuid_guest(&p, 7, 0, r);
	assert_false(r[3] & (1u << 29)); /* ARCH_CAPABILITIES */
	assert_false(r[1] & (1u << 1)); /* TSC_ADJUST */
	assert_false(r[1] & (1u << 16)); /* AVX512F */
	assert_false(r[2] & (1u << 3)); /* PKU */
	assert_false(r[2] & (1u << 16)); /* LA57 */
	assert_false(r[2] & (1u << 22)); /* RDPID: TSC_AUX is not emulated */
	/* XSAVE offers x87, SSE, AVX with sizes for exactly that set, whatever the host's XCR0. */
	cpuid_guest(&p, 0xd, 0, r);
	assert_int_equal(r[0], 0x7);
	assert_int_equal(r[1], 832);
	assert_int_equal(r[2], 832);
	cpuid_guest(&p, 0xd, 1, r);
	assert_int_equal(r[0], 0); /* no XSAVEOPT/XSAVEC/XSAVES */
	cpuid_guest(&p, 0xd, 2, r);
	assert_int_equal(r[0], 256);
	assert_int_equal(r[1], 576);
	cpuid_guest(&p, 0xd, 5, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	cpuid_guest(&p, 0x15, 0, r);
	assert_int_equal((uint64_t)r[2] * r[1] / r[0], 2500000000ULL);
	assert_int_equal(r[2], APIC_CRYSTAL_KHZ * 1000);
	cpuid_guest(&p, 0x16, 0, r);
	assert_int_equal(r[0], 2500);
	cpuid_guest(&p, 0x40000000, 0, r);
	assert_int_equal(r[0], 0x40000001);
	assert_memory_equal(&r[1], "KVMKVMKVM\0\0\0", 12);
	cpuid_guest(&p, 0x40000001, 0, r);
	assert_int_equal(r[0], 1u << 6); /* KVM_FEATURE_PV_EOI alone */
	assert_int_equal(r[1] | r[2] | r[3], 0);
	cpuid_guest(&p, 0x80000001, 0, r);
	assert_false(r[2] & (1u << 2)); /* SVM */
	assert_false(r[3] & (1u << 27)); /* RDTSCP: TSC_AUX is not emulated */
	assert_true(r[3] & (1u << 29)); /* long mode stays */
	cpuid_guest(&p, 0x17, 0, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
}

static time_t fixed_now(void)
{
	return 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
}

static void test_rtc(void **state)
{
	struct rtc r;

	bus_init(&bus);
	rtc_init(&r, fixed_now);
	assert_int_equal(rtc_register(&r, &bus), 0);
	const uint8_t bcd[][2] = { { 0, 0x20 }, { 2, 0x13 }, { 4, 0x22 }, { 6, 3 },
				   { 7, 0x14 }, { 8, 0x11 }, { 9, 0x23 }, { 0x32, 0x20 } };
	for (unsigned i = 0; i < sizeof(bcd) / sizeof(bcd[0]); i++) {
		bus_out(&bus, 0x70, 1,
			0x80 | bcd[i][0]); /* bit 7 (NMI mask) is not part of the index */
		assert_int_equal(bus_in(&bus, 0x71, 1), bcd[i][1]);
	}
	bus_out(&bus, 0x70, 1, 0x0a);
	assert_int_equal(bus_in(&bus, 0x71, 1) & 0x80, 0); /* no update in progress */
	bus_out(&bus, 0x70, 1, 0x0b);
	bus_out(&bus, 0x71, 1, 0x06); /* binary, 24 h */
	bus_out(&bus, 0x70, 1, 0x04);
	assert_int_equal(bus_in(&bus, 0x71, 1), 22);
	bus_out(&bus, 0x70, 1, 0x0b);
	bus_out(&bus, 0x71, 1, 0x04); /* binary, 12 h */
	bus_out(&bus, 0x70, 1, 0x04);
	assert_int_equal(bus_in(&bus, 0x71, 1), 0x80 | 10);
}

static int refuse(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value)
{
	return -1;
}

static void test_ports(void **state)
{
	struct ports p;

	bus_init(&bus);
	ports_init(&p);
	assert_int_equal(ports_register(&p, &bus), 0);
	/* PCI configuration (0xcf8, 0xcfc-0xcff) is pci.c's: only 0xcf9 is taken among them. */
	assert_int_equal(bus_register(&bus, BUS_PIO, 0xcf8, 1, refuse, NULL), 0);
	assert_int_equal(bus_register(&bus, BUS_PIO, 0xcfc, 4, refuse, NULL), 0);
	/* Unowned ports read all ones and count. */
	assert_int_equal(bus_in(&bus, 0x1234, 1), 0xff);
	assert_int_equal(bus_in(&bus, 0x1234, 4), 0xffffffff);
	bus_out(&bus, 0x1234, 1, 0);
	assert_int_equal(bus.space[BUS_PIO].unowned, 3);
	assert_int_equal(bus.space[BUS_PIO].last_unowned, 0x1234);
	bus_out(&bus, 0x80, 1, 0x55);
	assert_int_equal(bus_in(&bus, 0x80, 1), 0xff);
	/* Verdict, then resets. */
	assert_int_equal(p.verdict, -1);
	bus_out(&bus, VMM_DEBUG_PORT, 1, 3);
	assert_int_equal(p.verdict, 3);
	assert_false(p.reset);
	bus_out(&bus, 0xcf9, 1, 0x02);
	assert_false(p.reset);
	bus_out(&bus, 0xcf9, 1, 0x06);
	assert_true(p.reset);
	p.reset = 0;
	bus_out(&bus, 0x64, 1, 0xfe);
	assert_true(p.reset);
}

static void test_msrs(void **state)
{
	struct msrs m;
	uint64_t v;

	bus_init(&bus);
	msrs_init(&m);
	assert_int_equal(msrs_register(&m, &bus), 0);
	assert_int_equal(bus_rdmsr(&bus, 0x3a, &v), 0);
	assert_int_equal(v & 1, 1);
	assert_int_equal(bus_wrmsr(&bus, 0x3a, 5), -1);
	assert_int_equal(bus_wrmsr(&bus, 0x1a0, 0x801), 0);
	assert_int_equal(bus_rdmsr(&bus, 0x1a0, &v), 0);
	assert_int_equal(v, 0x801);
	assert_int_equal(bus_rdmsr(&bus, 0xc0010015, &v), 0);
	assert_true(v & (1u << 24));
	/* AMD's interrupt-pending message register: C1E off (Linux reads it unguarded). */
	v = 1;
	assert_int_equal(bus_rdmsr(&bus, 0xc0010055, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_wrmsr(&bus, 0xc0010055, 0), 0);
	/*
	 * AMD's NB_CFG: Linux on family 0x10 and later (EPYC's 0x17 too) reads it unguarded to turn
	 * on CF8 extended configuration; reads 0, a write is taken and ignored.
	 */
	v = 1;
	assert_int_equal(bus_rdmsr(&bus, 0xc001001f, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_wrmsr(&bus, 0xc001001f, 1ull << 46), 0);
	/* Unknown: #GP, counted. */
	assert_int_equal(bus_rdmsr(&bus, 0x10a, &v), -1);
	assert_int_equal(bus_wrmsr(&bus, 0xdeadbeef, 1), -1);
	assert_int_equal(bus.space[BUS_MSR].unowned, 2);
}

/* The fake host as Dyad sees it with XSAVE left off: CPUID 1 has XSAVE but not OSXSAVE. */
static void fake_host_xsave_off(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	fake_host(leaf, sub, r);
	if (leaf == 1)
		r[2] &= ~(1u << 27);
}

/*
 * A host kernel that left XSAVE off cannot switch the guest's XSAVE state (it refuses XSETBV):
 * the guest must see neither XSAVE nor the AVX family, and an empty leaf 0xd.
 */
static void test_cpuid_without_host_xsave(void **state)
{
	struct cpuid_policy p = { .tsc_khz = 2500000, .host = fake_host_xsave_off };
	uint32_t r[4];

	cpuid_guest(&p, 1, 0, r);
	assert_false(r[2] & (1u << 26)); /* XSAVE */
	assert_false(r[2] & (1u << 27)); /* OSXSAVE */
	assert_false(r[2] & (1u << 28)); /* AVX */
	assert_false(r[2] & (1u << 12)); /* FMA */
	assert_false(r[2] & (1u << 29)); /* F16C */
	assert_true(r[2] & (1u << 0)); /* SSE3 stays */
	cpuid_guest(&p, 7, 0, r);
	assert_false(r[1] & (1u << 5)); /* AVX2 */
	assert_false(r[2] & (3u << 9)); /* VAES, VPCLMULQDQ */
	assert_true(r[1] & (1u << 0)); /* FSGSBASE stays */
	for (uint32_t sub = 0; sub < 3; sub++) {
		cpuid_guest(&p, 0xd, sub, r);
		assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	}
	/* With XSAVE on, the same host offers it (the control). */
	p.host = fake_host;
	cpuid_guest(&p, 1, 0, r);
	assert_true(r[2] & (1u << 26));
	cpuid_guest(&p, 0xd, 0, r);
	assert_int_equal(r[0], 0x7);
}

static void leaf0_of(const char *vendor, uint32_t r[4])
{
	r[0] = 0xd;
	memcpy(&r[1], vendor, 4);
	memcpy(&r[3], vendor + 4, 4);
	memcpy(&r[2], vendor + 8, 4);
}

/* AMD and Hygon (AMD's design) are AMD to the policy; Intel and a near miss are not. */
static void test_cpuid_vendor_amd(void **state)
{
	uint32_t r[4];

	leaf0_of("AuthenticAMD", r);
	assert_true(cpuid_vendor_amd(r));
	leaf0_of("HygonGenuine", r);
	assert_true(cpuid_vendor_amd(r));
	leaf0_of("GenuineIntel", r);
	assert_false(cpuid_vendor_amd(r));
	leaf0_of("AuthenticAMX", r);
	assert_false(cpuid_vendor_amd(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_options_long_cmdline),
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_console_batches_and_finds_banner),
		cmocka_unit_test(test_console_banner_overlap),
		cmocka_unit_test(test_console_end_line),
		cmocka_unit_test(test_console_panic_watch),
		cmocka_unit_test(test_console_full_buffer_flushes),
		cmocka_unit_test(test_mmio_decode),
		cmocka_unit_test(test_mmio_stuck),
		cmocka_unit_test(test_options_absurd),
		cmocka_unit_test(test_cpuid_policy),
		cmocka_unit_test(test_cpuid_without_host_xsave),
		cmocka_unit_test(test_cpuid_vendor_amd),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_msrs),
	};
	return cmocka_run_group_tests_name("vmm_misc", tests, NULL, NULL);
}
