// SPDX-License-Identifier: MIT
/* The kernel monitor: a handful of commands to look at a running kernel over the serial line. */
#include <arch/x86/asm.h>
#include <arch/x86/emu.h>
#include <dyad/console.h>
#include <dyad/ktest.h>
#include <dyad/monitor.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/time.h>

static void cmd_help(void);

static void cmd_mem(void)
{
	printf("%lu MiB free (%lu frames)\n", pmem_free_frames() >> 8, pmem_free_frames());
}

/*
 * Uptime counts from CPU reset (the TSC), the ticks from the timer's start: the difference is
 * the firmware, the boot loader and early boot, which ran before there was a timer. Ticks fall
 * behind the TSC only where interrupts were off for longer than a period (the LAPIC latches
 * one pending tick), or where an emulator ran late.
 */
static void cmd_time(void)
{
	u64 ticks = timer_ticks;
	u64 up = time_ns(), timed = time_since_timer_ns();
	u64 before = up > timed ? up - timed : 0;

	printf("uptime %lu.%03lu s since CPU reset, of which %lu.%03lu s before the timer started "
	       "(firmware, boot loader, early boot)\n",
	       up / 1000000000, up / 1000000 % 1000, before / 1000000000, before / 1000000 % 1000);
	printf("timer: %lu ticks in %lu.%03lu s at %d Hz (%lu expected, fewer if interrupts "
	       "were off long)\n",
	       ticks, timed / 1000000000, timed / 1000000 % 1000, TIMER_HZ,
	       timed / (1000000000 / TIMER_HZ));
}

static void cmd_ktest(void)
{
	ktest_run_all();
}

static void cmd_quit(void)
{
	emu_exit(true);
}

static const struct {
	const char *name;
	void (*fn)(void);
	const char *help;
} commands[] = {
	{ "help", cmd_help, "list commands" },
	{ "mem", cmd_mem, "free physical memory" },
	{ "time", cmd_time, "uptime, and timer ticks against the time they cover" },
	{ "ktest", cmd_ktest, "run the self-tests" },
	{ "quit", cmd_quit, "leave the emulator" },
};

static void cmd_help(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-6s %s\n", commands[i].name, commands[i].help);
}

/* Reads one line with echo and backspace; returns its length. */
static size_t read_line(char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		int c = console_getc();
		if (c == '\r' || c == '\n') {
			printf("\n");
			buf[n] = '\0';
			return n;
		}
		if ((c == 0x7f || c == '\b') && n > 0) {
			n--;
			printf("\b \b");
		} else if (c >= ' ' && c < 0x7f && n + 1 < cap) {
			buf[n++] = (char)c;
			printf("%c", c);
		}
	}
}

void monitor_run(void)
{
	char line[80];

	printf("Dyad is up. Type 'help' for commands.\n");
	for (;;) {
		printf("dyad> ");
		if (!read_line(line, sizeof(line)))
			continue;
		unsigned i;
		for (i = 0; i < ARRAY_SIZE(commands); i++)
			if (strcmp(line, commands[i].name) == 0)
				break;
		if (i < ARRAY_SIZE(commands))
			commands[i].fn();
		else
			printf("unknown command '%s' (try 'help')\n", line);
	}
}
