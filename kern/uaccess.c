// SPDX-License-Identifier: MIT
#include <arch/x86/cpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/percpu.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/mm.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>

struct copy_job {
	void *dst;
	const void *src;
	size_t n; /* for strings: in, the buffer size; out, the length */
	bool terminated; /* strings: a NUL was copied */
};

/*
 * True while a helper below runs its copy on this CPU: only then may a kernel-mode page fault on
 * a user address be served by demand paging (see uaccess_active()).
 */
bool uaccess_active(void)
{
	return this_cpu()->in_uaccess;
}

/* Runs @fn under trap_catch with user access open; true if it faulted. */
static bool run_user_access(void (*fn)(void *arg), void *arg)
{
	struct fault_info fi;
	bool faulted;

	this_cpu()->in_uaccess = true;
	faulted = trap_catch(fn, arg, &fi);
	this_cpu()->in_uaccess = false;
	return faulted;
}

static bool user_range_ok(u64 addr, size_t n)
{
	return addr + n >= addr && addr + n <= USER_TOP;
}

static void copy_bytes(void *arg)
{
	struct copy_job *j = arg;

	user_access_begin();
	memcpy(j->dst, j->src, j->n);
	user_access_end();
}

/* Copies @n bytes between kernel memory and the user range at @user (one of @dst, @src). */
static int copy_user(void *dst, const void *src, size_t n, u64 user)
{
	struct copy_job job = { dst, src, n, false };

	if (!n)
		return 0;
	if (!user_range_ok(user, n) || mm_user_none(proc_current, user, n) ||
	    run_user_access(copy_bytes, &job))
		return -EFAULT;
	return 0;
}

int copy_from_user(void *dst, u64 src, size_t n)
{
	return copy_user(dst, (const void *)src, n, src);
}

int copy_to_user(u64 dst, const void *src, size_t n)
{
	return copy_user((void *)dst, src, n, dst);
}

static void copy_string(void *arg)
{
	struct copy_job *j = arg;
	const char *s = j->src;
	char *d = j->dst;
	size_t i;

	user_access_begin();
	for (i = 0; i < j->n; i++) {
		if ((u64)&s[i] >= USER_TOP)
			break; /* not terminated below USER_TOP: -EFAULT */
		d[i] = s[i];
		if (!s[i]) {
			j->terminated = true;
			break;
		}
	}
	user_access_end();
	j->n = i;
}

long strncpy_from_user(char *dst, u64 src, size_t max)
{
	struct copy_job job = { dst, (const void *)src, max, false };

	if (src >= USER_TOP || run_user_access(copy_string, &job) ||
	    mm_user_none(proc_current, src, MIN(job.n + 1, USER_TOP - src)))
		return -EFAULT; /* checked after: a read leaves nothing behind to undo */
	if (job.terminated)
		return (long)job.n;
	return job.n == max ? -ENAMETOOLONG : -EFAULT;
}
