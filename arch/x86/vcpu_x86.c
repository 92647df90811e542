// SPDX-License-Identifier: MIT
/*
 * The x86 rules both vCPU backends share, and the guest state neither VMCS nor VMCB switches
 * (include/arch/x86/vcpu_x86.h). A rule written here once is the same for the VMM on Intel and
 * on AMD; the backends only say where their hardware keeps a value.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/trap.h>
#include <arch/x86/vcpu_x86.h>
#include <dyad/errno.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/vcpu.h>

#define CPUID7_ECX_PKU BIT(3)
#define FCW_RESET 0x037f
#define MXCSR_RESET 0x1f80
#define DR6_CLEAN 0xffff0ff0ULL
#define DR7_CLEAN 0x400ULL
#define EXTINT_MIN 16 /* vectors 0-15 are the APIC's illegal ones: no source delivers them */

u64 vx86_xcr0_supported;
static bool use_xsave; /* the host turned XSAVE on: images are XSAVE images */
static bool have_pku; /* PKRU exists: a guest that sets CR4.PKE writes it */

/* ---- events ------------------------------------------------------------------------------- */

bool vx86_vector_has_error_code(unsigned vector)
{
	return vector == T_DF || (vector >= 10 && vector <= 14) || vector == 17;
}

/*
 * Only what VM entry (VMX) and EVENTINJ (SVM) accept and what a real source can raise: an
 * external interrupt 16..255 (16-31 arrive from an APIC or a PIC programmed there), or a
 * hardware exception 0..31 other than NMI, with an error code exactly when it pushes one.
 */
int vcpu_arch_event_check(const struct dyad_event *ev)
{
	if (!ev->pending)
		return 0;
	switch (ev->type) {
	case DYAD_EVENT_EXTINT:
		return ev->vector >= EXTINT_MIN && !ev->has_error_code ? 0 : -EINVAL;
	case DYAD_EVENT_EXCEPTION:
		if (ev->vector >= 32 || ev->vector == T_NMI)
			return -EINVAL;
		return !!ev->has_error_code == vx86_vector_has_error_code(ev->vector) ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* ---- control registers and MSRs ----------------------------------------------------------- */

bool vx86_efer_write(u64 old, u64 value, u64 cr0, u64 *out)
{
	if (value & ~VX86_EFER_GUEST)
		return false;
	if ((cr0 & CR0_PG) && ((value ^ old) & EFER_LME))
		return false;
	*out = (value & ~EFER_LMA) | (old & EFER_LMA);
	return true;
}

bool vx86_xcr0_valid(u32 index, u64 v)
{
	if (index != 0 || !(v & XCR0_X87) || (v & ~vx86_xcr0_supported))
		return false;
	if ((v & XCR0_AVX) && !(v & XCR0_SSE))
		return false;
	if ((v & XCR0_AVX512) && ((v & XCR0_AVX512) != XCR0_AVX512 || !(v & XCR0_AVX)))
		return false;
	return true;
}

/*
 * SYSENTER_* and the FS/GS bases are VMCS / VMCB fields; the SYSCALL MSRs and KERNEL_GS_BASE
 * are VMCB fields (VMLOAD) on SVM and swapped by vmx_run.c on VMX; PAT is a VMCS field loaded
 * on entry on VMX and exits on SVM (its value is checked there, see svm.c).
 */
const u32 vx86_msr_pass[] = {
	DYAD_MSR_SYSENTER_CS, DYAD_MSR_SYSENTER_ESP,   DYAD_MSR_SYSENTER_EIP, DYAD_MSR_STAR,
	DYAD_MSR_LSTAR,	      DYAD_MSR_CSTAR,	       DYAD_MSR_SFMASK,	      DYAD_MSR_FS_BASE,
	DYAD_MSR_GS_BASE,     DYAD_MSR_KERNEL_GS_BASE,
};
const unsigned vx86_msr_pass_count = ARRAY_SIZE(vx86_msr_pass);

const struct vx86_msr_slot *vx86_msr_find(const struct vx86_msr_slot *table, unsigned n, u32 index)
{
	for (unsigned i = 0; i < n; i++)
		if (table[i].index == index)
			return &table[i];
	return NULL;
}

static bool pat_valid(u64 value)
{
	for (unsigned i = 0; i < 8; i++) {
		u8 t = (u8)(value >> (8 * i));
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

int vx86_msr_check(u32 index, u64 value)
{
	switch (index) {
	case DYAD_MSR_LSTAR:
	case DYAD_MSR_CSTAR:
	case DYAD_MSR_FS_BASE:
	case DYAD_MSR_GS_BASE:
	case DYAD_MSR_KERNEL_GS_BASE:
	case DYAD_MSR_SYSENTER_ESP:
	case DYAD_MSR_SYSENTER_EIP:
		return vx86_canonical(value) ? 0 : -EINVAL;
	case DYAD_MSR_SFMASK: /* bits 63:32 are reserved: WRMSR raises #GP */
	case DYAD_MSR_SYSENTER_CS:
		return value >> 32 ? -EINVAL : 0;
	case DYAD_MSR_PAT:
		return pat_valid(value) ? 0 : -EINVAL;
	case DYAD_MSR_EFER:
		return value & ~VX86_EFER_GUEST ? -EINVAL : 0;
	default:
		return 0; /* STAR and the TSC take any value */
	}
}

/* ---- the switched state ------------------------------------------------------------------- */

void vx86_init(void)
{
	u32 a, b, c, d;

	use_xsave = fpu_xsave_enabled();
	vx86_xcr0_supported = 0;
	if (use_xsave) {
		cpuid(0xd, 0, &a, &b, &c, &d);
		vx86_xcr0_supported = a & (XCR0_X87 | XCR0_SSE | XCR0_AVX | XCR0_AVX512);
		/* AVX-512 as a whole, and only if the area for every component fits one page. */
		if ((vx86_xcr0_supported & XCR0_AVX512) != XCR0_AVX512 || c > PAGE_SIZE)
			vx86_xcr0_supported &= ~XCR0_AVX512;
	}
	have_pku = false;
	if (cpu_features.max_leaf >= 7) {
		cpuid(7, 0, &a, &b, &c, &d);
		have_pku = c & CPUID7_ECX_PKU;
	}
}

void vx86_state_init(struct vx86_state *s, void *area, void *host_area)
{
	*s = (struct vx86_state){
		.area = area, .host_area = host_area, .xcr0 = XCR0_X87, .dr6 = DR6_CLEAN
	};
	/* XSAVE never writes the header's reserved bytes, which XRSTOR wants zero: clear both. */
	memset(area, 0, PAGE_SIZE);
	memset(host_area, 0, PAGE_SIZE);
	*(u16 *)area = FCW_RESET; /* the XSAVE header is zero: XRSTOR starts the rest in init */
	*(u32 *)((u8 *)area + 24) = MXCSR_RESET;
}

static inline u32 rdpkru(void)
{
	u32 v, d;

	__asm__ volatile("rdpkru" : "=a"(v), "=d"(d) : "c"(0));
	return v;
}

static inline void wrpkru(u32 v)
{
	__asm__ volatile("wrpkru" : : "a"(v), "c"(0), "d"(0) : "memory");
}

/* Swaps PKRU: *@save = PKRU, PKRU = @load. RDPKRU/WRPKRU need CR4.PKE for a moment. */
static void pkru_swap(u32 *save, u32 load)
{
	u64 cr4 = read_cr4();

	write_cr4(cr4 | CR4_PKE);
	*save = rdpkru();
	wrpkru(load);
	write_cr4(cr4);
}

#define DEFINE_DR_ACCESSORS(n)                                                                     \
	static inline u64 read_dr##n(void)                                                         \
	{                                                                                          \
		u64 v;                                                                             \
		__asm__ volatile("mov %%db" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_dr##n(u64 v)                                                      \
	{                                                                                          \
		__asm__ volatile("mov %0, %%db" #n : : "r"(v) : "memory");                         \
	}
DEFINE_DR_ACCESSORS(0)
DEFINE_DR_ACCESSORS(1)
DEFINE_DR_ACCESSORS(2)
DEFINE_DR_ACCESSORS(3)
DEFINE_DR_ACCESSORS(6)
DEFINE_DR_ACCESSORS(7)

void vx86_state_to_guest(struct vx86_state *s)
{
	if (use_xsave) {
		u64 all = s->xcr0 | (s->host_xcr0 = xgetbv());

		xsave(s->host_area, s->host_xcr0);
		if (all != s->host_xcr0)
			xsetbv(all);
		xrstor(s->area, all);
		if (s->xcr0 != all)
			xsetbv(s->xcr0);
	} else {
		fxsave(s->host_area);
		fxrstor(s->area);
	}
	if (have_pku)
		pkru_swap(&s->host_pkru, s->pkru);
	/* The host's are clean (see the header): nothing of them to keep. */
	write_dr0(s->dr[0]);
	write_dr1(s->dr[1]);
	write_dr2(s->dr[2]);
	write_dr3(s->dr[3]);
	write_dr6(s->dr6);
	s->loaded = true;
}

void vx86_state_to_host(struct vx86_state *s)
{
	if (use_xsave) {
		/* Without an XSETBV intercept the guest may have changed XCR0 itself. */
		s->xcr0 = xgetbv();
		u64 all = (s->xcr0 & (vx86_xcr0_supported | XCR0_X87)) | s->host_xcr0;

		if (s->xcr0 != all)
			xsetbv(all);
		xsave(s->area, all);
		if (all != s->host_xcr0)
			xsetbv(s->host_xcr0);
		xrstor(s->host_area, s->host_xcr0);
	} else {
		fxsave(s->area);
		fxrstor(s->host_area);
	}
	if (have_pku)
		pkru_swap(&s->pkru, s->host_pkru);
	s->dr[0] = read_dr0();
	s->dr[1] = read_dr1();
	s->dr[2] = read_dr2();
	s->dr[3] = read_dr3();
	s->dr6 = read_dr6();
	write_dr7(DR7_CLEAN); /* the exit left it so; made sure before DR0-DR3 change */
	write_dr0(0);
	write_dr1(0);
	write_dr2(0);
	write_dr3(0);
	write_dr6(DR6_CLEAN);
	s->loaded = false;
}
