// SPDX-License-Identifier: MIT
/*
 * Processes: build an address space from an ELF module, run it in ring 3 until it exits, give
 * every page back. See include/dyad/proc.h for the synchronous model.
 */
#include <linux/mman.h>

#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <arch/x86/user.h>
#include <dyad/blk.h>
#include <dyad/elf.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>
#include <dyad/ustack.h>
#include <dyad/vcpu.h>
#include <dyad/mm.h>
#include <uapi/dyad/abi.h>

#define PROC_ORDER 2 /* struct proc lives in a 16 KiB block (its region table is 12 KiB) */
#define PROC_MAX_DEPTH 16 /* nested spawns: each holds a kernel stack */

_Static_assert(sizeof(struct proc) <= (PAGE_SIZE << PROC_ORDER), "struct proc too large");
/* The largest argv, its pointers, and 2 KiB left for the path, envp and auxv. */
_Static_assert(ARGV_STRINGS_MAX + (ARGV_MAX + 1) * 8 + 2048 <= USTACK_IMAGE_SIZE,
	       "initial stack image too small for the argument limits");

struct proc *proc_current;
static int next_pid = 1;
static unsigned depth;

static u64 kstack_top(const struct proc *p)
{
	return (u64)pmem_va(p->kstack) + (PAGE_SIZE << PROC_KSTACK_ORDER);
}

/* Maps the program's segments as file-backed regions; the heap starts after the last one. */
static int load_segments(struct proc *p, const struct boot_module *m, const struct elf_image *img)
{
	u64 end = 0;

	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];
		u64 start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
		struct mm_region r = {
			.start = start,
			.end = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE),
			.prot = s->prot,
			.flags = MM_FILE,
			.file = m,
			.file_off = s->offset - (s->vaddr - start),
			.file_len = s->filesz + (s->vaddr - start),
		};
		int err = mm_region_add(p, &r);
		if (err) {
			printf("proc: cannot run %s: segment [%#lx, %#lx): error %d\n", m->name,
			       r.start, r.end, -err);
			return err;
		}
		end = MAX(end, r.end);
	}
	p->brk_start = p->brk = end;
	return 0;
}

/*
 * Creates the stack region and writes the initial stack (argv, envp, auxv) into its top pages,
 * faulting them in the ordinary way. Returns the user rsp or -errno.
 */
static long setup_stack(struct proc *p, const struct elf_image *img, const char *path,
			const char *const argv[], const char *const envp[])
{
	const u64 image_size = PAGE_SIZE << USTACK_IMAGE_ORDER;
	struct mm_region r = { .start = MM_STACK_TOP - MM_STACK_SIZE, .end = MM_STACK_TOP,
			       .prot = PROT_READ | PROT_WRITE, .flags = MM_STACK };
	struct ustack_aux aux = { .phdr = img->phdr_vaddr, .phent = img->phentsize,
				  .phnum = img->phnum, .entry = img->entry, .execfn = path };
	long rsp = mm_region_add(p, &r);

	if (rsp)
		return rsp;
	u64 seed = rdtsc() * 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < USTACK_RANDOM_BYTES; i++)
		aux.random[i] = (u8)(seed >> ((i % 8) * 8)) ^ (u8)(i * 37);

	paddr_t buf = pmem_alloc_zeroed(USTACK_IMAGE_ORDER); /* nothing stale can reach the stack */
	if (!buf)
		return -ENOMEM;
	rsp = ustack_build(pmem_va(buf), image_size, MM_STACK_TOP, argv, envp, &aux);
	for (u64 va = ALIGN_DOWN((u64)rsp, PAGE_SIZE); rsp > 0 && va < MM_STACK_TOP; va += PAGE_SIZE) {
		struct pmap_leaf leaf;
		if (!mm_fault(p, va, PF_U | PF_W) || pmap_lookup(&p->pmap, va, &leaf)) {
			rsp = -ENOMEM;
			break;
		}
		u64 from = MAX(va, (u64)rsp), off = from - (MM_STACK_TOP - image_size);
		memcpy((u8 *)pmem_va(leaf.pa) + (from - leaf.va), (u8 *)pmem_va(buf) + off,
		       va + PAGE_SIZE - from);
	}
	pmem_free(buf, USTACK_IMAGE_ORDER);
	return rsp;
}

static const char *basename_of(const char *path)
{
	const char *base = path;

	for (const char *c = path; *c; c++)
		if (*c == '/')
			base = c + 1;
	return base;
}

static void proc_free(struct proc *p)
{
	/* VMs first: their teardown needs the address space their guest ran in. */
	for (int fd = 0; fd < PROC_MAX_FDS; fd++)
		if (p->fds[fd].kind == FD_VM || p->fds[fd].kind == FD_VCPU)
			vcpu_fd_release(&p->fds[fd]);
		else if (p->fds[fd].kind == FD_BLK)
			blk_fd_release(&p->fds[fd]); /* a dead holder frees its disk */
	mm_teardown(p);
	if (p->kstack)
		pmem_free(p->kstack, PROC_KSTACK_ORDER);
	if (p->fpu)
		pmem_free(pmem_pa(p->fpu), 0);
	pmem_free(pmem_pa(p), PROC_ORDER);
}

/* Enters @p and returns its exit status when it ends (proc_exit resumes here). */
static int proc_run(struct proc *p, u64 entry, u64 rsp)
{
	struct proc *parent = proc_current;

	p->parent = parent;
	if (parent)
		fpu_save(parent->fpu); /* the spawn call must not clobber the parent's registers */
	fpu_load_clean(); /* nothing of the parent's (or an earlier process's) registers remains */
	proc_current = p;
	depth++;
	pmap_activate(&p->pmap);
	user_set_kernel_stack(kstack_top(p));
	user_set_fs_base(0);
	if (kjmp_save(&p->exit_ctx) == 0)
		user_enter(entry, rsp);

	/* Back on the parent's stack: the child's kernel stack is no longer in use. */
	depth--;
	proc_current = parent;
	pmap_activate(parent ? &parent->pmap : NULL);
	if (parent) {
		user_set_kernel_stack(kstack_top(parent));
		user_set_fs_base(parent->fs_base);
		fpu_restore(parent->fpu);
	}
	return p->exit_status;
}

long proc_spawn(const char *path, const char *const argv[], const char *const envp[])
{
	const struct boot_module *m = bootinfo_module(kernel_boot_info(), path);
	struct elf_image img;
	long err;

	if (!m)
		return -ENOENT;
	if (depth >= PROC_MAX_DEPTH)
		return -EAGAIN;
	err = elf_parse(pmem_va(m->start), m->end - m->start, &img);
	if (err) {
		printf("proc: cannot run %s: %s\n", path, img.why);
		return err;
	}
	paddr_t pa = pmem_alloc_zeroed(PROC_ORDER);
	if (!pa)
		return -ENOMEM;
	struct proc *p = pmem_va(pa);
	p->kstack = pmem_alloc(PROC_KSTACK_ORDER);
	/* fpu_area_size() <= PAGE_SIZE; XRSTOR wants the zero header a fresh area has. */
	paddr_t fpu = pmem_alloc_zeroed(0);
	p->fpu = fpu ? pmem_va(fpu) : NULL;
	if (!p->kstack || !p->fpu || pmap_create(&p->pmap)) {
		if (p->kstack)
			pmem_free(p->kstack, PROC_KSTACK_ORDER);
		if (fpu)
			pmem_free(fpu, 0);
		pmem_free(pa, PROC_ORDER);
		return -ENOMEM;
	}
	p->pid = next_pid++;
	const char *base = basename_of(path);
	memcpy(p->name, base, MIN(strlen(base), sizeof(p->name) - 1));
	for (int fd = 0; fd < 3; fd++)
		p->fds[fd].kind = FD_CONSOLE;

	err = load_segments(p, m, &img);
	long rsp = err ? err : setup_stack(p, &img, path, argv, envp);
	if (rsp < 0 && !err)
		printf("proc: cannot run %s: cannot build its stack and arguments (error %ld)\n",
		       path, -rsp);
	if (rsp < 0) {
		proc_free(p);
		return rsp;
	}
	int status = proc_run(p, img.entry, (u64)rsp);
	proc_free(p);
	return status;
}

void proc_exit(int status)
{
	struct proc *p = proc_current;

	BUG_ON(!p);
	p->exit_status = status & 0xff;
	kjmp_restore(&p->exit_ctx);
}

/*
 * Demand paging: a fault of user code, or of the kernel inside a uaccess helper. A kernel fault
 * on a user address anywhere else is left to trap_dispatch, which panics (or to an armed
 * trap_catch, in self-tests).
 */
static bool proc_page_fault(struct trap_frame *tf)
{
	u64 addr = read_cr2();

	if (!proc_current || addr >= USER_TOP)
		return false;
	if (!(tf->cs & 3) && !uaccess_active())
		return false;
	return mm_fault(proc_current, addr, tf->error);
}

/* An exception in ring 3 that nothing could serve: the process dies, the kernel goes on. */
static bool proc_user_fault(struct trap_frame *tf)
{
	struct proc *p = proc_current;

	BUG_ON(!p);
	printf("proc: %s (pid %d) killed: %s at rip %#lx", p->name, p->pid,
	       trap_exception_name(tf->vector), tf->rip);
	if (tf->vector == T_PF)
		printf(", address %#lx, error %#lx", read_cr2(), tf->error);
	printf("\n");
	proc_exit(DYAD_KILLED_STATUS);
}

void proc_init(void)
{
	user_init();
	trap_set_fault_handlers(proc_page_fault, proc_user_fault);
}
