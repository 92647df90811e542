/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_RTC_H
#define ARCH_X86_RTC_H

#include <dyad/types.h>

/*
 * The PC's battery-backed real-time clock (MC146818 and its successors in the chipset, CMOS
 * registers 0x00-0x0b and the century at 0x32). Its registers are read raw and decoded apart,
 * so that the host tests can feed the decoder every format the chip has.
 */

/* The raw registers, as read: BCD or binary and 12- or 24-hour, as status B says. */
struct rtc_regs {
	u8 sec, min, hour, mday, mon, year;
	u8 century; /* register 0x32: the century on PCs (no ACPI table names it here) */
	u8 status_b;
};

#define RTC_B_24H BIT(1) /* hours count 0-23 (else 1-12 with bit 7 = PM) */
#define RTC_B_BINARY BIT(2) /* values are binary (else BCD) */

/* A date and time of day, in the clock's own time zone (Dyad takes it as UTC). */
struct rtc_date {
	unsigned year, mon, mday; /* mon 1-12, mday 1-31 */
	unsigned hour, min, sec;
};

/*
 * Decodes @r into @d: BCD or binary, 12- or 24-hour, the century from register 0x32 when it
 * holds 19-21, else years 70-99 as 19xx and 00-69 as 20xx. Returns false, leaving @d
 * unspecified, if any field is not a valid value of its format (a BCD digit above 9, month 13,
 * 30 February, hour 0 in 12-hour mode...).
 */
bool rtc_decode(const struct rtc_regs *r, struct rtc_date *d);

/* Seconds from 1970-01-01 00:00:00 to @d (a date rtc_decode accepted; 1970 to 2199). */
u64 rtc_date_to_unix(const struct rtc_date *d);

/*
 * Reads the clock's registers into @r, between two updates: it waits for the
 * update-in-progress flag to clear and reads until two passes agree. Returns false if the
 * clock never settles (no RTC, or one that updates all the time).
 */
bool rtc_read(struct rtc_regs *r);

#endif
