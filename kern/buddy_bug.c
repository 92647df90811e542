/* SPDX-License-Identifier: MIT */
/*
 * The kernel's answer to a broken buddy allocator contract: a double free or a corrupt free
 * list means memory is already shared by two owners, so going on would only spread the damage.
 * Host unit tests link their own buddy_bug instead of this file.
 */
#include <dyad/buddy.h>
#include <dyad/printf.h>

void buddy_bug(const char *msg, paddr_t pa)
{
	panic("buddy: %s (pa %#llx)", msg, (unsigned long long)pa);
}
