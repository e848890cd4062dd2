// SPDX-License-Identifier: MIT
/*
 * Credentials, dump side, of the leader or any thread: uids/gids (real, effective, saved,
 * fs) and groups from /proc/TID/status, permitted/effective/inheritable capabilities through libcap
 * (cap_get_pid), the bounding set from status, securebits from an injected
 * prctl(PR_GET_SECUREBITS). Capability sets are stored as two 32-bit words, low first.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define LOG_PREFIX "creds: "
#include "log.h"
#include "inject.h"
#include "mm-dump.h"

static uint32_t *cap_words(struct dtask *t, uint64_t mask)
{
	uint32_t *w = dtask_alloc(t, 2 * sizeof(*w));

	if (w) {
		w[0] = (uint32_t)mask;
		w[1] = mask >> 32;
	}
	return w;
}

static uint64_t cap_mask(cap_t caps, cap_flag_t which)
{
	int i, n = cap_max_bits();
	uint64_t mask = 0;
	cap_flag_value_t v;

	for (i = 0; i < n && i < 64; i++)
		if (!cap_get_flag(caps, i, which, &v) && v == CAP_SET)
			mask |= 1ULL << i;
	return mask;
}

static int fill_caps(struct dtask *t, pid_t tid, CredsEntry *c, const struct proc_status *s)
{
	cap_t caps = cap_get_pid(tid);

	if (!caps) {
		pr_perror("cannot read the capabilities of %d", tid);
		return -errno;
	}
	c->cap_inh = cap_words(t, cap_mask(caps, CAP_INHERITABLE));
	c->cap_prm = cap_words(t, cap_mask(caps, CAP_PERMITTED));
	c->cap_eff = cap_words(t, cap_mask(caps, CAP_EFFECTIVE));
	c->cap_bnd = cap_words(t, s->cap_bnd);
	cap_free(caps);
	if (!c->cap_inh || !c->cap_prm || !c->cap_eff || !c->cap_bnd)
		return -ENOMEM;
	c->n_cap_inh = c->n_cap_prm = c->n_cap_eff = c->n_cap_bnd = 2;
	return 0;
}

int creds_dump(struct dtask *t, const struct proc_status *s)
{
	return creds_dump_tid(t, t->pid, s, t->thc.creds);
}

int creds_dump_tid(struct dtask *t, pid_t tid, const struct proc_status *s, CredsEntry *c)
{
	c->uid = s->uid[0], c->euid = s->uid[1], c->suid = s->uid[2], c->fsuid = s->uid[3];
	c->gid = s->gid[0], c->egid = s->gid[1], c->sgid = s->gid[2], c->fsgid = s->gid[3];
	if (s->n_groups) {
		c->groups = dtask_alloc(t, s->n_groups * sizeof(*c->groups));
		if (!c->groups)
			return -ENOMEM;
		memcpy(c->groups, s->groups, s->n_groups * sizeof(*c->groups));
		c->n_groups = s->n_groups;
	}
	return fill_caps(t, tid, c, s);
}

/* Allocates thread_core.creds: call before creds_dump(). */
int creds_dump_inject(struct dtask *t)
{
	CredsEntry *c = dtask_alloc(t, sizeof(*c));
	long bits;
	int ret;

	if (!c)
		return -ENOMEM;
	creds_entry__init(c);
	ret = inject_syscall(t, SYS_prctl, &bits, PR_GET_SECUREBITS, 0, 0, 0, 0, 0);
	if (ret)
		return ret;
	if (bits < 0) {
		errno = -bits;
		pr_perror("prctl(PR_GET_SECUREBITS) in process %d failed", t->pid);
		return bits;
	}
	c->secbits = bits;
	t->thc.creds = c;
	return 0;
}
