/* SPDX-License-Identifier: MIT */
#ifndef DYAD_FUTEX_H
#define DYAD_FUTEX_H

#include <dyad/types.h>

/*
 * Futexes (kern/futex.c): a thread sleeps on a 32-bit word of its process's memory until another
 * wakes that word. A futex is named by (process, user address): processes share no memory, so
 * the private and shared forms name the same futexes.
 */
struct proc;

/*
 * If the word at @uaddr still holds @val, sleeps until futex_wake() on it, @deadline_ns
 * (time_ns(); 0: none) or the process's death. Returns 0 when woken, -EAGAIN if the word
 * differed, -ETIMEDOUT, -EINTR (the process is being killed), -EFAULT or -EINVAL (misaligned).
 */
long futex_wait(struct proc *p, u64 uaddr, u32 val, u64 deadline_ns);

/* Wakes at most @n (at least 1) threads of @p sleeping on @uaddr; returns how many. */
long futex_wake(struct proc *p, u64 uaddr, u32 n);

#endif
