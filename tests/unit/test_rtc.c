// SPDX-License-Identifier: MIT
/*
 * The CMOS RTC decoder: every register format the chip has (BCD or binary, 12- or 24-hour),
 * the century register or its absence, and values no clock can hold, which must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <arch/x86/rtc.h>

#define BCD(v) ((uint8_t)(((v) / 10) << 4 | (v) % 10))

/* 2026-12-06 13:45:07 in BCD, 24-hour, with the century register. */
static struct rtc_regs bcd_24h(void)
{
	return (struct rtc_regs){ .sec = 0x07,
				  .min = 0x45,
				  .hour = 0x13,
				  .mday = 0x06,
				  .mon = 0x12,
				  .year = 0x26,
				  .century = 0x20,
				  .status_b = RTC_B_24H };
}

/* The host C library's answer for the same UTC date. */
static uint64_t host_unix(int y, int mon, int d, int h, int m, int s)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mon - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = m,
			 .tm_sec = s };

	return (uint64_t)timegm(&tm);
}

static void bcd_24_hour_is_decoded(void **state)
{
	struct rtc_regs r = bcd_24h();
	struct rtc_date d;

	assert_true(rtc_decode(&r, &d));
	assert_int_equal(d.year, 2026);
	assert_int_equal(d.mon, 12);
	assert_int_equal(d.mday, 6);
	assert_int_equal(d.hour, 13);
	assert_int_equal(d.min, 45);
	assert_int_equal(d.sec, 7);
	assert_int_equal(rtc_date_to_unix(&d), host_unix(2026, 12, 6, 13, 45, 7));
}

static void binary_24_hour_is_decoded(void **state)
{
	struct rtc_regs r = { .sec = 59,
			      .min = 59,
			      .hour = 23,
			      .mday = 31,
			      .mon = 12,
			      .year = 99,
			      .century = 19,
			      .status_b = RTC_B_24H | RTC_B_BINARY };
	struct rtc_date d;

	assert_true(rtc_decode(&r, &d));
	assert_int_equal(d.year, 1999);
	assert_int_equal(d.hour, 23);
	assert_int_equal(rtc_date_to_unix(&d), host_unix(1999, 12, 31, 23, 59, 59));
}

static void twelve_hour_mode_maps_am_pm_and_twelve(void **state)
{
	/* {register hour without PM, PM bit, 24-hour result} */
	static const int cases[][3] = {
		{ 12, 0, 0 },  { 1, 0, 1 },  { 11, 0, 11 },
		{ 12, 1, 12 }, { 1, 1, 13 }, { 11, 1, 23 },
	};
	struct rtc_date d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rtc_regs r = bcd_24h();
		r.status_b = 0;
		r.hour = BCD(cases[i][0]) | (cases[i][1] ? 0x80 : 0);
		assert_true(rtc_decode(&r, &d));
		assert_int_equal(d.hour, cases[i][2]);
		r = (struct rtc_regs){ .sec = 7,
				       .min = 45,
				       .mday = 6,
				       .mon = 12,
				       .year = 26,
				       .century = 20,
				       .status_b = RTC_B_BINARY };
		r.hour = (uint8_t)cases[i][0] | (cases[i][1] ? 0x80 : 0);
		assert_true(rtc_decode(&r, &d));
		assert_int_equal(d.hour, cases[i][2]);
	}
}

static void missing_century_register_uses_a_window(void **state)
{
	struct rtc_regs r = bcd_24h();
	struct rtc_date d;

	r.century = 0xff; /* no century register: reads all ones */
	assert_true(rtc_decode(&r, &d));
	assert_int_equal(d.year, 2026);
	r.year = 0x70;
	assert_true(rtc_decode(&r, &d));
	assert_int_equal(d.year, 1970);
	r.century = 0x00;
	r.year = 0x69;
	assert_true(rtc_decode(&r, &d));
	assert_int_equal(d.year, 2069);
}

static void impossible_values_are_refused(void **state)
{
	struct rtc_date d;
	struct rtc_regs r;

	r = bcd_24h(), r.sec = 0x0a; /* not a BCD digit */
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.sec = 0x60;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.min = 0x9a;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.hour = 0x24;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.mon = 0x13;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.mon = 0x00;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.mday = 0x00;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.mon = 0x02, r.mday = 0x30; /* 30 February */
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.mon = 0x04, r.mday = 0x31;
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.status_b = 0, r.hour = 0x00; /* 12-hour mode has no hour 0 */
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.status_b = 0, r.hour = 0x93; /* 13 PM */
	assert_false(rtc_decode(&r, &d));
	r = bcd_24h(), r.status_b = RTC_B_24H | RTC_B_BINARY, r.year = 100;
	assert_false(rtc_decode(&r, &d));
	r = (struct rtc_regs){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }; /* no RTC */
	assert_false(rtc_decode(&r, &d));
}

static void leap_days_are_counted(void **state)
{
	/* {year, month, day}: around 29 February, in a leap year, a century that is not one, and
	 * 2000. */
	static const int dates[][3] = {
		{ 2024, 2, 29 }, { 2024, 3, 1 }, { 2000, 2, 29 }, { 2000, 12, 31 },
		{ 2100, 3, 1 },	 { 1970, 1, 1 }, { 2038, 1, 19 }, { 2099, 12, 31 },
	};
	struct rtc_regs r;
	struct rtc_date d;

	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		int y = dates[i][0];
		r = (struct rtc_regs){ .sec = 1,
				       .min = 2,
				       .hour = 3,
				       .mday = (uint8_t)dates[i][2],
				       .mon = (uint8_t)dates[i][1],
				       .year = (uint8_t)(y % 100),
				       .century = (uint8_t)(y / 100),
				       .status_b = RTC_B_24H | RTC_B_BINARY };
		assert_true(rtc_decode(&r, &d));
		assert_int_equal(d.year, y);
		assert_int_equal(rtc_date_to_unix(&d),
				 host_unix(y, dates[i][1], dates[i][2], 3, 2, 1));
	}
	r = (struct rtc_regs){
		.mday = 29, .mon = 2, .year = 0, .century = 21, .status_b = RTC_B_24H | RTC_B_BINARY
	};
	assert_false(rtc_decode(&r, &d)); /* 2100 is not a leap year */
	r.century = 20;
	assert_true(rtc_decode(&r, &d)); /* 2000 is */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bcd_24_hour_is_decoded),
		cmocka_unit_test(binary_24_hour_is_decoded),
		cmocka_unit_test(twelve_hour_mode_maps_am_pm_and_twelve),
		cmocka_unit_test(missing_century_register_uses_a_window),
		cmocka_unit_test(impossible_values_are_refused),
		cmocka_unit_test(leap_days_are_counted),
	};
	return cmocka_run_group_tests_name("rtc", tests, NULL, NULL);
}
