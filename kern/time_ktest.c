// SPDX-License-Identifier: MIT
/*
 * The periodic timer against the TSC: the tick count matches the time since the timer started.
 * Uptime (time_ns) counts from CPU reset instead, so it runs ahead of the ticks by the time the
 * firmware and the boot loader took; this test pins the interval the ticks really cover.
 */
#include <arch/x86/asm.h>
#include <dyad/ktest.h>
#include <dyad/time.h>

#define TICK_NS (1000000000ULL / TIMER_HZ)

KTEST(time_timer_ticks_match_time_since_the_timer_started)
{
	KT_ASSERT(kt, read_rflags() & BIT(9), "the self-tests run with interrupts on (IF)");
	time_udelay(200000);

	u64 ticks = timer_ticks;
	u64 expected = time_since_timer_ns() / TICK_NS;

	/*
	 * QEMU's TCG clock is host time: on a loaded host it runs the timer late and coalesces
	 * ticks (12% lost was seen), never invents them. So: none extra beyond the tick in
	 * flight, and at least half, which still fails a timer calibrated wrong by 2x or counted
	 * from CPU reset (29 ticks against 182 in QEMU, where boot before the timer took 1.5 s).
	 */
	KT_EXPECT(kt, ticks <= expected + 1 && 2 * ticks + 2 >= expected,
		  "%lu ticks, %lu expected from the TSC since the timer started", ticks, expected);
	KT_EXPECT(kt, time_ns() >= time_since_timer_ns(),
		  "uptime since CPU reset is shorter than the time since the timer started");
}
