// SPDX-License-Identifier: MIT
/*
 * Dump side /proc parsers: /proc/PID/{stat,status,smaps,limits,auxv,fdinfo/N}. Field
 * positions follow proc(5) for Linux >= 3.5 (stat fields 45..52 need ptrace access).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "proc: "
#include "log.h"
#include "proc-parse.h"

ssize_t proc_read_file(pid_t pid, const char *name, char *buf, size_t size, bool quiet)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!quiet)
			pr_perror("cannot open %s", path);
		return -errno;
	}
	n = read(fd, buf, size - 1);
	if (n < 0) {
		if (!quiet)
			pr_perror("cannot read %s", path);
		n = -errno;
	} else {
		buf[n] = '\0';
	}
	close(fd);
	return n;
}

#define CHILDREN_MAX (64 << 10)	/* bytes of one children list */

static int add_kid(pid_t **kids, size_t *n, size_t *cap, long kid)
{
	if (*n == *cap) {
		size_t c = *cap * 2 + 64;
		pid_t *k = realloc(*kids, c * sizeof(**kids));

		if (!k)
			return -ENOMEM;
		*kids = k;
		*cap = c;
	}
	(*kids)[(*n)++] = kid;
	return 0;
}

int proc_read_children(pid_t pid, pid_t tid, bool quiet, pid_t **kids, size_t *n, size_t *cap)
{
	char name[64], *buf = malloc(CHILDREN_MAX), *p, *end;
	ssize_t len;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	snprintf(name, sizeof(name), "task/%d/children", tid);
	len = proc_read_file(pid, name, buf, CHILDREN_MAX, quiet);
	if (len < 0)
		ret = len;
	else if (len >= CHILDREN_MAX - 1) {
		pr_err("process %d: too many children to list", pid);
		ret = -E2BIG;
	}
	for (p = buf; !ret; p = end) {
		long kid = strtol(p, &end, 10);

		if (end == p)
			break;
		ret = add_kid(kids, n, cap, kid);
	}
	free(buf);
	return ret;
}

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char buf[2048], *p;
	ssize_t n;
	int got;

	n = proc_read_file(pid, "stat", buf, sizeof(buf), true);
	if (n < 0)
		return n;
	p = strrchr(buf, ')');	/* comm may hold spaces and parentheses */
	if (!p)
		goto bad;
	got = sscanf(p + 2, "%c %d %d %d %*d %*d %u %*u %*u %*u %*u %*u %*u %*d %*d %*d %ld %*d "
		     "%*d %" SCNu64 " %*u %*d %*u %" SCNu64 " %" SCNu64 " %" SCNu64 " %*u %*u %*u %*u %*u "
		     "%*u %*u %*u %*u %*d %*d %*u %*u %*u %*u %*d %" SCNu64 " %" SCNu64 " %" SCNu64
		     " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %d",
		     &st->state, &st->ppid, &st->pgid, &st->sid, &st->flags, &st->nice,
		     &st->start_time, &st->start_code, &st->end_code, &st->start_stack, &st->start_data,
		     &st->end_data, &st->start_brk, &st->arg_start, &st->arg_end, &st->env_start,
		     &st->env_end, &st->exit_code);
	if (got == 18)
		return 0;
bad:
	pr_err("cannot parse /proc/%d/stat", pid);
	return -EINVAL;
}

static int parse_groups(const char *s, struct proc_status *st)
{
	size_t cap = 0;
	char *end;

	for (;;) {
		unsigned long g = strtoul(s, &end, 10);

		if (end == s)
			return 0;
		if (st->n_groups == cap) {
			uint32_t *n = realloc(st->groups, (cap = cap * 2 + 16) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			st->groups = n;
		}
		st->groups[st->n_groups++] = g;
		s = end;
	}
}

static int status_line(const char *l, struct proc_status *s)
{
	if (!strncmp(l, "Uid:", 4))
		return sscanf(l + 4, "%u %u %u %u", &s->uid[0], &s->uid[1], &s->uid[2],
			      &s->uid[3]) == 4 ? 1 : -1;
	if (!strncmp(l, "Gid:", 4))
		return sscanf(l + 4, "%u %u %u %u", &s->gid[0], &s->gid[1], &s->gid[2],
			      &s->gid[3]) == 4 ? 1 : -1;
	if (!strncmp(l, "Groups:", 7))
		return parse_groups(l + 7, s) ? -1 : 1;
	if (sscanf(l, "SigPnd: %" SCNx64, &s->sig_pending) == 1 ||
	    sscanf(l, "ShdPnd: %" SCNx64, &s->sig_shared) == 1 ||
	    sscanf(l, "SigBlk: %" SCNx64, &s->sig_blocked) == 1 ||
	    sscanf(l, "Tgid: %d", &s->tgid) == 1)
		return 1;
	if (sscanf(l, "Threads: %d", &s->threads) == 1 || sscanf(l, "TracerPid: %d", &s->tracer)
	    == 1 || sscanf(l, "Umask: %o", &s->umask) == 1 || sscanf(l, "Seccomp: %d",
	    &s->seccomp) == 1)
		return 1;
	if (sscanf(l, "CapInh: %" SCNx64, &s->cap_inh) == 1 ||
	    sscanf(l, "CapPrm: %" SCNx64, &s->cap_prm) == 1 ||
	    sscanf(l, "CapEff: %" SCNx64, &s->cap_eff) == 1 ||
	    sscanf(l, "CapBnd: %" SCNx64, &s->cap_bnd) == 1)
		return 1;
	return 0;
}

int proc_read_status(pid_t pid, struct proc_status *s)
{
	char path[64], *line = NULL;
	size_t sz = 0;
	int ret = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->umask = ~0U;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &sz, f) > 0) {
		if (status_line(line, s) < 0) {
			pr_err("cannot parse %s: '%s'", path, line);
			ret = -EINVAL;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static int parse_vma_head(const char *l, struct proc_vma *v)
{
	int n = 0;

	if (sscanf(l, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &v->start,
		   &v->end, v->perms, &v->pgoff, &v->dev_maj, &v->dev_min, &v->ino, &n) < 7)
		return -1;
	snprintf(v->path, sizeof(v->path), "%s", l + n);
	v->path[strcspn(v->path, "\n")] = '\0';
	v->vmflags[0] = '\0';
	return 0;
}

int proc_parse_smaps(pid_t pid, int (*cb)(const struct proc_vma *v, void *arg), void *arg)
{
	struct proc_vma *v = malloc(sizeof(*v));
	char path[64], *line = NULL;
	bool have = false;
	size_t sz = 0;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f || !v) {
		ret = -errno;
		pr_perror("cannot open %s", path);
		goto out_free;
	}
	while (!ret && getline(&line, &sz, f) > 0) {
		if (line[0] >= 'A' && line[0] <= 'Z') {
			if (!strncmp(line, "VmFlags:", 8))
				snprintf(v->vmflags, sizeof(v->vmflags), "%s", line + 8);
			continue;
		}
		if (have)
			ret = cb(v, arg);
		if (!ret && parse_vma_head(line, v)) {
			pr_err("cannot parse %s: '%s'", path, line);
			ret = -EINVAL;
		}
		have = true;
	}
	if (!ret && have)
		ret = cb(v, arg);
	free(line);
	fclose(f);
out_free:
	free(v);
	return ret;
}

bool proc_vmflag(const struct proc_vma *v, const char *code)
{
	const char *p;

	for (p = v->vmflags; (p = strstr(p, code)); p += 2)
		if (p[-1] == ' ' && (p[2] == ' ' || p[2] == '\n' || !p[2]))
			return true;
	return false;
}

static uint64_t limit_val(const char *s)
{
	return !strcmp(s, "unlimited") ? UINT64_MAX : strtoull(s, NULL, 10);
}

/* The lines of /proc/PID/limits are in RLIMIT_* order; names take 25 columns. */
int proc_read_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS])
{
	char buf[4096], soft[32], hard[32], *l, *save = NULL;
	int i = -1;
	ssize_t n;

	n = proc_read_file(pid, "limits", buf, sizeof(buf), false);
	if (n < 0)
		return n;
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save), i++) {
		if (i < 0)
			continue;	/* the header */
		if (i >= PROC_NR_RLIMITS || strlen(l) < 26 ||
		    sscanf(l + 25, "%31s %31s", soft, hard) != 2)
			break;
		lim[i].cur = limit_val(soft);
		lim[i].max = limit_val(hard);
	}
	if (i != PROC_NR_RLIMITS) {
		pr_err("cannot parse /proc/%d/limits (line %d)", pid, i + 1);
		return -EINVAL;
	}
	return 0;
}

ssize_t proc_read_auxv(pid_t pid, uint64_t *words, size_t max)
{
	char buf[4096];
	ssize_t n, i;

	n = proc_read_file(pid, "auxv", buf, sizeof(buf), false);
	if (n < 0)
		return n;
	n /= sizeof(uint64_t);
	for (i = 0; i + 1 < n && (size_t)i + 1 < max; i += 2) {
		memcpy(&words[i], buf + i * 8, 16);
		if (words[i] == 0)
			return i + 2;
	}
	pr_err("/proc/%d/auxv has no AT_NULL within %zu words", pid, max);
	return -EINVAL;
}

int proc_read_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi)
{
	char name[32], buf[4096];
	const char *p;
	ssize_t n;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	n = proc_read_file(pid, name, buf, sizeof(buf), false);
	if (n < 0)
		return n;
	memset(fi, 0, sizeof(*fi));
	fi->mnt_id = -1;
	if (!(p = strstr(buf, "pos:")) || sscanf(p, "pos: %" SCNu64, &fi->pos) != 1 ||
	    !(p = strstr(buf, "flags:")) || sscanf(p, "flags: %o", &fi->flags) != 1) {
		pr_err("cannot parse /proc/%d/fdinfo/%d", pid, fd);
		return -EINVAL;
	}
	if ((p = strstr(buf, "mnt_id:")))
		sscanf(p, "mnt_id: %d", &fi->mnt_id);
	if ((p = strstr(buf, "ino:")))
		sscanf(p, "ino: %" SCNu64, &fi->ino);
	return 0;
}
