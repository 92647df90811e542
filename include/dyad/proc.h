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
	u32 flags; /* O_NONBLOCK */
	struct blk_dev *blk; /* FD_BLK: the device this file holds */
	u32 access; /* FD_BLK: O_RDONLY, O_WRONLY or O_RDWR */
};

struct proc {
	int pid;
	char name[PROC_NAME_MAX];
	struct proc *parent;
	struct pmap pmap;
	struct mm_region regions[PROC_MAX_REGIONS]; /* sorted by start, disjoint */
	unsigned nr_regions;
	struct fd fds[PROC_MAX_FDS];
	u64 brk_start, brk; /* heap: [brk_start, brk) */
	u64 fs_base;
	u64 tid_address;
	u64 page_faults;
	paddr_t kstack; /* order PROC_KSTACK_ORDER */
	struct kjmp exit_ctx; /* where proc_run() resumes when the process ends */
	void *fpu; /* x87/SSE/AVX registers while a child runs: a zeroed fpu_area_size() area */
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
