// SPDX-License-Identifier: MIT
/*
 * x86_64 registers of a stopped thread, dump side: PTRACE_GETREGSET with NT_PRSTATUS
 * (user_regs_struct, incl. fs_base/gs_base) and NT_X86_XSTATE (the xsave area in the
 * kernel's standard, non-compacted layout; component offsets from CPUID leaf 0xD).
 */
#include <cpuid.h>
#include <elf.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#define LOG_PREFIX "regs: "
#include "log.h"
#include "dtask.h"
#include "arch-regs.h"

#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#define FXSAVE_SIZE 512
#define XSAVE_HDR_OFF 512

int arch_get_regs(pid_t pid, struct arch_regs *r)
{
	struct iovec iov = { &r->gp, sizeof(r->gp) };

	if (ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov)) {
		pr_perror("cannot read the registers of %d", pid);
		return -errno;
	}
	return 0;
}

int arch_set_regs(pid_t pid, const struct arch_regs *r)
{
	struct iovec iov = { (void *)&r->gp, sizeof(r->gp) };

	if (ptrace(PTRACE_SETREGSET, pid, NT_PRSTATUS, &iov)) {
		pr_perror("cannot set the registers of %d", pid);
		return -errno;
	}
	return 0;
}

void arch_inject_setup(struct arch_regs *r, uint64_t ip, long nr, const uint64_t args[6])
{
	r->gp.rip = ip;
	r->gp.rax = nr;
	r->gp.orig_rax = (uint64_t)-1;	/* not in a syscall: no restart handling on resume */
	r->gp.rdi = args[0];
	r->gp.rsi = args[1];
	r->gp.rdx = args[2];
	r->gp.r10 = args[3];
	r->gp.r8 = args[4];
	r->gp.r9 = args[5];
}

long arch_syscall_ret(const struct arch_regs *r)
{
	return (long)r->gp.rax;
}

uint64_t arch_ip(const struct arch_regs *r)
{
	return r->gp.rip;
}

/* A thread stopped in a restartable syscall is saved so that it re-executes it. */
static void restart_fixup(struct user_regs_struct *g)
{
	if ((long)g->orig_rax < 0)
		return;
	switch ((long)g->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		g->rax = g->orig_rax;
		g->rip -= 2;
		break;
	case -ERESTART_RESTARTBLOCK:
		g->rax = (uint64_t)-EINTR;
		break;
	}
}

static UserX86RegsEntry *gpregs_entry(struct dtask *t, const struct arch_regs *regs)
{
	UserX86RegsEntry *e = dtask_alloc(t, sizeof(*e));
	struct user_regs_struct g = regs->gp;

	if (!e)
		return NULL;
	user_x86_regs_entry__init(e);
	restart_fixup(&g);
	e->r15 = g.r15, e->r14 = g.r14, e->r13 = g.r13, e->r12 = g.r12;
	e->bp = g.rbp, e->bx = g.rbx, e->r11 = g.r11, e->r10 = g.r10;
	e->r9 = g.r9, e->r8 = g.r8, e->ax = g.rax, e->cx = g.rcx;
	e->dx = g.rdx, e->si = g.rsi, e->di = g.rdi, e->orig_ax = g.orig_rax;
	e->ip = g.rip, e->cs = g.cs, e->flags = g.eflags, e->sp = g.rsp;
	e->ss = g.ss, e->fs_base = g.fs_base, e->gs_base = g.gs_base;
	e->ds = g.ds, e->es = g.es, e->fs = g.fs, e->gs = g.gs;
	e->has_mode = 1;
	e->mode = USER_X86_REGS_MODE__NATIVE;
	return e;
}

/* xsave components ferry saves: CPUID 0xD index, proto field, bytes kept */
enum { XC_YMM = 2, XC_BNDREGS = 3, XC_BNDCSR = 4, XC_OPMASK = 5, XC_ZMM_HI256 = 6,
       XC_HI16_ZMM = 7, XC_PKRU = 9 };

static uint64_t xfeatures_supported(void)
{
	unsigned int a, b, c, d;

	__cpuid_count(0xd, 0, a, b, c, d);
	return a | (uint64_t)d << 32;
}

/* Copy a component's first len bytes out of the UABI xsave buffer, NULL if absent. */
static void *xcomp(struct dtask *t, const uint8_t *buf, size_t buflen, int idx, size_t len)
{
	unsigned int size, off, c, d;
	void *p;

	if (!(xfeatures_supported() & (1ULL << idx)))
		return NULL;
	__cpuid_count(0xd, idx, size, off, c, d);
	if (len > size || off + len > buflen)
		return NULL;
	p = dtask_alloc(t, len);
	if (p)
		memcpy(p, buf + off, len);
	return p;
}

#define XCOMP(field, idx, n)                                                                    \
	do {                                                                                    \
		x->field = xcomp(t, buf, len, idx, (n) * sizeof(*x->field));                    \
		x->n_##field = x->field ? (n) : 0;                                              \
	} while (0)

static UserX86XsaveEntry *xsave_entry(struct dtask *t, const uint8_t *buf, size_t len)
{
	UserX86XsaveEntry *x = dtask_alloc(t, sizeof(*x));

	if (!x)
		return NULL;
	user_x86_xsave_entry__init(x);
	memcpy(&x->xstate_bv, buf + XSAVE_HDR_OFF, sizeof(x->xstate_bv));
	XCOMP(ymmh_space, XC_YMM, 64);
	XCOMP(bndreg_state, XC_BNDREGS, 8);
	XCOMP(bndcsr_state, XC_BNDCSR, 2);
	XCOMP(opmask_reg, XC_OPMASK, 8);
	XCOMP(zmm_upper, XC_ZMM_HI256, 64);
	XCOMP(hi16_zmm, XC_HI16_ZMM, 128);
	XCOMP(pkru, XC_PKRU, 1);
	return x;
}

static uint32_t *words(struct dtask *t, const void *src, size_t n)
{
	uint32_t *p = dtask_alloc(t, n * 4);

	if (p)
		memcpy(p, src, n * 4);
	return p;
}

static UserX86FpregsEntry *fpregs_entry(struct dtask *t, const uint8_t *buf, size_t len)
{
	const struct user_fpregs_struct *fx = (const void *)buf;
	UserX86FpregsEntry *f = dtask_alloc(t, sizeof(*f));

	if (!f)
		return NULL;
	user_x86_fpregs_entry__init(f);
	f->cwd = fx->cwd, f->swd = fx->swd, f->twd = fx->ftw, f->fop = fx->fop;
	f->rip = fx->rip, f->rdp = fx->rdp, f->mxcsr = fx->mxcsr, f->mxcsr_mask = fx->mxcr_mask;
	f->n_st_space = 32, f->st_space = words(t, fx->st_space, 32);
	f->n_xmm_space = 64, f->xmm_space = words(t, fx->xmm_space, 64);
	f->n_padding = 24, f->padding = words(t, fx->padding, 24);
	if (!f->st_space || !f->xmm_space || !f->padding)
		return NULL;
	if (len > XSAVE_HDR_OFF + 8) {
		f->xsave = xsave_entry(t, buf, len);
		if (!f->xsave)
			return NULL;
	}
	return f;
}

static int read_xstate(struct dtask *t, pid_t tid, uint8_t **buf, size_t *len)
{
	unsigned int a, b, c, d;
	struct iovec iov;

	__cpuid_count(0xd, 0, a, b, c, d);
	iov.iov_len = c > FXSAVE_SIZE ? c : FXSAVE_SIZE;
	iov.iov_base = dtask_alloc(t, iov.iov_len);
	if (!iov.iov_base)
		return -ENOMEM;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		iov.iov_len = FXSAVE_SIZE;
		if (ptrace(PTRACE_GETREGSET, tid, NT_PRFPREG, &iov)) {
			pr_perror("cannot read the FPU state of %d", tid);
			return -errno;
		}
	}
	*buf = iov.iov_base;
	*len = iov.iov_len;
	return 0;
}

int arch_dump_regs(struct dtask *t, pid_t tid, const struct arch_regs *regs,
		   ThreadInfoX86 **out)
{
	ThreadInfoX86 *ti = dtask_alloc(t, sizeof(*ti));
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (!ti)
		return -ENOMEM;
	thread_info_x86__init(ti);
	ret = read_xstate(t, tid, &buf, &len);
	if (ret)
		return ret;
	ti->gpregs = gpregs_entry(t, regs);
	ti->fpregs = fpregs_entry(t, buf, len);
	if (!ti->gpregs || !ti->fpregs)
		return -ENOMEM;
	pr_debug("%d: ip %#lx sp %#lx, xsave %zu bytes", tid, ti->gpregs->ip, ti->gpregs->sp,
		 len);
	*out = ti;
	return 0;
}

int arch_dump_thread_info(struct dtask *t)
{
	return arch_dump_regs(t, t->pid, &t->regs, &t->ti);
}
