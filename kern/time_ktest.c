// SPDX-License-Identifier: MIT
/*
 * The periodic timer against the TSC. Uptime (time_ns) counts from CPU reset and the ticks from
 * the timer's start, so the two differ by the time firmware and the boot loader took; and a tick
 * that falls due while interrupts are off for longer than a period is merged with the next (the
 * LAPIC latches one), so over a whole boot the ticks can only fall behind the TSC.
 */
#include <arch/x86/asm.h>
#include <dyad/ktest.h>
#include <dyad/time.h>

#define TICK_NS (1000000000ULL / TIMER_HZ)

KTEST(time_timer_ticks_match_the_tsc_while_interrupts_are_on)
{
	KT_ASSERT(kt, read_rflags() & BIT(9), "the self-tests run with interrupts on (IF)");
	u64 t0 = time_since_timer_ns(), k0 = timer_ticks;
	time_udelay(300000);
	u64 ticks = timer_ticks - k0, expected = (time_since_timer_ns() - t0) / TICK_NS;

	/*
	 * QEMU's TCG clock is host time: on a loaded host it runs the timer late and merges ticks
	 * (39% lost was seen on two shared cores), never invents them. So: no tick beyond the one
	 * in flight, and at least a quarter, which fails a timer that is not running or is
	 * calibrated wrong by 4x. Bochs's clock is its instruction count: the tool tests
	 * (tests/tools/test_boot.sh) pin the count to the tick there.
	 */
	KT_EXPECT(kt, ticks <= expected + 1 && 4 * ticks + 4 >= expected,
		  "%lu ticks in 300 ms with interrupts on, %lu expected from the TSC", ticks,
		  expected);
	KT_EXPECT(kt, timer_ticks <= time_since_timer_ns() / TICK_NS + 1,
		  "%lu ticks since the timer started: more than the TSC allows", timer_ticks);
	KT_EXPECT(kt, time_ns() >= time_since_timer_ns(),
		  "uptime since CPU reset is shorter than the time since the timer started");
}
