/* SPDX-License-Identifier: MIT */
#ifndef DYAD_SPINLOCK_H
#define DYAD_SPINLOCK_H

#include <dyad/types.h>

/*
 * A test-and-set spinlock. Builds on the host unchanged. A lock that an interrupt handler also
 * takes is taken with interrupts off (spin_lock_irqsave), or the handler could spin forever on
 * its own CPU's lock.
 */
struct spinlock {
	volatile u32 locked;
};

#define SPINLOCK_INIT { 0 }

static inline void spin_init(struct spinlock *l)
{
	l->locked = 0;
}

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static inline bool spin_is_locked(const struct spinlock *l)
{
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}

#ifndef HOST_BUILD
#include <arch/x86/asm.h>
#endif

/*
 * spin_lock() with interrupts off; returns the old RFLAGS for spin_unlock_irqrestore(). The host
 * tests run in user space, with no interrupt flag to touch.
 */
static inline u64 spin_lock_irqsave(struct spinlock *l)
{
#ifdef HOST_BUILD
	u64 flags = 0;
#else
	u64 flags = irq_save();
#endif
	spin_lock(l);
	return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, u64 flags)
{
	spin_unlock(l);
#ifndef HOST_BUILD
	irq_restore(flags);
#else
	(void)flags;
#endif
}

#endif
