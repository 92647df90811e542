// SPDX-License-Identifier: MIT
#include <arch/x86/asm.h>
#include <arch/x86/gdt.h>
#include <arch/x86/user.h>

extern u64 syscall_kernel_rsp;
void syscall_entry(void);

#define RFLAGS_TF BIT(8)
#define RFLAGS_IF BIT(9)
#define RFLAGS_DF BIT(10)
#define RFLAGS_AC BIT(18)

void user_init(void)
{
	/* SYSCALL loads CS from STAR[47:32] (SS = +8); SYSRET loads CS from STAR[63:48] + 16 and
	 * SS from + 8, which is why user data precedes user code in the GDT. */
	wrmsr(MSR_STAR, ((u64)(GDT_KERNEL_DS | 3) << 48) | ((u64)GDT_KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_SFMASK, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}

void user_set_kernel_stack(u64 top)
{
	syscall_kernel_rsp = top;
	tss_set_kernel_stack(top);
}

void user_set_fs_base(u64 base)
{
	wrmsr(MSR_FS_BASE, base);
}
