// SPDX-License-Identifier: MIT
/*
 * Futexes (include/dyad/futex.h). Waiters are on one list under futex_lock: a waiter reads the
 * word and links itself under the lock, and a waker unlinks under it, so a wake between the
 * read and the sleep is never lost (sched_prepare_block() comes before the read). The lock is
 * taken with interrupts on (reading the word may fault); nothing takes it in an interrupt.
 */
#include <arch/x86/memlayout.h>
#include <dyad/errno.h>
#include <dyad/futex.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/spinlock.h>
#include <dyad/time.h>
#include <dyad/uaccess.h>

struct futex_waiter {
	struct proc *p;
	u64 uaddr;
	struct thread *t;
	bool woken; /* futex_lock */
	struct futex_waiter *next;
};

static struct spinlock futex_lock = SPINLOCK_INIT;
static struct futex_waiter *waiters;

static void unlink_waiter(struct futex_waiter *w)
{
	for (struct futex_waiter **pp = &waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

long futex_wait(struct proc *p, u64 uaddr, u32 val, u64 deadline_ns)
{
	struct futex_waiter w = { .p = p, .uaddr = uaddr, .t = thread_current() };
	u32 cur;

	if (uaddr & 3)
		return -EINVAL;
	sched_prepare_block();
	spin_lock(&futex_lock);
	if (copy_from_user(&cur, uaddr, sizeof(cur))) {
		spin_unlock(&futex_lock);
		return -EFAULT;
	}
	if (cur != val) {
		spin_unlock(&futex_lock);
		return -EAGAIN;
	}
	w.next = waiters;
	waiters = &w;
	spin_unlock(&futex_lock);

	bool in_time = true;
	for (;;) {
		in_time = sched_block(deadline_ns);
		spin_lock(&futex_lock);
		if (w.woken) {
			spin_unlock(&futex_lock);
			return 0;
		}
		if (!in_time || __atomic_load_n(&p->killed, __ATOMIC_ACQUIRE)) {
			unlink_waiter(&w);
			spin_unlock(&futex_lock);
			return in_time ? -EINTR : -ETIMEDOUT;
		}
		spin_unlock(&futex_lock);
		sched_prepare_block(); /* a stray wake: sleep again (a real one sets w.woken first) */
		spin_lock(&futex_lock);
		bool woken = w.woken;
		spin_unlock(&futex_lock);
		if (woken)
			return 0;
	}
}

long futex_wake(struct proc *p, u64 uaddr, u32 n)
{
	long woken = 0;

	if (uaddr & 3)
		return -EINVAL;
	/* The word is not read, but it must be a user address, as on Linux (access_ok). */
	if (uaddr >= USER_TOP - sizeof(u32))
		return -EFAULT;
	spin_lock(&futex_lock);
	for (struct futex_waiter **pp = &waiters; *pp;) {
		struct futex_waiter *w = *pp;
		if (w->p != p || w->uaddr != uaddr) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->woken = true;
		sched_wake(w->t); /* under futex_lock: the waiter cannot return and go yet */
		if (++woken >= (long)n)
			break;
	}
	spin_unlock(&futex_lock);
	return woken;
}
