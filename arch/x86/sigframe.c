// SPDX-License-Identifier: MIT
/*
 * Restore side of x86_64 registers: builds the rt_sigframe that rt_sigreturn(2) consumes,
 * from the gpregs/fpregs/xsave of a core image. Component offsets and the signal xstate
 * size come from CPUID leaf 0xD and XCR0 of this CPU, as the kernel's own frames do.
 */
#include <cpuid.h>
#include <stdint.h>
#include <string.h>

#define LOG_PREFIX "sigframe: "
#include "log.h"
#include "sigframe.h"

struct x_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct x_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

struct x_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct x_stack uc_stack;
	struct x_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct x_rt_sigframe {
	uint64_t pretcode;
	struct x_ucontext uc;
	uint8_t info[128];
};

struct x_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define FXSAVE_SIZE 512
#define XSAVE_HDR_OFF 512
#define XSAVE_MAX 16384

_Static_assert(sizeof(struct x_sigcontext) == 256, "sigcontext layout");
_Static_assert(sizeof(struct x_ucontext) == 304, "ucontext layout");
_Static_assert(sizeof(struct x_sw_bytes) == 48, "sw_reserved layout");

size_t sigframe_size(void)
{
	return sizeof(struct x_rt_sigframe) + 64 + XSAVE_MAX + 64;
}

/* XCR0, or x87|SSE on a CPU without OSXSAVE (xgetbv would be SIGILL there) */
static uint64_t xcr0(void)
{
	uint32_t lo, hi, a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1U << 27)))
		return 3;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* Copy one repeated field into component nr of the standard-format xsave area. */
static void put_comp(uint8_t *xs, uint32_t size, int nr, const void *src, size_t len,
		     uint64_t *bv)
{
	uint32_t a, b, c, d;

	if (!len || !(xcr0() & (1ULL << nr)))
		return;
	__cpuid_count(0xd, nr, a, b, c, d);
	if (!a || b + a > size)
		return;
	memcpy(xs + b, src, len < a ? len : a);
	*bv |= 1ULL << nr;
}

static int put_legacy(uint8_t *xs, const UserX86FpregsEntry *fp)
{
	if (fp->n_st_space != 32 || fp->n_xmm_space != 64) {
		pr_err("fpregs: st_space has %zu words and xmm_space %zu (expected 32 and 64)",
		       fp->n_st_space, fp->n_xmm_space);
		return -EINVAL;
	}
	*(uint16_t *)(xs + 0) = fp->cwd;
	*(uint16_t *)(xs + 2) = fp->swd;
	*(uint16_t *)(xs + 4) = fp->twd;
	*(uint16_t *)(xs + 6) = fp->fop;
	*(uint64_t *)(xs + 8) = fp->rip;
	*(uint64_t *)(xs + 16) = fp->rdp;
	*(uint32_t *)(xs + 24) = fp->mxcsr & (fp->mxcsr_mask ? fp->mxcsr_mask : 0xffbf);
	*(uint32_t *)(xs + 28) = fp->mxcsr_mask;
	memcpy(xs + 32, fp->st_space, 128);
	memcpy(xs + 160, fp->xmm_space, 256);
	return 0;
}

/*
 * The features a signal frame may carry: x87, SSE and the AVX/MPX/AVX-512/PKRU components
 * (0-7, 9). Dynamic features such as AMX tile data (17, 18) are left out: CPUID's total
 * size counts them, but the kernel rejects a frame larger than its signal xstate size and
 * would then fall back to restoring the legacy area only, losing the upper vector halves.
 */
#define SIGFRAME_XFEATURES 0x2ffULL

/* End of the highest component the frame carries, in the standard xsave layout. */
static uint32_t sigframe_xsave_size(void)
{
	uint64_t feats = xcr0() & SIGFRAME_XFEATURES;
	uint32_t size = FXSAVE_SIZE + 64, a, b, c, d;

	for (int nr = 2; nr < 64; nr++) {
		if (!(feats & (1ULL << nr)))
			continue;
		__cpuid_count(0xd, nr, a, b, c, d);
		if (a + b > size)
			size = a + b;
	}
	return size;
}

static int build_xsave(uint8_t *xs, const UserX86FpregsEntry *fp)
{
	const UserX86XsaveEntry *x = fp->xsave;
	uint32_t size = sigframe_xsave_size();
	struct x_sw_bytes sw = { 0 };
	uint64_t bv = 3;

	if (size < FXSAVE_SIZE + 64 || size > XSAVE_MAX - 4) {
		pr_err("unexpected xsave size %u from CPUID", size);
		return -EINVAL;
	}
	memset(xs, 0, size + 4);
	if (put_legacy(xs, fp))
		return -EINVAL;
	if (x) {
		put_comp(xs, size, 2, x->ymmh_space, x->n_ymmh_space * 4, &bv);
		put_comp(xs, size, 3, x->bndreg_state, x->n_bndreg_state * 8, &bv);
		put_comp(xs, size, 4, x->bndcsr_state, x->n_bndcsr_state * 8, &bv);
		put_comp(xs, size, 5, x->opmask_reg, x->n_opmask_reg * 8, &bv);
		put_comp(xs, size, 6, x->zmm_upper, x->n_zmm_upper * 8, &bv);
		put_comp(xs, size, 7, x->hi16_zmm, x->n_hi16_zmm * 8, &bv);
		put_comp(xs, size, 9, x->pkru, x->n_pkru * 4, &bv);
		bv &= x->xstate_bv | 3;
	}
	*(uint64_t *)(xs + XSAVE_HDR_OFF) = bv & xcr0() & SIGFRAME_XFEATURES;
	sw.magic1 = FP_XSTATE_MAGIC1;
	sw.xstate_size = size;
	sw.extended_size = size + 4;
	sw.xfeatures = xcr0() & SIGFRAME_XFEATURES;
	memcpy(xs + 464, &sw, sizeof(sw));
	*(uint32_t *)(xs + size) = FP_XSTATE_MAGIC2;
	return 0;
}

static void put_gpregs(struct x_sigcontext *sc, const UserX86RegsEntry *r)
{
	sc->r8 = r->r8;
	sc->r9 = r->r9;
	sc->r10 = r->r10;
	sc->r11 = r->r11;
	sc->r12 = r->r12;
	sc->r13 = r->r13;
	sc->r14 = r->r14;
	sc->r15 = r->r15;
	sc->di = r->di;
	sc->si = r->si;
	sc->bp = r->bp;
	sc->bx = r->bx;
	sc->dx = r->dx;
	sc->ax = r->ax;
	sc->cx = r->cx;
	sc->sp = r->sp;
	sc->ip = r->ip;
	sc->flags = r->flags;
	sc->cs = r->cs;
	sc->ss = r->ss;
}

int sigframe_build(void *buf, const ThreadInfoX86 *ti, uint64_t blocked,
		   const ThreadSasEntry *sas, unsigned long *rsp)
{
	uintptr_t base = ((uintptr_t)buf + 63) & ~63UL;
	struct x_rt_sigframe *f = (void *)base;
	uint8_t *xs = (uint8_t *)((base + sizeof(*f) + 63) & ~63UL);

	if (ti->gpregs->mode == USER_X86_REGS_MODE__COMPAT) {
		pr_err("32-bit (compat) tasks are not supported");
		return -EINVAL;
	}
	memset(f, 0, sizeof(*f));
	if (build_xsave(xs, ti->fpregs))
		return -EINVAL;
	put_gpregs(&f->uc.uc_mcontext, ti->gpregs);
	f->uc.uc_mcontext.fpstate = (uintptr_t)xs;
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f->uc.uc_sigmask = blocked;
	f->uc.uc_stack.ss_flags = 2; /* SS_DISABLE */
	if (sas) {
		f->uc.uc_stack.ss_sp = sas->ss_sp;
		f->uc.uc_stack.ss_size = sas->ss_size;
		f->uc.uc_stack.ss_flags = sas->ss_flags;
	}
	*rsp = (uintptr_t)&f->uc;
	return 0;
}
