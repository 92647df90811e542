// SPDX-License-Identifier: MIT
#include <arch/x86/asm.h>
#include <arch/x86/gdt.h>
#include <arch/x86/percpu.h>
#include <arch/x86/user.h>

void syscall_entry(void);

/*
 * Flags SYSCALL clears on kernel entry, as Linux does: every flag ring 3 can set, so that no
 * user value reaches kernel code. NT in particular would make user_enter's IRETQ (a task
 * return while NT is set) raise #GP in ring 0; AC would switch SMAP off; DF would reverse the
 * kernel's string instructions. The user's own flags come back from R11 at SYSRET.
 */
#define SYSCALL_MASKED_FLAGS                                                                       \
	(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_TF | RFLAGS_IF |       \
	 RFLAGS_DF | RFLAGS_OF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_RF | RFLAGS_AC | RFLAGS_ID)

void user_init(void)
{
	/* SYSCALL loads CS from STAR[47:32] (SS = +8); SYSRET loads CS from STAR[63:48] + 16 and
	 * SS from + 8, which is why user data precedes user code in the GDT. */
	wrmsr(MSR_STAR, ((u64)(GDT_KERNEL_DS | 3) << 48) | ((u64)GDT_KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_SFMASK, SYSCALL_MASKED_FLAGS);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}

void user_set_kernel_stack(u64 top)
{
	this_cpu()->kernel_rsp = top;
	tss_set_kernel_stack(top);
}

void user_set_fs_base(u64 base)
{
	wrmsr(MSR_FS_BASE, base);
}
