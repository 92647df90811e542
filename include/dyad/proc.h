/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PROC_H
#define DYAD_PROC_H

#include <arch/x86/kjmp.h>
#include <arch/x86/pmap.h>
#include <dyad/bootinfo.h>
#include <dyad/types.h>

/*
 * A process: one address space (a page-table pair tree, so its user addresses are also its
 * guest's physical addresses), a list of memory regions served by demand paging, open files,
 * and a kernel stack.
 *
 * Processes run synchronously: proc_spawn() enters the new process and returns when it exits,
 * like vfork + exec + wait. The first process is spawned by the kernel, later ones by the
 * dyad_spawn system call. There is one CPU and no preemption, so exactly one process (the
 * innermost spawned) is runnable at a time: proc_current.
 */
#define PROC_MAX_REGIONS 64
#define PROC_MAX_FDS 32
#define PROC_NAME_MAX 32
#define PROC_KSTACK_ORDER 2 /* 16 KiB */

/* Region flags. */
#define VM_GUEST 0x1 /* mapped in the EPT too (DYAD_MAP_GUEST) */
#define VM_HUGE 0x2 /* backed by 2 MiB / 1 GiB blocks (DYAD_MAP_HUGE) */
#define VM_FILE 0x4 /* initial contents come from a module (an ELF segment, a file mmap) */
#define VM_HEAP 0x8 /* the brk region */
#define VM_STACK 0x10
#define VM_FRAME 0x20 /* one kernel-owned frame (a vCPU run page): never allocated or freed here */

/*
 * [start, end) mapped with @prot (PROT_*). A file-backed region shows file bytes
 * [file_off, file_off + file_len) at [start, start + file_len); the rest reads as zero.
 * Frames are private to the process: file pages are copied in at fault time.
 */
struct vm_region {
	u64 start, end;
	u32 prot;
	u32 flags;
	const struct boot_module *file;
	u64 file_off, file_len;
};

enum fd_kind { FD_NONE, FD_CONSOLE, FD_MODULE, FD_VM, FD_VCPU };

struct vm;

struct fd {
	enum fd_kind kind;
	const struct boot_module *mod;
	u64 pos;
	struct vm *vm; /* FD_VM, FD_VCPU: holds one of vm->refs */
	u32 flags; /* O_NONBLOCK */
};

struct proc {
	int pid;
	char name[PROC_NAME_MAX];
	struct proc *parent;
	struct pmap pmap;
	struct vm_region regions[PROC_MAX_REGIONS]; /* sorted by start, disjoint */
	unsigned nr_regions;
	struct fd fds[PROC_MAX_FDS];
	u64 brk_start, brk; /* heap: [brk_start, brk) */
	u64 fs_base;
	u64 tid_address;
	u64 page_faults;
	paddr_t kstack; /* order PROC_KSTACK_ORDER */
	struct kjmp exit_ctx; /* where proc_run() resumes when the process ends */
	u8 fpu[512] __aligned(16); /* x87/SSE registers while a child runs */
	int exit_status;
};

extern struct proc *proc_current;

/* Sets up system-call entry and the fault handlers. */
void proc_init(void);

/*
 * Runs the program in the module named @path with @argv and @envp (NULL-terminated, kernel
 * memory) until it exits. Returns its exit status (0..255; DYAD_KILLED_STATUS if the kernel
 * killed it) or a negative errno if it could not start (-ENOENT, -ENOEXEC, -ENOMEM, -E2BIG).
 * All of its memory is returned before this returns.
 */
long proc_spawn(const char *path, const char *const argv[], const char *const envp[]);

/* Ends the current process with @status. */
__attribute__((noreturn)) void proc_exit(int status);

#endif
