/* SPDX-License-Identifier: MIT */
#ifndef DYAD_USTACK_H
#define DYAD_USTACK_H

#include <dyad/types.h>

/*
 * The initial user stack of a new process, as the SysV x86-64 ABI lays it out. From the
 * returned rsp upward:
 *
 *   rsp ->  argc
 *           argv[0] .. argv[argc - 1], NULL
 *           envp[0] .. envp[envc - 1], NULL
 *           auxv pairs (type, value) ..., AT_NULL 0
 *           padding (to keep rsp 16-byte aligned)
 *           16 random bytes (AT_RANDOM)
 *           argument and environment strings, the AT_EXECFN string
 *   top ->
 *
 * The builder is pure: it writes into a kernel buffer that stands for the bytes just below
 * the user address @top, and stores user addresses in it.
 */

#define USTACK_RANDOM_BYTES 16

/*
 * The argument limits of a new process, the first one (`init=PATH -- ARGS`) and dyad_spawn's
 * alike. They are sized for a VMM whose arguments carry a 2 KiB Linux command line word by
 * word: ARGV_MAX arguments (argv[0] included), each at most ARGV_ARG_MAX bytes and all of them
 * together at most ARGV_STRINGS_MAX bytes, NULs included. More is -E2BIG, never a cut.
 */
#define ARGV_MAX 512
#define ARGV_ARG_MAX 4096
#define ARGV_STRINGS_MAX 8192

/*
 * The initial stack image holds the strings, the pointers and the auxiliary vector: 16 KiB
 * takes ARGV_MAX arguments of ARGV_STRINGS_MAX bytes with a small environment.
 */
#define USTACK_IMAGE_ORDER 2
#define USTACK_IMAGE_SIZE (4096UL << USTACK_IMAGE_ORDER)

/* What the auxiliary vector tells the program beyond constants. */
struct ustack_aux {
	u64 phdr; /* AT_PHDR: user address of the program headers, or 0 */
	u64 phent; /* AT_PHENT */
	u64 phnum; /* AT_PHNUM */
	u64 entry; /* AT_ENTRY */
	const char *execfn; /* AT_EXECFN: the program's path; NULL means argv[0] */
	u8 random[USTACK_RANDOM_BYTES]; /* copied to the stack for AT_RANDOM */
};

/* The auxiliary vector entries ustack_build writes, AT_NULL included. */
#define USTACK_AUXV_ENTRIES 15

/*
 * Builds the initial stack in @buf, whose @size bytes are the user addresses
 * [top - size, top). @argv and @envp are NULL-terminated arrays of kernel strings (NULL means
 * empty). Auxiliary entries: AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ (4096), AT_ENTRY, AT_UID,
 * AT_EUID, AT_GID, AT_EGID (0), AT_SECURE (0), AT_RANDOM, AT_HWCAP (0), AT_CLKTCK (100),
 * AT_EXECFN, AT_NULL. Returns the user rsp, 16-byte aligned and pointing at argc, or -E2BIG
 * if everything does not fit in @size bytes. Every byte from the returned rsp to @top is
 * written (padding with zeros), so what @buf held before never shows. @buf need not be
 * aligned; bytes of @buf below the returned rsp are left untouched.
 */
long ustack_build(void *buf, size_t size, u64 top, const char *const argv[],
		  const char *const envp[], const struct ustack_aux *aux);

#endif
