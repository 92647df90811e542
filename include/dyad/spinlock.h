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

/* spin_lock() with interrupts off; returns the old RFLAGS for spin_unlock_irqrestore(). */
static inline u64 spin_lock_irqsave(struct spinlock *l)
{
	u64 flags = irq_save();

	spin_lock(l);
	return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, u64 flags)
{
	spin_unlock(l);
	irq_restore(flags);
}
#endif

#endif
