// SPDX-License-Identifier: MIT
/*
 * Signals, dump side: dispositions of signals 1..64 (injected rt_sigaction, read back
 * from the scratch page), the alternate stack (injected sigaltstack), and the queued
 * signals, private and shared, as raw siginfo from PTRACE_PEEKSIGINFO.
 */
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#define LOG_PREFIX "signals: "
#include "log.h"
#include "inject.h"
#include "mm-dump.h"

#define NSIG_MAX 64
#define SCR_SIGACTION 0
#define SCR_ALTSTACK 64
#define SIGINFO_SIZE 128
#define PEEK_BATCH 32

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static int dump_one_sigaction(struct dtask *t, int sig, SaEntry *e)
{
	struct ksigaction ka;
	long ret;
	int err;

	err = inject_syscall(t, SYS_rt_sigaction, &ret, sig, 0, t->scratch + SCR_SIGACTION, 8, 0,
			     0);
	if (!err && ret) {
		errno = -ret;
		pr_perror("rt_sigaction(%d) in process %d failed", sig, t->pid);
		err = ret;
	}
	if (!err)
		err = inject_scratch_read(t, SCR_SIGACTION, &ka, sizeof(ka));
	if (err)
		return err;
	sa_entry__init(e);
	e->sigaction = ka.handler;
	e->flags = ka.flags;
	e->restorer = ka.restorer;
	e->mask = ka.mask;
	return 0;
}

static int dump_altstack(struct dtask *t)
{
	ThreadSasEntry *sas = dtask_alloc(t, sizeof(*sas));
	stack_t ss;
	long ret;
	int err;

	if (!sas)
		return -ENOMEM;
	err = inject_syscall(t, SYS_sigaltstack, &ret, 0, t->scratch + SCR_ALTSTACK, 0, 0, 0, 0);
	if (!err && ret) {
		errno = -ret;
		pr_perror("sigaltstack in process %d failed", t->pid);
		err = ret;
	}
	if (!err)
		err = inject_scratch_read(t, SCR_ALTSTACK, &ss, sizeof(ss));
	if (err)
		return err;
	thread_sas_entry__init(sas);
	sas->ss_sp = (uintptr_t)ss.ss_sp;
	sas->ss_size = ss.ss_size;
	sas->ss_flags = ss.ss_flags;
	t->thc.sas = sas;
	return 0;
}

int sigact_dump_inject(struct dtask *t)
{
	SaEntry *sa = dtask_alloc(t, NSIG_MAX * sizeof(*sa));
	SaEntry **pp = dtask_alloc(t, NSIG_MAX * sizeof(*pp));
	size_t n = 0;
	int sig, ret;

	if (!sa || !pp)
		return -ENOMEM;
	for (sig = 1; sig <= NSIG_MAX; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ret = dump_one_sigaction(t, sig, &sa[n]);
		if (ret)
			return ret;
		pp[n] = &sa[n];
		n++;
	}
	t->tc.sigactions = pp;
	t->tc.n_sigactions = n;
	return dump_altstack(t);
}

static int add_siginfo(struct dtask *t, SignalQueueEntry *q, const uint8_t *si)
{
	SiginfoEntry *e = dtask_alloc(t, sizeof(*e));
	uint8_t *data = dtask_alloc(t, SIGINFO_SIZE);
	size_t cap = q->n_signals;

	if (!e || !data || dtask_grow(t, &q->signals, q->n_signals, &cap, sizeof(*q->signals)))
		return -ENOMEM;
	siginfo_entry__init(e);
	memcpy(data, si, SIGINFO_SIZE);
	e->siginfo.data = data;
	e->siginfo.len = SIGINFO_SIZE;
	q->signals[q->n_signals++] = e;
	return 0;
}

SignalQueueEntry *sigact_dump_queue(struct dtask *t, pid_t tid, unsigned int flags)
{
	SignalQueueEntry *q = dtask_alloc(t, sizeof(*q));
	static uint8_t buf[PEEK_BATCH * SIGINFO_SIZE];
	struct __ptrace_peeksiginfo_args a = { 0, flags, PEEK_BATCH };
	long n, i;

	if (!q)
		return NULL;
	signal_queue_entry__init(q);
	for (;;) {
		n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, buf);
		if (n < 0) {
			pr_perror("cannot read the pending signals of %d", tid);
			return NULL;
		}
		if (n == 0)
			return q;
		for (i = 0; i < n; i++)
			if (add_siginfo(t, q, buf + i * SIGINFO_SIZE))
				return NULL;
		a.off += n;
	}
}

int sigact_dump_pending(struct dtask *t)
{
	t->thc.signals_p = sigact_dump_queue(t, t->pid, 0);
	t->tc.signals_s = sigact_dump_queue(t, t->pid, PTRACE_PEEKSIGINFO_SHARED);
	if (!t->thc.signals_p || !t->tc.signals_s)
		return -EIO;
	if (t->thc.signals_p->n_signals || t->tc.signals_s->n_signals)
		pr_info("%d: %zu private and %zu shared pending signals", t->pid,
			t->thc.signals_p->n_signals, t->tc.signals_s->n_signals);
	return 0;
}
