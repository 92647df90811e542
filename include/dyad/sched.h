/* SPDX-License-Identifier: MIT */
#ifndef DYAD_SCHED_H
#define DYAD_SCHED_H

#include <arch/x86/percpu.h>
#include <arch/x86/smp.h>
#include <dyad/spinlock.h>
#include <dyad/types.h>

/*
 * Threads and the one scheduler (kern/sched.c).
 *
 * A thread is a kernel stack, a saved kernel rsp, and for user threads a process (whose address
 * space, regions and descriptors its threads share), an FS base and an FPU save area. Every CPU
 * runs one thread at a time (percpu.current) and has an idle thread that runs when nothing else
 * may. One global run queue under sched_lock feeds every CPU (see kern/sched.c for why).
 *
 * Kernel code is not preempted: a thread leaves the CPU only when it blocks, yields, exits, or
 * when it returns to ring 3 (or re-enters a guest) with need_resched set by the timer tick.
 *
 * Blocking: sched_prepare_block(), then make the thread findable by its waker (a wait queue, the
 * futex list), then re-check the condition, then sched_block(). A wake that comes anywhere after
 * sched_prepare_block() is never lost: it makes sched_block() return at once.
 */
#define THREAD_KSTACK_ORDER 2 /* 16 KiB */
#define SCHED_SLICE_TICKS 2 /* a user thread runs at most this many ticks while others wait */

enum thread_state {
	THREAD_NEW, /* built, never run */
	THREAD_RUNNABLE, /* on the run queue */
	THREAD_RUNNING, /* some CPU's percpu.current */
	THREAD_BLOCKED, /* waits for sched_wake() or its deadline */
	THREAD_DEAD, /* switched away from for good: its CPU frees it */
};

struct proc;

struct thread {
	int tid;
	enum thread_state state; /* sched_lock */
	struct proc *proc; /* NULL: a kernel thread */
	u64 rsp; /* saved kernel rsp while not running (arch/x86/switch.asm) */
	paddr_t kstack; /* order THREAD_KSTACK_ORDER; 0 for a CPU's boot stack */
	u64 kstack_top;
	u64 fs_base;
	void *fpu; /* user threads: the FPU registers while another thread has the CPU */
	u64 clear_child_tid; /* CLONE_CHILD_CLEARTID / set_tid_address */
	cpumask_t affinity; /* the CPUs it may run on */
	bool enters_guests; /* sched_lock: has entered a guest; kept off guest-excluded CPUs */
	unsigned cpu; /* the CPU it runs or last ran on */
	bool idle; /* a CPU's idle thread: never queued, never blocks */
	bool wake_pending; /* sched_lock: a wake came after sched_prepare_block() */
	bool timed_out; /* sched_lock: the deadline woke it */
	u64 wake_ns; /* deadline while on the sleep list, 0 if none */
	u64 ticks_run; /* ticks since it last got the CPU */
	u64 switches_in; /* times it got a CPU */
	struct thread *rq_next; /* run queue link */
	struct thread *sleep_next; /* sleep list link */
	struct thread *proc_next; /* the process's thread list (proc->lock) */
	void (*fn)(void *arg); /* a kernel thread's body */
	void *arg;
	/*
	 * Called by the CPU that frees this dead thread's stack and struct, after it has: the last
	 * thread of a process tells the waiting parent only then, so that every frame of the
	 * child is free when wait returns. Runs with interrupts off and no lock held.
	 */
	void (*on_freed)(void *arg);
	void *on_freed_arg;
};

/* A list of blocked threads that an event wakes together. The lock is taken with interrupts off. */
struct waitq_entry {
	struct thread *t;
	struct waitq_entry *next;
};

struct waitq {
	struct spinlock lock;
	struct waitq_entry *head;
};

#define WAITQ_INIT { SPINLOCK_INIT, NULL }

/* The thread running on this CPU; NULL before sched_init(). */
static inline struct thread *thread_current(void)
{
	return this_cpu()->current;
}

/* Boot CPU: makes the running boot code the thread "kmain" and starts CPU 0's idle thread. */
void sched_init(void);

/* An AP, on its boot stack with interrupts off: becomes this CPU's idle thread. Never returns. */
__noreturn void sched_ap_enter(void);

/*
 * A kernel thread running @fn(@arg), allowed on the CPUs in @affinity (NULL: all); not started
 * until sched_start(). NULL without memory. A kernel thread ends with sched_thread_exit().
 */
struct thread *kthread_create(void (*fn)(void *arg), void *arg, const cpumask_t *affinity);

/*
 * A user thread of @p that enters ring 3 from the frame @tf (copied to the top of its kernel
 * stack). Its FPU area is a copy of @fpu_from, or the reset state if NULL. Not started.
 */
struct trap_frame;
struct thread *uthread_create(struct proc *p, const struct trap_frame *tf, const void *fpu_from);

/* Frees a thread that never ran. */
void thread_free_unstarted(struct thread *t);

/* Makes a new thread runnable. */
void sched_start(struct thread *t);

/* Gives the CPU to another runnable thread, if any; the current one stays runnable. */
void sched_yield(void);

/* Marks the current thread as about to block (clears an old wake). */
void sched_prepare_block(void);

/*
 * Blocks the current thread until sched_wake() or until time_ns() reaches @deadline_ns (0: no
 * deadline). Returns at once if a wake came after sched_prepare_block() or the process is being
 * killed. Returns false if the deadline ended the wait.
 */
bool sched_block(u64 deadline_ns);

/* Wakes @t if it is blocked; otherwise its next sched_block() returns at once. */
void sched_wake(struct thread *t);

/* Makes @t notice its process's death soon: wakes it, or interrupts the CPU that runs it. */
void sched_kick(struct thread *t);

/* Sleeps until time_ns() >= @deadline_ns; false if the process was killed first. */
bool sched_sleep_until(u64 deadline_ns);

/* Ends the current thread (already unlinked from any process). Never returns. */
__noreturn void sched_thread_exit(void);

/* Restricts @t to @mask (not empty, online CPUs only); migrates it if it runs elsewhere. */
void sched_set_affinity(struct thread *t, const cpumask_t *mask);

/*
 * Guest-excluded CPUs: a thread that has entered a guest (a VMM's vCPU thread) is not run there
 * from then on, unless its affinity leaves it no other online CPU. For an emulator whose CPU
 * @cpu cannot be in guest mode safely while other CPUs run (docs/smp.md, "QEMU's boot CPU").
 */
void sched_exclude_guests(unsigned cpu);

/*
 * Called by a thread about to enter a guest, with no guest state loaded in the CPU: marks it
 * as one that enters guests and, if this CPU is guest-excluded, moves it to a CPU that is not
 * (waiting for one if need be). Returns with the thread on a CPU where it may enter.
 */
void sched_guest_entry_cpu(void);

/* The timer tick's part (interrupts off): deadlines and time slices. */
void sched_tick(void);

/* Return to ring 3 (and guest re-entry): a killed process's thread exits, a preempted one yields. */
void sched_user_return(void);

/* True when this CPU should reschedule (the tick or a wake asked for it). */
bool sched_need_resched(void);

/* Wait queues. waitq_add/del bracket a sched_block(); wake_all wakes every waiter. */
void waitq_add(struct waitq *wq, struct waitq_entry *e);
void waitq_del(struct waitq *wq, struct waitq_entry *e);
void waitq_wake_all(struct waitq *wq);

/* A new thread or process id (one counter: a process's pid is its first thread's tid). */
int sched_alloc_id(void);

/* The reset-state FPU area new processes start from. */
const void *sched_clean_fpu(void);

/* Counters for tests. */
u64 sched_threads_alive(void);

#endif
