// SPDX-License-Identifier: MIT
/* virtio-rng (virtio_rng.h). */
#include <string.h>

#include "virtio_rng.h"

#define VIRTIO_ID_RNG 4
#define RNG_RETRIES 16 /* Intel's advice for RDRAND; RDSEED may need more, the guest asks again */

static void cfg_read(struct virtio_dev *v, unsigned off, unsigned size, uint64_t *value)
{
	*value = 0; /* no configuration */
}

static int rdseed64(uint64_t *v)
{
	unsigned char ok;

	__asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok));
	return ok;
}

static int rdrand64(uint64_t *v)
{
	unsigned char ok;

	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
	return ok;
}

static size_t fill_with(int (*insn)(uint64_t *), uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t v;
		int tries = 0;
		while (!insn(&v))
			if (++tries == RNG_RETRIES)
				return done;
		size_t n = len - done < 8 ? len - done : 8;
		memcpy(buf + done, &v, n);
		done += n;
	}
	return done;
}

static size_t fill_rdseed(uint8_t *buf, size_t len)
{
	return fill_with(rdseed64, buf, len);
}

static size_t fill_rdrand(uint8_t *buf, size_t len)
{
	return fill_with(rdrand64, buf, len);
}

static void host_cpuid(uint32_t leaf, uint32_t *r)
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

rng_fill_fn virtio_rng_source(const char **name)
{
	uint32_t r0[4], r1[4], r7[4] = { 0 };

	host_cpuid(0, r0);
	host_cpuid(1, r1);
	if (r0[0] >= 7)
		host_cpuid(7, r7);
	if (r7[1] & (1u << 18)) {
		*name = "RDSEED";
		return fill_rdseed;
	}
	if (r1[2] & (1u << 30)) {
		*name = "RDRAND";
		return fill_rdrand;
	}
	*name = "none";
	return NULL;
}

static void notify(struct virtio_dev *v, unsigned qi)
{
	struct virtio_rng *r = v->priv;
	struct virtq *q = virtio_queue(v, 0);
	struct virtq_chain ch;
	int ret = 0, used = 0;

	while (q && (ret = virtq_pop(q, &ch)) > 0) {
		uint64_t written = 0;
		for (unsigned k = ch.nout; k < ch.nout + ch.nin; k++) {
			size_t n = r->fill(ch.buf[k].p, ch.buf[k].len);
			written += n;
			if (n < ch.buf[k].len) {
				r->short_fills++;
				break;
			}
		}
		r->bytes += written;
		virtq_push(q, ch.head, (uint32_t)written);
		used = 1;
	}
	virtio_queue_done(v, 0, q, used, ret);
}

static const struct virtio_ops ops = {
	.name = "virtio-rng",
	.id = VIRTIO_ID_RNG,
	.class_code = 0x00ff00, /* unclassified, other */
	.nqueues = 1,
	.queue_size = 64,
	.cfg_read = cfg_read,
	.notify = notify,
};

int virtio_rng_init(struct virtio_rng *r, const struct guest_ram *ram, msi_deliver_fn deliver,
		    void *ctx, rng_fill_fn fill)
{
	r->fill = fill;
	r->bytes = r->short_fills = 0;
	return virtio_pci_init(&r->v, &ops, r, ram, deliver, ctx);
}
