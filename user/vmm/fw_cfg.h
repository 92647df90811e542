/* SPDX-License-Identifier: MIT */
#ifndef VMM_FW_CFG_H
#define VMM_FW_CFG_H

#include <stdint.h>

#include "bus.h"

/*
 * QEMU's firmware configuration interface (docs/specs/fw_cfg.rst in QEMU), the traditional I/O
 * form only: a 16-bit write of a key to the selector port chooses an item and rewinds it; each
 * read of the data port returns its next byte, 0 past its end. Small kernels read the CPU count
 * and the RAM size there.
 */
#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

#define FW_CFG_SIGNATURE 0x00 /* "QEMU" */
#define FW_CFG_ID 0x01 /* u32 feature bits: 1 = the traditional interface (no DMA) */
#define FW_CFG_RAM_SIZE 0x03 /* u64, bytes */
#define FW_CFG_NOGRAPHIC 0x04 /* u16, 1: no display */
#define FW_CFG_NB_CPUS 0x05 /* u16 */
#define FW_CFG_MAX_CPUS 0x0f /* u16 */
#define FW_CFG_FILE_DIR 0x19 /* u32 big-endian count of files, then the files: none here */

#define FW_CFG_ITEM_MAX 8 /* bytes of the largest item above */
#define FW_CFG_ITEMS 7

struct fw_cfg {
	struct {
		uint16_t key, len;
		uint8_t data[FW_CFG_ITEM_MAX];
	} item[FW_CFG_ITEMS];
	int cur; /* index into item, -1 for a key with no item */
	uint16_t offset; /* next byte of the current item */
	unsigned long reads, unknown_keys;
};

/* Fills the items for a machine of @ram bytes and @cpus CPUs; selects the signature. */
void fw_cfg_init(struct fw_cfg *f, uint64_t ram, unsigned cpus);
/*
 * Registers the selector and data ports on @b. The data port: a read of N bytes takes N bytes
 * of the item, the first in the most significant place (as QEMU composes wider reads); writes
 * are dropped, as in QEMU since 2.4. The selector: a 2-byte (or wider: the low 16 bits) write
 * selects; it does not read back (all ones).
 */
int fw_cfg_register(struct fw_cfg *f, struct bus *b);

#endif
