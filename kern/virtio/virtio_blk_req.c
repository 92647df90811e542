// SPDX-License-Identifier: MIT
/* virtio-blk completions judged (include/dyad/virtio.h); pure code that builds on the host. */
#include <dyad/errno.h>
#include <dyad/virtio.h>

int virtio_blk_judge(u32 type, u32 data_len, u32 used_len, u8 status)
{
	/* The device writes a read's data and status, a write's or flush's status alone. */
	u64 want = type == VIRTIO_BLK_T_IN ? (u64)data_len + 1 : 1;

	switch (status) {
	case VIRTIO_BLK_S_OK:
		return used_len == want ? 0 : -EPROTO;
	case VIRTIO_BLK_S_IOERR:
	case VIRTIO_BLK_S_UNSUPP:
		/* The status byte is the last one written: at least it must be counted. */
		return used_len >= 1 && used_len <= want ? -EIO : -EPROTO;
	default:
		return -EPROTO;
	}
}
