// SPDX-License-Identifier: MIT
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>

struct copy_job {
	void *dst;
	const void *src;
	size_t n; /* for strings: in, the buffer size; out, the length */
	bool terminated; /* strings: a NUL was copied */
};

static bool user_range_ok(u64 addr, size_t n)
{
	return addr + n >= addr && addr + n <= USER_TOP;
}

static void copy_bytes(void *arg)
{
	struct copy_job *j = arg;

	memcpy(j->dst, j->src, j->n);
}

/* Copies @n bytes between kernel memory and the user range at @user (one of @dst, @src). */
static int copy_user(void *dst, const void *src, size_t n, u64 user)
{
	struct copy_job job = { dst, src, n, false };
	struct fault_info fi;

	if (!n)
		return 0;
	if (!user_range_ok(user, n) || trap_catch(copy_bytes, &job, &fi))
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

	for (i = 0; i < j->n; i++) {
		if ((u64)&s[i] >= USER_TOP)
			break; /* not terminated below USER_TOP: -EFAULT */
		d[i] = s[i];
		if (!s[i]) {
			j->terminated = true;
			break;
		}
	}
	j->n = i;
}

long strncpy_from_user(char *dst, u64 src, size_t max)
{
	struct copy_job job = { dst, (const void *)src, max, false };
	struct fault_info fi;

	if (src >= USER_TOP || trap_catch(copy_string, &job, &fi))
		return -EFAULT;
	if (job.terminated)
		return (long)job.n;
	return job.n == max ? -ENAMETOOLONG : -EFAULT;
}
