/* SPDX-License-Identifier: MIT */
#ifndef DYAD_UACCESS_H
#define DYAD_UACCESS_H

#include <dyad/types.h>

/*
 * Access to the current process's memory from system calls. Every user pointer goes through
 * these: the range must lie below USER_TOP, pages not yet faulted in are served by demand
 * paging, and anything else (unmapped, wrong permission) makes the call return -EFAULT
 * instead of faulting the kernel.
 */
int copy_from_user(void *dst, u64 src, size_t n);
int copy_to_user(u64 dst, const void *src, size_t n);

/*
 * True while one of these helpers is copying. A kernel-mode page fault on a user address is
 * demand-paged only then; anywhere else it is a kernel bug. With SMAP the helpers are also the
 * only code that runs with RFLAGS.AC set.
 */
bool uaccess_active(void);

/* Copies a NUL-terminated string of at most @max - 1 bytes; returns its length, -EFAULT, or
 * -ENAMETOOLONG. */
long strncpy_from_user(char *dst, u64 src, size_t max);

#endif
