/* SPDX-License-Identifier: MIT */
#ifndef VMM_RTC_H
#define VMM_RTC_H

#include <stdint.h>

#include "bus.h"
#include <time.h>

/* The MC146818 CMOS clock and its 128 bytes of RAM. */
struct rtc {
	uint8_t index;
	uint8_t ram[128];
	time_t (*now)(void); /* seconds since the epoch, UTC */
};

/* A clock that reads @now (NULL: time()). */
void rtc_init(struct rtc *r, time_t (*now)(void));
/* Registers ports 0x70-0x71. */
int rtc_register(struct rtc *r, struct bus *b);

#endif
