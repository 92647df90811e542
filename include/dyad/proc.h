/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PROC_H
#define DYAD_PROC_H

#include <arch/x86/pmap.h>
#include <dyad/bootinfo.h>
#include <dyad/sched.h>
#include <dyad/spinlock.h>
#include <dyad/types.h>

/*
 * A process: one address space (a page-table pair tree, so its user addresses are also its
 * guest's physical addresses), a list of memory regions served by demand paging, open files,
 * and one or more threads (include/dyad/sched.h) that share all of it.
 *
 * Processes run concurrently on every CPU. dyad_spawn starts a child and, in its synchronous
 * form, waits for it (like vfork + exec + wait); with DYAD_SPAWN_NOWAIT it returns the child's
 * pid, and wait4 collects the status later. A process ends when its last thread exits, or all
 * at once on exit_group or a fault (every thread is made to exit); its last thread gives every
 * frame back, and the struct stays as a zombie until its parent waits (or at once if nobody can).
 */
/*
 * Regions per process. Adjacent regions with equal attributes are merged, so this bounds the
 * distinct mappings (a VMM, its libc and its guest memory need a few dozen); a change that
 * would need more is refused with -ENOMEM and changes nothing.
 */
#define PROC_MAX_REGIONS 256
#define PROC_MAX_FDS 32
#define PROC_NAME_MAX 32
#define PROC_KSTACK_ORDER 2 /* 16 KiB */

/* Region flags. */
#define MM_GUEST 0x1 /* mapped in the EPT too (DYAD_MAP_GUEST) */
#define MM_HUGE 0x2 /* backed by 2 MiB / 1 GiB blocks (DYAD_MAP_HUGE) */
#define MM_FILE 0x4 /* initial contents come from a module (an ELF segment, a file mmap) */
#define MM_HEAP 0x8 /* the brk region */
#define MM_STACK 0x10
#define MM_SHARED_RO 0x20 /* MAP_SHARED of a read-only file: may never become writable */
#define MM_HUGE_MAX_2M 0x40 /* with MM_HUGE: blocks of at most 2 MiB (MAP_HUGETLB | MAP_HUGE_2MB) */
#define MM_FRAME 0x80 /* one kernel-owned frame (a vCPU run page): never allocated or freed here */

/*
 * [start, end) mapped with @prot (PROT_*). A file-backed region shows file bytes
 * [file_off, file_off + file_len) at [start, start + file_len); the rest reads as zero.
 * Frames are private to the process: file pages are copied in at fault time.
 */
struct mm_region {
	u64 start, end;
	u32 prot;
	u32 flags;
	const struct boot_module *file;
	u64 file_off, file_len;
};

enum fd_kind { FD_NONE, FD_CONSOLE, FD_MODULE, FD_VM, FD_VCPU, FD_BLK };

struct vm;
struct blk_dev;

struct fd {
	enum fd_kind kind;
	const struct boot_module *mod;
	u64 pos;
	struct vm *vm; /* FD_VM, FD_VCPU: holds one of vm->refs */
	struct vcpu *vcpu; /* FD_VCPU: the vCPU it names */
	u32 flags; /* O_NONBLOCK */
	struct blk_dev *blk; /* FD_BLK: the device this file holds */
	u32 access; /* FD_BLK: O_RDONLY, O_WRONLY or O_RDWR */
};

struct proc {
	int pid;
	char name[PROC_NAME_MAX];
	struct proc *parent; /* proc_table_lock; NULL: started by the kernel, or orphaned */
	struct pmap pmap;
	struct mm_region regions[PROC_MAX_REGIONS]; /* sorted by start, disjoint; pmap.mm_lock */
	unsigned nr_regions;
	struct fd fds[PROC_MAX_FDS];
	u64 brk_start, brk; /* heap: [brk_start, brk) */
	u64 page_faults;
	/*
	 * Set once, by the first mprotect(PROT_NONE) over present pages: only then can the
	 * kernel's copies meet a kept, inaccessible leaf (see mm_user_none()).
	 */
	bool mm_kept_none;
	struct spinlock lock; /* threads, nr_threads, killed, exit_status */
	struct thread *threads;
	unsigned nr_threads;
	bool killed; /* set once (exit_group, a fault): every thread exits at its next chance */
	int exit_status;
	bool crashed; /* killed by the kernel for a fault (exit_status DYAD_KILLED_STATUS) */
	bool zombie; /* proc_table_lock: every thread is gone and every frame freed */
	bool autoreap; /* proc_table_lock: nobody will wait; freed when it ends */
	struct waitq child_wq; /* woken when a child of this process ends */
	struct proc *all_next; /* proc_table_lock */
};

struct thread;
/* The process of the thread running on this CPU; NULL in a kernel thread. */
#define proc_current (thread_current() ? thread_current()->proc : NULL)

/* Sets up system-call entry and the fault handlers. */
void proc_init(void);

/*
 * Runs the program in the module named @path with @argv and @envp (NULL-terminated, kernel
 * memory) until it exits. Returns its exit status (0..255; DYAD_KILLED_STATUS if the kernel
 * killed it) or a negative errno if it could not start (-ENOENT, -ENOEXEC, -ENOMEM, -E2BIG,
 * -EAGAIN: too many processes), or -EINTR if the caller's own process was killed meanwhile
 * (the child then runs on as an orphan). All of its memory is returned before this returns.
 */
long proc_spawn(const char *path, const char *const argv[], const char *const envp[]);

/* Starts the program as a child of the caller's process; returns its pid or -errno. */
long proc_spawn_nowait(const char *path, const char *const argv[], const char *const envp[]);

/*
 * Waits for the caller's child @pid (-1: any) to end and frees it. Returns its pid with
 * *@status its exit status and *@killed whether the kernel killed it; 0 if @nohang and none has
 * ended; -ECHILD if there is no such child; -EINTR if the caller's process is being killed.
 */
long proc_wait(int pid, int *status, bool *killed, bool nohang);

/*
 * Ends the current thread; with @group (exit_group) the whole process, with @status. The last
 * thread out frees the process's memory. Never returns.
 */
__noreturn void proc_thread_exit(int status, bool group);

/* Ends the current process with @status (exit_group). */
__noreturn void proc_exit(int status);

/* Makes every thread of @p exit; the process's status is @status unless it was already ending. */
void proc_kill(struct proc *p, int status);

/*
 * A new thread of the current process (clone with CLONE_THREAD): it returns to ring 3 from a copy
 * of the caller's system-call frame with rax 0, stack @stack and FS base @tls, and clears
 * @clear_tid at exit. Returns its tid or -errno (-EAGAIN: no memory or the process is ending).
 */
long proc_clone_thread(u64 stack, u64 tls, u64 clear_tid);

/* The thread @tid of @p (0: the current one), or NULL. */
struct thread *proc_find_thread(struct proc *p, int tid);

/* Processes that exist (zombies included) and threads of the current process: for tests. */
unsigned proc_count(void);

#endif
