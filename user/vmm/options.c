// SPDX-License-Identifier: MIT
/* The VMM's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "vmm.h"

uint64_t options_size(const char *s)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s)
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return 0;
	unsigned shift = 0;
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		p++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		p++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		p++;
		break;
	}
	if (*p || (shift && v > (UINT64_MAX >> shift)))
		return 0;
	return v << shift;
}

static int append(char *dst, const char *word, char *err, unsigned errlen)
{
	size_t used = strlen(dst), n = strlen(word);

	if (used + (used ? 1 : 0) + n >= BOOT_CMDLINE_MAX) {
		snprintf(err, errlen, "guest command line longer than %d bytes",
			 BOOT_CMDLINE_MAX - 1);
		return -1;
	}
	if (used)
		dst[used++] = ' ';
	memcpy(dst + used, word, n + 1);
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, unsigned errlen)
{
	const char *extra[OPTIONS_MAX_APPEND];
	unsigned nextra = 0;
	int i;

	memset(o, 0, sizeof(*o));
	o->ram = OPTIONS_DEFAULT_RAM;
	o->ncpus = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-R")) {
			o->rng = 1;
			continue;
		}
		if (!strcmp(a, "-C") || !strcmp(a, "-d")) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				snprintf(err, errlen, "option %s needs %s", a,
					 a[1] == 'C' ? "a console name (hvc)" : "a disk image");
				return -1;
			}
			const char *v = argv[++i];
			if (a[1] == 'd') {
				o->disk = v;
			} else if (!strcmp(v, "hvc")) {
				o->hvc = 1;
			} else {
				snprintf(err, errlen,
					 "unknown console '%s' (-C hvc: a virtio console)", v);
				return -1;
			}
			continue;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "-s")) {
			*(a[1] == 'q' ? &o->quiet : &o->small_pages) = 1;
			continue;
		}
		if (!strcmp(a, "--module")) {
			if (i + 1 >= argc || !argv[i + 1][0] || argv[i + 1][0] == ',') {
				snprintf(err, errlen, "option --module needs FILE[,STRING]");
				return -1;
			}
			if (o->nmodules == OPTIONS_MAX_MODULES) {
				snprintf(err, errlen, "more than %d --module options",
					 OPTIONS_MAX_MODULES);
				return -1;
			}
			o->modules[o->nmodules++] = argv[++i];
			continue;
		}
		if (strcmp(a, "-m") && strcmp(a, "-i") && strcmp(a, "-a") && strcmp(a, "-p") &&
		    strcmp(a, "-c")) {
			snprintf(err, errlen, "unknown option '%s'", a);
			return -1;
		}
		if (i + 1 >= argc) {
			snprintf(err, errlen, "option %s needs a value", a);
			return -1;
		}
		const char *v = argv[++i];
		if (a[1] == 'm') {
			o->ram = options_size(v);
			if (!o->ram) {
				snprintf(err, errlen, "bad RAM size '%s' (examples: 256M, 1G)", v);
				return -1;
			}
		} else if (a[1] == 'c') {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*end || end == v || n < 1 || n > OPTIONS_MAX_CPUS) {
				snprintf(err, errlen, "bad vCPU count '%s' (1 to %d)", v,
					 OPTIONS_MAX_CPUS);
				return -1;
			}
			o->ncpus = (unsigned)n;
		} else if (a[1] == 'i') {
			o->initrd = v;
		} else if (a[1] == 'p') {
			char *end;
			unsigned long bits = strtoul(v, &end, 10);
			if (*end || end == v || bits < 32 || bits > 52) {
				snprintf(err, errlen, "bad physical address width '%s' (32 to 52 bits)",
					 v);
				return -1;
			}
			o->phys_bits = (unsigned)bits;
		} else if (nextra == OPTIONS_MAX_APPEND) {
			snprintf(err, errlen, "more than %d -a options", OPTIONS_MAX_APPEND);
			return -1;
		} else {
			extra[nextra++] = v;
		}
	}
	if (i >= argc) {
		snprintf(err, errlen, "no kernel image given");
		return -1;
	}
	o->kernel = argv[i++];
	/*
	 * With virtio functions the default line lets Linux scan PCI (iommu=noaperture in place of
	 * pci=off), and -C hvc has console=hvc0 in place of ttyS0, once virtio_console has found
	 * it; until then earlyprintk=serial has the kernel's lines on the 16550 (both as consoles
	 * would write every line twice).
	 */
	char dev_default[sizeof(OPTIONS_DEFAULT_CMDLINE) + 32];
	const char *def = OPTIONS_DEFAULT_CMDLINE, *off = strstr(def, " pci=off");
	if ((o->hvc || o->rng || o->disk) && off) {
		size_t serial = strlen(OPTIONS_SERIAL_CONSOLE);
		snprintf(dev_default, sizeof(dev_default), "%s%.*s iommu=noaperture%s",
			 o->hvc ? "console=hvc0" : OPTIONS_SERIAL_CONSOLE,
			 (int)(off - def - serial), def + serial, off + strlen(" pci=off"));
		def = dev_default;
	}
	if (i < argc) {
		for (; i < argc; i++)
			if (append(o->cmdline, argv[i], err, errlen))
				return -1;
	} else if (append(o->cmdline, def, err, errlen)) {
		return -1;
	} else {
		o->default_len = (unsigned)strlen(o->cmdline);
	}
	for (unsigned k = 0; k < nextra; k++)
		if (append(o->cmdline, extra[k], err, errlen))
			return -1;
	/* Words of the user's own: the last console= is Linux's /dev/console once it exists. */
	if (o->hvc && !o->default_len && append(o->cmdline, "console=hvc0", err, errlen))
		return -1;
	if (o->ram < BOOT_RAM_MIN || o->ram > BOOT_RAM_MAX || (o->ram & 0xfffff)) {
		snprintf(err, errlen,
			 "RAM size %llu bytes: must be a whole number of MiB from %llu MiB to %llu "
			 "MiB",
			 (unsigned long long)o->ram, BOOT_RAM_MIN >> 20, BOOT_RAM_MAX >> 20);
		return -1;
	}
	return 0;
}
