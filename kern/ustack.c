// SPDX-License-Identifier: MIT
/*
 * The SysV initial process stack. Everything is placed from the top down in user addresses;
 * a cursor that only moves down and is checked against the bottom before every store keeps
 * the writes inside the buffer.
 */
#include <linux/auxvec.h>

#include <dyad/errno.h>
#include <dyad/string.h>
#include <dyad/ustack.h>

#define USTACK_CLKTCK 100

struct cursor {
	u8 *buf; /* buf[0] is user address bottom */
	u64 bottom; /* top - size */
	u64 sp; /* the lowest user address written so far */
};

static u8 *kaddr(struct cursor *c, u64 uaddr)
{
	return c->buf + (uaddr - c->bottom);
}

/*
 * Moves the cursor down by @len bytes, then to a multiple of @align; false if it won't fit.
 * The alignment padding above the @len bytes is zeroed here: every byte from rsp up is
 * written by the builder, whatever the buffer held before.
 */
static bool reserve(struct cursor *c, u64 len, u64 align)
{
	if (len > c->sp - c->bottom)
		return false;
	u64 sp = ALIGN_DOWN(c->sp - len, align);
	if (sp < c->bottom)
		return false;
	memset(kaddr(c, sp + len), 0, c->sp - (sp + len));
	c->sp = sp;
	return true;
}

/* Copies @len bytes to the stack; returns their user address, or 0 if they don't fit. */
static u64 push_bytes(struct cursor *c, const void *src, u64 len)
{
	if (!reserve(c, len, 1))
		return 0;
	memcpy(kaddr(c, c->sp), src, len);
	return c->sp;
}

static u64 push_string(struct cursor *c, const char *s)
{
	return push_bytes(c, s, strlen(s) + 1);
}

static size_t count(const char *const v[])
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Stores one 8-byte word at user address @uaddr, which the caller reserved. */
static void put_word(struct cursor *c, u64 uaddr, u64 value)
{
	memcpy(kaddr(c, uaddr), &value, sizeof(value));
}

/*
 * Pushes the @n strings of @v last first, so that they lie back to back in order, v[0] at the
 * returned *@first. put_pointers later recomputes each address from the lengths, so no array
 * of unknown length is needed.
 */
static bool push_strings(struct cursor *c, const char *const v[], size_t n, u64 *first)
{
	for (size_t i = n; i-- > 0;)
		if (!push_string(c, v[i]))
			return false;
	*first = c->sp;
	return true;
}

/* Writes the pointers to the @n strings packed from @str upward into slots from @slot. */
static u64 put_pointers(struct cursor *c, u64 slot, u64 str, const char *const v[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put_word(c, slot, str);
		slot += 8;
		str += strlen(v[i]) + 1;
	}
	put_word(c, slot, 0);
	return slot + 8;
}

long ustack_build(void *buf, size_t size, u64 top, const char *const argv[],
		  const char *const envp[], const struct ustack_aux *aux)
{
	struct cursor c = { .buf = buf, .bottom = top - size, .sp = top };
	size_t argc = count(argv), envc = count(envp);
	const char *execfn = aux->execfn ? aux->execfn : (argc ? argv[0] : "");
	u64 execfn_at, env_at = 0, arg_at = 0, random_at;

	if (size > top)
		return -E2BIG;
	execfn_at = push_string(&c, execfn);
	if (!execfn_at || !push_strings(&c, envp, envc, &env_at) ||
	    !push_strings(&c, argv, argc, &arg_at))
		return -E2BIG;
	if (!reserve(&c, USTACK_RANDOM_BYTES, 16))
		return -E2BIG;
	random_at = c.sp;
	memcpy(kaddr(&c, random_at), aux->random, USTACK_RANDOM_BYTES);

	/* argc, argv + NULL, envp + NULL, auxv pairs: sized first so that rsp lands aligned. */
	u64 words = 1 + (argc + 1) + (envc + 1) + 2 * USTACK_AUXV_ENTRIES;
	if (words > (c.sp - c.bottom) / 8 || !reserve(&c, words * 8, 16))
		return -E2BIG;

	u64 slot = c.sp;
	put_word(&c, slot, argc);
	slot = put_pointers(&c, slot + 8, arg_at, argv, argc);
	slot = put_pointers(&c, slot, env_at, envp, envc);

	const u64 auxv[USTACK_AUXV_ENTRIES][2] = {
		{ AT_PHDR, aux->phdr },
		{ AT_PHENT, aux->phent },
		{ AT_PHNUM, aux->phnum },
		{ AT_PAGESZ, PAGE_SIZE },
		{ AT_ENTRY, aux->entry },
		{ AT_UID, 0 },
		{ AT_EUID, 0 },
		{ AT_GID, 0 },
		{ AT_EGID, 0 },
		{ AT_SECURE, 0 },
		{ AT_RANDOM, random_at },
		{ AT_HWCAP, 0 },
		{ AT_CLKTCK, USTACK_CLKTCK },
		{ AT_EXECFN, execfn_at },
		{ AT_NULL, 0 },
	};
	for (size_t i = 0; i < USTACK_AUXV_ENTRIES; i++) {
		put_word(&c, slot, auxv[i][0]);
		put_word(&c, slot + 8, auxv[i][1]);
		slot += 16;
	}
	return (long)c.sp;
}
