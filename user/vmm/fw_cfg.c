// SPDX-License-Identifier: MIT
/*
 * The fw_cfg device, selector and data ports only (fw_cfg.h). The items are a table filled
 * once; a key the table lacks reads as an empty item (all zeros), as QEMU answers a key it has
 * no data for. Bit 14 of a key (the write flag) and the architecture bit 15 are kept in the key:
 * no such item exists here, so they too read as empty.
 */
#include <string.h>

#include "fw_cfg.h"
#include "vmm.h"

static void put(struct fw_cfg *f, unsigned i, uint16_t key, const void *data, uint16_t len)
{
	f->item[i].key = key;
	f->item[i].len = len;
	memcpy(f->item[i].data, data, len);
}

static void select_key(struct fw_cfg *f, uint16_t key)
{
	f->cur = -1;
	f->offset = 0;
	for (int i = 0; i < FW_CFG_ITEMS; i++)
		if (f->item[i].key == key)
			f->cur = i;
	if (f->cur < 0)
		f->unknown_keys++;
}

void fw_cfg_init(struct fw_cfg *f, uint64_t ram, unsigned cpus)
{
	const uint32_t id = 1, no_files = 0;
	const uint16_t n = (uint16_t)cpus, nographic = 1;

	memset(f, 0, sizeof(*f));
	put(f, 0, FW_CFG_SIGNATURE, "QEMU", 4);
	put(f, 1, FW_CFG_ID, &id, 4);
	put(f, 2, FW_CFG_RAM_SIZE, &ram, 8);
	put(f, 3, FW_CFG_NOGRAPHIC, &nographic, 2);
	put(f, 4, FW_CFG_NB_CPUS, &n, 2);
	put(f, 5, FW_CFG_MAX_CPUS, &n, 2);
	put(f, 6, FW_CFG_FILE_DIR, &no_files, 4);
	select_key(f, FW_CFG_SIGNATURE);
}

static uint8_t next_byte(struct fw_cfg *f)
{
	if (f->cur < 0 || f->offset >= f->item[f->cur].len)
		return 0;
	return f->item[f->cur].data[f->offset++];
}

/* The bus handler (bus.h). */
static int fw_cfg_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	struct fw_cfg *f = dev;

	if (write) {
		if (port == FW_CFG_PORT_SEL && size >= 2)
			select_key(f, (uint16_t)*value);
		return 0;
	}
	if (port != FW_CFG_PORT_DATA)
		return -1; /* the selector reads all ones */
	f->reads++;
	*value = 0;
	for (unsigned i = 0; i < size; i++)
		*value = (*value << 8) | next_byte(f);
	return 0;
}

int fw_cfg_register(struct fw_cfg *f, struct bus *b)
{
	return bus_register(b, BUS_PIO, FW_CFG_PORT_SEL, 2, fw_cfg_access, f);
}
