// SPDX-License-Identifier: MIT
/*
 * The CMOS real-time clock: reading its registers between updates, and decoding them into a
 * date. The decoder is pure (the host tests run it); only rtc_read touches ports.
 */
#include <arch/x86/rtc.h>
#ifndef HOST_BUILD
#include <arch/x86/asm.h>
#endif

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_MDAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_STATUS_A 0x0a
#define RTC_STATUS_B 0x0b
#define RTC_CENTURY 0x32
#define RTC_A_UIP BIT(7) /* an update is in progress, or starts within 244 us */
#define RTC_HOUR_PM BIT(7)

/* A BCD byte's value, or -1 if a digit is above 9. */
static int from_bcd(u8 v)
{
	if ((v & 0xf) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

static int field(const struct rtc_regs *r, u8 v)
{
	return (r->status_b & RTC_B_BINARY) ? v : from_bcd(v);
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const u8 days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return days[m - 1] + (m == 2 && is_leap(y));
}

/* The hour 0-23 from a 12- or 24-hour register, or -1. */
static int decode_hour(const struct rtc_regs *r)
{
	if (r->status_b & RTC_B_24H)
		return field(r, r->hour);
	int h = field(r, r->hour & ~RTC_HOUR_PM);
	if (h < 1 || h > 12)
		return -1;
	/* 12 AM is midnight, 12 PM noon. */
	return h % 12 + ((r->hour & RTC_HOUR_PM) ? 12 : 0);
}

bool rtc_decode(const struct rtc_regs *r, struct rtc_date *d)
{
	int sec = field(r, r->sec), min = field(r, r->min), hour = decode_hour(r);
	int mday = field(r, r->mday), mon = field(r, r->mon), year = field(r, r->year);
	int century = field(r, r->century);

	if (sec < 0 || sec > 59 || min < 0 || min > 59 || hour < 0 || hour > 23 || year < 0 ||
	    year > 99 || mon < 1 || mon > 12)
		return false;
	if (century >= 19 && century <= 21)
		year += century * 100;
	else
		year += year >= 70 ? 1900 : 2000;
	if (year < 1970 || mday < 1 || (unsigned)mday > days_in_month(year, mon))
		return false;
	*d = (struct rtc_date){ year, mon, mday, hour, min, sec };
	return true;
}

u64 rtc_date_to_unix(const struct rtc_date *d)
{
	u64 days = d->mday - 1;

	for (unsigned y = 1970; y < d->year; y++)
		days += is_leap(y) ? 366 : 365;
	for (unsigned m = 1; m < d->mon; m++)
		days += days_in_month(d->year, m);
	return ((days * 24 + d->hour) * 60 + d->min) * 60 + d->sec;
}

#ifndef HOST_BUILD
static u8 cmos_read(u8 reg)
{
	outb(CMOS_INDEX, reg); /* bit 7 clear: NMIs stay enabled */
	return inb(CMOS_DATA);
}

/* One pass over the registers, after the update-in-progress flag has cleared. */
static bool read_once(struct rtc_regs *r)
{
	/* An update takes under 2 ms; each port read is at least ~1 us, so this covers it. */
	for (unsigned i = 0; cmos_read(RTC_STATUS_A) & RTC_A_UIP; i++)
		if (i == 100000)
			return false;
	r->sec = cmos_read(RTC_SEC);
	r->min = cmos_read(RTC_MIN);
	r->hour = cmos_read(RTC_HOUR);
	r->mday = cmos_read(RTC_MDAY);
	r->mon = cmos_read(RTC_MON);
	r->year = cmos_read(RTC_YEAR);
	r->century = cmos_read(RTC_CENTURY);
	r->status_b = cmos_read(RTC_STATUS_B);
	return true;
}

bool rtc_read(struct rtc_regs *r)
{
	struct rtc_regs again;

	/* An update may still start between the flag check and the last read: read until stable. */
	if (!read_once(r))
		return false;
	for (unsigned i = 0; i < 10; i++) {
		if (!read_once(&again))
			return false;
		if (again.sec == r->sec && again.min == r->min && again.hour == r->hour &&
		    again.mday == r->mday && again.mon == r->mon && again.year == r->year &&
		    again.century == r->century)
			return true;
		*r = again;
	}
	return false;
}
#endif
