// SPDX-License-Identifier: MIT
/*
 * Which VMX controls a VMCS gets: one table of required and wanted features, checked against
 * the capability MSRs. The decision is a pure function of struct vmx_caps so that the ktests
 * can feed it made-up CPUs.
 */
#include <arch/x86/asm.h>
#include <arch/x86/pmap.h>
#include <arch/x86/vmx.h>
#include <dyad/errno.h>
#include <dyad/printf.h>
#include <dyad/string.h>

enum need {
	NEED_ON, /* required, set in every VMCS */
	NEED_AVAILABLE, /* required to be settable; toggled at run time (window exiting, IA-32e) */
	WANT_ON, /* set when the CPU allows it, else dropped with a note */
};

struct vmx_ctl_want {
	u8 cls; /* enum vmx_ctl_class */
	u8 need; /* enum need */
	u32 bit;
	u32 have; /* VMX_HAVE_* it brings, for WANT_ON */
	const char *name;
};

static const struct vmx_ctl_want vmx_ctl_table[] = {
	{ VMX_PIN, NEED_ON, PIN_EXTINT_EXITING, 0, "external-interrupt exiting" },
	{ VMX_PIN, NEED_ON, PIN_NMI_EXITING, 0, "NMI exiting" },
	{ VMX_PIN, WANT_ON, PIN_PREEMPT_TIMER, VMX_HAVE_PREEMPT, "preemption timer" },
	/* Kept only with NMI-window exiting (below): the pair is what NMI injection needs. */
	{ VMX_PIN, WANT_ON, PIN_VIRTUAL_NMIS, 0, "virtual NMIs" },
	{ VMX_PROC, NEED_AVAILABLE, PROC_INTR_WINDOW, 0, "interrupt-window exiting" },
	{ VMX_PROC, NEED_ON, PROC_TSC_OFFSET, 0, "TSC offsetting" },
	{ VMX_PROC, NEED_ON, PROC_HLT_EXITING, 0, "HLT exiting" },
	{ VMX_PROC, WANT_ON, PROC_TPR_SHADOW, VMX_HAVE_TPR_SHADOW, "TPR shadow" },
	{ VMX_PROC, NEED_ON, PROC_IO_UNCOND, 0, "unconditional I/O exiting" },
	{ VMX_PROC, NEED_ON, PROC_MSR_BITMAP, 0, "MSR bitmaps" },
	{ VMX_PROC, NEED_ON, PROC_SECONDARY, 0, "secondary controls" },
	{ VMX_PROC2, NEED_ON, PROC2_EPT, 0, "EPT" },
	{ VMX_PROC2, WANT_ON, PROC2_VPID, VMX_HAVE_VPID, "VPID" },
	{ VMX_PROC2, NEED_ON, PROC2_UNRESTRICTED, 0, "unrestricted guest" },
	{ VMX_PROC2, WANT_ON, PROC2_RDTSCP, 0, "RDTSCP" },
	{ VMX_PROC2, WANT_ON, PROC2_INVPCID, 0, "INVPCID" },
	{ VMX_EXIT, NEED_ON, EXIT_HOST_64, 0, "64-bit host" },
	/* DR7 and DEBUGCTL are the guest's from the VMCS, the host's are clean after an exit. */
	{ VMX_EXIT, NEED_ON, EXIT_SAVE_DEBUG, 0, "debug-control saving on exit" },
	{ VMX_EXIT, NEED_ON, EXIT_ACK_INTR, 0, "acknowledge interrupt on exit" },
	{ VMX_EXIT, NEED_ON, EXIT_SAVE_PAT | EXIT_LOAD_PAT, 0, "PAT switching on exit" },
	{ VMX_EXIT, NEED_ON, EXIT_SAVE_EFER | EXIT_LOAD_EFER, 0, "EFER switching on exit" },
	{ VMX_ENTRY, NEED_AVAILABLE, ENTRY_IA32E, 0, "IA-32e mode guest" },
	{ VMX_ENTRY, NEED_ON, ENTRY_LOAD_DEBUG, 0, "debug-control loading on entry" },
	{ VMX_ENTRY, NEED_ON, ENTRY_LOAD_PAT | ENTRY_LOAD_EFER, 0,
	  "PAT and EFER loading on entry" },
};

/* EPT capabilities (IA32_VMX_EPT_VPID_CAP): the pair's EPT needs these. */
static const struct {
	u64 bit;
	bool required;
	u32 have;
	const char *name;
} vmx_ept_table[] = {
	{ EPT_CAP_WB, true, 0, "EPT write-back memory type" },
	{ EPT_CAP_WALK_4, true, 0, "EPT 4-level walk" },
	{ EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE, true, 0, "INVEPT single-context" },
	{ EPT_CAP_2M, false, VMX_HAVE_EPT_2M, "EPT 2M pages" },
	{ EPT_CAP_1G, false, VMX_HAVE_EPT_1G, "EPT 1G pages" },
	{ EPT_CAP_AD, false, VMX_HAVE_EPT_AD, "EPT A/D bits" },
};

/* Appends @name to the comma-separated list @buf. */
static void note(char buf[VMX_WHY_MAX], const char *name)
{
	size_t n = strlen(buf);

	snprintf(buf + n, VMX_WHY_MAX - n, "%s%s", n ? ", " : "", name);
}

int vmx_config_decide(const struct vmx_caps *caps, struct vmx_config *cfg,
		      char missing[VMX_WHY_MAX], char dropped[VMX_WHY_MAX])
{
	missing[0] = dropped[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));

	if (VMX_BASIC_MEMTYPE(caps->basic) != EPTP_MT_WB)
		note(missing, "write-back VMCS");
	if (caps->basic & VMX_BASIC_32BIT_ADDR)
		note(missing, "64-bit VMCS addresses");
	for (unsigned c = 0; c < VMX_CLASSES; c++)
		cfg->ctls[c] = (u32)caps->ctls[c]; /* the must-be-1 bits */

	for (unsigned i = 0; i < ARRAY_SIZE(vmx_ctl_table); i++) {
		const struct vmx_ctl_want *w = &vmx_ctl_table[i];
		u32 allowed = caps->ctls[w->cls] >> 32;
		bool ok = (allowed & w->bit) == w->bit;

		/* Secondary controls exist only when the primary control that enables them does. */
		if (w->cls == VMX_PROC2 && !(caps->ctls[VMX_PROC] & ((u64)PROC_SECONDARY << 32)))
			ok = false;
		if (!ok) {
			note(w->need == WANT_ON ? dropped : missing, w->name);
			continue;
		}
		if (w->need != NEED_AVAILABLE)
			cfg->ctls[w->cls] |= w->bit;
		cfg->have |= w->have;
	}
	/* Without a TPR shadow, CR8 accesses must exit so the guest never writes the host's TPR. */
	if (!(cfg->have & VMX_HAVE_TPR_SHADOW)) {
		u32 cr8 = PROC_CR8_LOAD | PROC_CR8_STORE;

		if (((caps->ctls[VMX_PROC] >> 32) & cr8) == cr8)
			cfg->ctls[VMX_PROC] |= cr8;
		else
			note(missing, "CR8 exiting or a TPR shadow");
	}
	/* Virtual NMIs track the guest's NMI blocking; the window exit says when it ends. */
	if ((cfg->ctls[VMX_PIN] & PIN_VIRTUAL_NMIS) &&
	    ((caps->ctls[VMX_PROC] >> 32) & PROC_NMI_WINDOW)) {
		cfg->have |= VMX_HAVE_VNMI;
	} else if ((cfg->ctls[VMX_PIN] & PIN_VIRTUAL_NMIS) &&
		   !((u32)caps->ctls[VMX_PIN] & PIN_VIRTUAL_NMIS)) {
		cfg->ctls[VMX_PIN] &= ~PIN_VIRTUAL_NMIS;
		note(dropped, "virtual NMIs (no NMI-window exiting)");
	}
	/* The backend handles no CR3 exit: EPT guests own their CR3. */
	if ((u32)caps->ctls[VMX_PROC] & (PROC_CR3_LOAD | PROC_CR3_STORE))
		note(missing, "CR3 accesses without exits");

	for (unsigned i = 0; i < ARRAY_SIZE(vmx_ept_table); i++) {
		if ((caps->ept_vpid & vmx_ept_table[i].bit) == vmx_ept_table[i].bit)
			cfg->have |= vmx_ept_table[i].have;
		else
			note(vmx_ept_table[i].required ? missing : dropped, vmx_ept_table[i].name);
	}
	cfg->preempt_shift = VMX_MISC_PREEMPT_SHIFT(caps->misc);
	return missing[0] ? -ENODEV : 0;
}

void vmx_caps_read(struct vmx_caps *caps)
{
	static const u32 plain[VMX_CLASSES] = {
		[VMX_PIN] = MSR_VMX_PINBASED_CTLS,     [VMX_PROC] = MSR_VMX_PROCBASED_CTLS,
		[VMX_PROC2] = MSR_VMX_PROCBASED_CTLS2, [VMX_EXIT] = MSR_VMX_EXIT_CTLS,
		[VMX_ENTRY] = MSR_VMX_ENTRY_CTLS,
	};
	static const u32 truectl[VMX_CLASSES] = {
		[VMX_PIN] = MSR_VMX_TRUE_PINBASED_CTLS, [VMX_PROC] = MSR_VMX_TRUE_PROCBASED_CTLS,
		[VMX_PROC2] = MSR_VMX_PROCBASED_CTLS2,	[VMX_EXIT] = MSR_VMX_TRUE_EXIT_CTLS,
		[VMX_ENTRY] = MSR_VMX_TRUE_ENTRY_CTLS,
	};

	memset(caps, 0, sizeof(*caps));
	caps->basic = rdmsr(MSR_VMX_BASIC);
	for (unsigned c = 0; c < VMX_CLASSES; c++) {
		if (c == VMX_PROC2 &&
		    !(rdmsr(MSR_VMX_PROCBASED_CTLS) & ((u64)PROC_SECONDARY << 32)))
			continue; /* the MSR itself may not exist */
		caps->ctls[c] = rdmsr((caps->basic & VMX_BASIC_TRUE_CTLS) ? truectl[c] : plain[c]);
	}
	caps->misc = rdmsr(MSR_VMX_MISC);
	caps->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	caps->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	caps->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	caps->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	if (caps->ctls[VMX_PROC2] >> 32 & (PROC2_EPT | PROC2_VPID))
		caps->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
}
