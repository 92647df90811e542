/* SPDX-License-Identifier: MIT */
/*
 * The command-line words of the freestanding test guests (tests/vmm/smpguest, tests/vmm/chaos,
 * tests/vmm/mbkernel): KEY=N, N in decimal or 0x hexadecimal. Static inline, as guest_io.h.
 */
#ifndef DYAD_TESTS_VMM_GUEST_CMDLINE_H
#define DYAD_TESTS_VMM_GUEST_CMDLINE_H

#include <stdint.h>

/*
 * The value of the first word KEY=N of @cmdline (words are separated by spaces), or @dflt if
 * there is none. The digits end at the first character that is not one; none gives 0.
 */
static inline uint64_t word_value(const char *cmdline, const char *key, uint64_t dflt)
{
	for (const char *p = cmdline; *p; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		const char *k = key, *q = p;
		while (*k && *q == *k)
			k++, q++;
		if (*k || *q != '=')
			continue;
		q++;
		uint64_t v = 0;
		if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
			for (q += 2;; q++) {
				unsigned d = *q >= '0' && *q <= '9'   ? (unsigned)(*q - '0')
					     : *q >= 'a' && *q <= 'f' ? (unsigned)(*q - 'a' + 10)
					     : *q >= 'A' && *q <= 'F' ? (unsigned)(*q - 'A' + 10)
								      : 16;
				if (d == 16)
					break;
				v = v << 4 | d;
			}
		} else {
			for (; *q >= '0' && *q <= '9'; q++)
				v = v * 10 + (uint64_t)(*q - '0');
		}
		return v;
	}
	return dflt;
}

#endif
