// SPDX-License-Identifier: MIT
/*
 * The CMOS real-time clock (Motorola MC146818A datasheet): index at 0x70 (bit 7 is the NMI
 * mask, ignored), data at 0x71. The time registers are computed from the host clock at every
 * read, in BCD or binary and 24- or 12-hour form as status register B selects; an update is
 * never in progress (status A bit 7 clear), so Linux's read loop ends at once. No alarm or
 * periodic interrupt (IRQ8) is modelled: Linux does not need it to boot.
 */
#include <string.h>

#include "rtc.h"
#include "vmm.h"

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define B_24H 0x02
#define B_BINARY 0x04

static time_t host_now(void)
{
	return time(NULL);
}

void rtc_init(struct rtc *r, time_t (*now)(void))
{
	memset(r, 0, sizeof(*r));
	r->now = now ? now : host_now;
	r->ram[REG_A] = 0x26; /* 32.768 kHz time base, 1.024 kHz rate */
	r->ram[REG_B] = B_24H;
	r->ram[REG_D] = 0x80; /* valid RAM and time */
}

static uint8_t encode(const struct rtc *r, unsigned v)
{
	return (r->ram[REG_B] & B_BINARY) ? v : ((v / 10) << 4) | (v % 10);
}

static uint8_t hours(const struct rtc *r, unsigned h)
{
	if (r->ram[REG_B] & B_24H)
		return encode(r, h);
	unsigned h12 = h % 12 ? h % 12 : 12;
	return encode(r, h12) | (h >= 12 ? 0x80 : 0);
}

static uint32_t rtc_io_in(void *dev, uint16_t port, int size)
{
	struct rtc *r = dev;
	unsigned i = r->index;

	if (port == 0x70)
		return 0xff; /* the index register is write-only */
	if (i > REG_YEAR && i != REG_CENTURY)
		return i == REG_C ? 0 : r->ram[i];
	time_t t = r->now();
	struct tm tm;
	gmtime_r(&t, &tm);
	switch (i) {
	case REG_SECONDS:
		return encode(r, tm.tm_sec);
	case REG_MINUTES:
		return encode(r, tm.tm_min);
	case REG_HOURS:
		return hours(r, tm.tm_hour);
	case REG_WEEKDAY:
		return encode(r, tm.tm_wday + 1);
	case REG_DAY:
		return encode(r, tm.tm_mday);
	case REG_MONTH:
		return encode(r, tm.tm_mon + 1);
	case REG_YEAR:
		return encode(r, tm.tm_year % 100);
	case REG_CENTURY:
		return encode(r, 19 + tm.tm_year / 100);
	default: /* alarm registers */
		return r->ram[i];
	}
}

static void rtc_io_out(void *dev, uint16_t port, int size, uint32_t value)
{
	struct rtc *r = dev;

	if (port == 0x70) {
		r->index = value & 0x7f;
		return;
	}
	switch (r->index) {
	case REG_A:
		r->ram[REG_A] = value & 0x7f; /* UIP is read-only */
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		/* Setting the time is accepted and forgotten: the host clock stays the source. */
		r->ram[r->index] = value;
	}
}

/* The bus handler (bus.h). */
static int rtc_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		rtc_io_out(dev, (uint16_t)port, (int)size, (uint32_t)*value);
	else
		*value = rtc_io_in(dev, (uint16_t)port, (int)size);
	return 0;
}

int rtc_register(struct rtc *dev, struct bus *b)
{
	return bus_register(b, BUS_PIO, 0x70, 2, rtc_access, dev);
}
