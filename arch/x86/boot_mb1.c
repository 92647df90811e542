// SPDX-License-Identifier: MIT
/*
 * Multiboot (v1) entry: a loader such as `qemu -kernel` or a VMM gives the kernel the older
 * information structure (EAX 0x2badb002). Before kmain, boot.asm hands it here, and it is
 * rewritten as the multiboot2 information kmain parses: the command line without its first
 * word (a v1 loader puts the kernel's path there, a multiboot2 loader does not), the modules
 * with their strings, and the memory map. Runs on the boot page tables, which map the first
 * GiB at its own address; the v1 structure and everything it points to must lie there.
 */
#include <arch/x86/memlayout.h>
#include <dyad/types.h>

#define MB1_INFO_CMDLINE (1u << 2)
#define MB1_INFO_MODS (1u << 3)
#define MB1_INFO_MMAP (1u << 6)
#define MB1_REACH (1ULL << 30)

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MODULE 3
#define MB2_TAG_MMAP 6

struct mb1_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
} __attribute__((packed));

struct mb1_mod {
	u32 start, end, string, reserved;
};

struct mb1_mmap {
	u32 size;
	u64 addr, len;
	u32 type;
} __attribute__((packed));

/* The multiboot2 information built here: in the kernel's .bss, so already reserved. */
static u8 mb2[8192] __attribute__((aligned(8)));

static bool reachable(u64 pa, u64 len)
{
	return pa < MB1_REACH && len <= MB1_REACH - pa;
}

static const char *str(u32 pa)
{
	return pa && reachable(pa, 1) ? (const char *)(unsigned long)pa : "";
}

/* Appends a tag of @type with @head (@head_len bytes) then @s with its NUL; false if full. */
static bool put_tag(u32 *off, u32 type, const void *head, u32 head_len, const char *s)
{
	u32 n = 0;

	while (s && s[n] && n < 1024)
		n++;
	u32 size = 8 + head_len + (s ? n + 1 : 0);
	if (*off + ((size + 7) & ~7u) + 8 > sizeof(mb2))
		return false;
	u32 *t = (u32 *)(mb2 + *off);
	t[0] = type;
	t[1] = size;
	for (u32 i = 0; i < head_len; i++)
		mb2[*off + 8 + i] = ((const u8 *)head)[i];
	for (u32 i = 0; s && i < n; i++)
		mb2[*off + 8 + head_len + i] = (u8)s[i];
	if (s)
		mb2[*off + 8 + head_len + n] = 0;
	*off += (size + 7) & ~7u;
	return true;
}

unsigned long boot_mb1_to_mb2(unsigned long mb1_pa);
/*
 * Builds the multiboot2 information from the v1 structure at physical @mb1_pa; returns its
 * physical address. What does not fit (more than a few dozen modules) is left out, and kmain's
 * checks then see what is missing.
 */
unsigned long boot_mb1_to_mb2(unsigned long mb1_pa)
{
	u32 off = 8;

	if (!reachable(mb1_pa, sizeof(struct mb1_info)))
		goto end;
	const struct mb1_info *mi = (const struct mb1_info *)mb1_pa;
	if (mi->flags & MB1_INFO_CMDLINE) {
		const char *c = str(mi->cmdline);
		while (*c && *c != ' ')
			c++;
		while (*c == ' ')
			c++;
		put_tag(&off, MB2_TAG_CMDLINE, NULL, 0, c);
	}
	if ((mi->flags & MB1_INFO_MODS) && reachable(mi->mods_addr, 16ULL * mi->mods_count)) {
		const struct mb1_mod *m = (const struct mb1_mod *)(unsigned long)mi->mods_addr;
		for (u32 i = 0; i < mi->mods_count; i++) {
			u32 range[2] = { m[i].start, m[i].end };
			if (!put_tag(&off, MB2_TAG_MODULE, range, sizeof(range), str(m[i].string)))
				break;
		}
	}
	if ((mi->flags & MB1_INFO_MMAP) && reachable(mi->mmap_addr, mi->mmap_length)) {
		/* The tag header, then 24-byte entries, written in place. */
		u32 *t = (u32 *)(mb2 + off), n = 0, pos = 16;
		for (u32 p = 0; p + 24 <= mi->mmap_length && off + pos + 24 + 8 <= sizeof(mb2);) {
			const struct mb1_mmap *e =
				(const struct mb1_mmap *)(unsigned long)(mi->mmap_addr + p);
			u64 *d = (u64 *)(mb2 + off + pos);
			d[0] = e->addr;
			d[1] = e->len;
			d[2] = e->type;
			pos += 24;
			n++;
			p += e->size + 4;
		}
		t[0] = MB2_TAG_MMAP;
		t[1] = pos;
		t[2] = 24;
		t[3] = 0;
		off += (pos + 7) & ~7u;
		(void)n;
	}
end:
	put_tag(&off, MB2_TAG_END, NULL, 0, NULL);
	((u32 *)mb2)[0] = off;
	((u32 *)mb2)[1] = 0;
	return KERNEL_IMAGE_PA(mb2);
}
