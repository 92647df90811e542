/* SPDX-License-Identifier: MIT */
#ifndef DYAD_SPINLOCK_H
#define DYAD_SPINLOCK_H

#include <dyad/types.h>

/*
 * A test-and-set spinlock. Dyad runs on one CPU today, but every structure that the VMX path
 * will touch from another context (address spaces above all) is already guarded by one, so the
 * locking rules are written down before they are needed. Builds on the host unchanged.
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

#endif
