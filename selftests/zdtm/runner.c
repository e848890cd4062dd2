// SPDX-License-Identifier: MIT
/*
 * ZDTM-style runner: starts each test program under this process (a child subreaper that
 * reaps at once), waits until it is ready, then drives `ferry dump` / `ferry restore -d`
 * around it and finally sends SIGTERM so that it checks its own state and says PASS/FAIL.
 * Also checks the images with crit and that restore leaves them unchanged. TAP output.
 *
 *   runner -f FERRY [-d TESTDIR] [-w WORKDIR] [-F dump,leave-running,restore-twice,vdso-proxy] [NAME...]
 *   runner -m selfcheck | -m corrupt [...]   check the test programs themselves, no ferry
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_FERRY, MODE_SELFCHECK, MODE_CORRUPT };

enum flavour {
	FL_DUMP = 1,		/* dump (task killed), restore */
	FL_LEAVE_RUNNING = 2,	/* dump -R, check it runs, kill it, restore */
	FL_RESTORE_TWICE = 4,	/* dump, restore, kill, restore again from the same images */
	FL_VDSO_PROXY = 8,	/* dump, restore as if the kernel's vDSO had changed (kexec) */
};

static const struct {
	enum flavour fl;
	const char *name;
} flavours[] = {
	{ FL_DUMP, "dump" },
	{ FL_LEAVE_RUNNING, "leave-running" },
	{ FL_RESTORE_TWICE, "restore-twice" },
	{ FL_VDSO_PROXY, "vdso-proxy" },
};

#define NR_FLAVOURS (int)(sizeof(flavours) / sizeof(flavours[0]))

struct opts {
	enum mode mode;
	const char *ferry;	/* absolute path */
	const char *testdir;
	const char *workdir;
	const char *crit;	/* NULL: not found */
	int flavours;
	int timeout;		/* seconds per step */
	int settle_ms;		/* let the task run before SIGTERM */
	int budget;		/* seconds for the whole suite, 0: no limit */
	bool keep;		/* keep the work dirs of passing runs */
	bool no_crit;		/* -C: do not decode the images */
	bool plumbing;		/* -P: ferry is the fake: tests needing real state are skipped */
};

/* One test program run in one flavour. */
struct run {
	const struct opts *o;
	const char *test;
	const char *label;	/* "dump", "selfcheck"... */
	char exe[PATH_MAX];
	char wd[PATH_MAX];	/* work dir: .out, ready, logs, img/ */
	char img[PATH_MAX + 8];
	char out[PATH_MAX + 8];
	char ready[PATH_MAX + 8];
	pid_t pid;
	unsigned long exp_addr;
	size_t exp_len;
	char dump_opt[64];	/* one extra `ferry dump` option the test asked for, or "" */
	bool skip;
	bool dump_fails;	/* the test says ferry must refuse to dump it */
	char dump_args[1024];	/* "dump-arg X" lines of the ready file, NUL-separated */
	int nr_dump_args;
	char why[1024];		/* first failure, or the skip reason */
	char notes[2048];	/* extra context shown on failure */
};

static int failf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->why[0]) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct run *r, const char *fmt, ...)
{
	size_t n = strlen(r->notes);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->notes + n, sizeof(r->notes) - n, fmt, ap);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- reaping: we are a subreaper; every exit is collected here at once --------------- */

#define REAPED_MAX 8192	/* a dumped tree of thousands is reaped here too */
static struct {
	pid_t pid;
	int status;
} reaped[REAPED_MAX];
static int nreaped;

static void reap_record(pid_t pid, int status)
{
	if (nreaped == REAPED_MAX) {
		memmove(reaped, reaped + 1, sizeof(reaped[0]) * (REAPED_MAX - 1));
		nreaped--;
	}
	reaped[nreaped].pid = pid;
	reaped[nreaped].status = status;
	nreaped++;
}

static bool reap_take(pid_t pid, int *status)
{
	int i;

	for (i = 0; i < nreaped; i++) {
		if (reaped[i].pid != pid)
			continue;
		*status = reaped[i].status;
		memmove(reaped + i, reaped + i + 1, sizeof(reaped[0]) * (nreaped - i - 1));
		nreaped--;
		return true;
	}
	return false;
}

/* Collect every exited child and orphan now; remembers their statuses. */
static void reap_all(void)
{
	int status;
	pid_t p;

	while ((p = waitpid(-1, &status, WNOHANG)) > 0)
		reap_record(p, status);
}

/* Wait up to timeout_ms for pid to exit; 0 and *status, or -1 if still running. */
static int reap_wait(pid_t pid, int timeout_ms, int *status)
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		reap_all();
		if (reap_take(pid, status))
			return 0;
		if (now_ms() >= end)
			return -1;
		sleep_ms(2);
	}
}

/* Forget earlier statuses of pid: a PID can be reused by the restored task. */
static void reap_forget(pid_t pid)
{
	int status;

	while (reap_take(pid, &status))
		;
}

/* pid and all its descendants, parents first (from /proc/PID/task/TID/children). */
static int list_tree(pid_t pid, pid_t *out, int n, int max)
{
	char path[96], buf[8192], *p, *end;
	struct dirent *de;
	int i = n, fd;
	ssize_t len;
	DIR *d;

	if (n >= max)
		return n;
	out[n++] = pid;
	for (; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task", out[i]);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", out[i],
				 de->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
			if (fd >= 0)
				close(fd);
			buf[len > 0 ? len : 0] = 0;
			for (p = buf; n < max; p = end) {
				long c = strtol(p, &end, 10);

				if (end == p)
					break;
				out[n++] = c;
			}
		}
		if (d)
			closedir(d);
	}
	return n;
}

/* Kill a test's whole tree (a restored tree is not one process group) and reap it. */
static void kill_and_reap(pid_t pid)
{
	static pid_t tree[4096];
	char path[64];
	int status, i, n;
	long long end;

	if (pid <= 0)
		return;
	reap_all();
	if (reap_take(pid, &status))
		return;
	/* stopped tasks fork no more: stop what we see until no new task shows up */
	for (i = 0, n = 1; i != n && n < 4096;) {
		i = n;
		n = list_tree(pid, tree, 0, 4096);
		for (int k = 0; k < n; k++)
			kill(tree[k], SIGSTOP);
		sleep_ms(1);
	}
	for (i = 0; i < n; i++)
		kill(tree[i], SIGKILL);
	reap_wait(pid, 5000, &status);
	/* the others are reparented to us: wait until their PIDs are free again */
	end = now_ms() + 5000;
	for (i = 1; i < n && now_ms() < end;) {
		snprintf(path, sizeof(path), "/proc/%d", tree[i]);
		reap_all();
		if (access(path, F_OK))
			i++;
		else
			sleep_ms(2);
	}
}

static const char *describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/* ---- files -------------------------------------------------------------------------- */

static char *read_text(const char *path, size_t max)
{
	char *buf = malloc(max + 1);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, max);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* Print the last `lines` lines of a file as TAP comments. */
static void show_file(const char *path, int lines)
{
	char *buf, *p, *start;
	struct stat st;
	size_t max = 256 << 10;
	int fd, n = 0;
	off_t off = 0;
	ssize_t len;

	if (stat(path, &st))
		return;
	buf = malloc(max + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_size > (off_t)max)
		off = st.st_size - max;
	len = pread(fd, buf, max, off);
	close(fd);
	buf[len > 0 ? len : 0] = 0;
	start = buf;
	for (p = buf + strlen(buf); p > buf; p--) {
		if (p[-1] == '\n' && p[0] && ++n > lines) {
			start = p;
			break;
		}
	}
	printf("# ---- %s%s\n", path, start != buf ? " (last lines)" : "");
	for (p = strtok(start, "\n"); p; p = strtok(NULL, "\n"))
		printf("#   %s\n", p);
	free(buf);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A 64-bit digest of every file of a directory (names, sizes, contents). */
static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int hash_dir(const char *dir, uint64_t *out)
{
	static unsigned char buf[1 << 20];
	struct dirent **names;
	uint64_t h = 0xcbf29ce484222325ULL;
	int i, n;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		ssize_t len;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		fd = names[i]->d_name[0] == '.' ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			h = hash_bytes(h, (unsigned char *)names[i]->d_name,
				       strlen(names[i]->d_name) + 1);
			while ((len = read(fd, buf, sizeof(buf))) > 0)
				h = hash_bytes(h, buf, len);
			close(fd);
		}
		free(names[i]);
	}
	free(names);
	*out = h;
	return 0;
}

/* ---- processes ---------------------------------------------------------------------- */

static void child_io(const char *in, const char *out)
{
	int fd;

	fd = open(in, O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	syscall(SYS_close_range, 3, ~0U, 0);
}

static void child_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Run a helper (ferry, crit) with output to outfile; returns its wait status or -1. */
static int run_cmd(struct run *r, char *const argv[], const char *outfile)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return failf(r, "fork: %m");
	if (pid == 0) {
		child_signals();
		child_io("/dev/null", outfile);
		execv(argv[0], argv);
		dprintf(2, "cannot run %s: %m\n", argv[0]);
		_exit(127);
	}
	if (reap_wait(pid, r->o->timeout * 1000, &status)) {
		kill(pid, SIGKILL);
		reap_wait(pid, 5000, &status);
		failf(r, "%s %s timed out after %d s", argv[0], argv[1], r->o->timeout);
		return -1;
	}
	return status;
}

static int start_test(struct run *r)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return failf(r, "fork: %m");
	if (pid == 0) {
		child_signals();
		setsid();
		if (chdir(r->wd))
			_exit(126);
		child_io("/dev/null", r->out);
		setenv("ZT_READY", r->ready, 1);
		execl(r->exe, r->test, (char *)NULL);
		dprintf(2, "cannot run %s: %m\n", r->exe);
		_exit(127);
	}
	r->pid = pid;
	return 0;
}

/* Whether name is one of the comma-separated words of list (which ends at a newline). */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name), n;

	while (*list && *list != '\n') {
		n = strcspn(list, ",\n");
		if (n == len && !strncmp(list, name, len))
			return true;
		list += n + (list[n] == ',');
	}
	return false;
}

/* Wait for the ready file; a test that exits first failed (or skipped: status 77). */
/* Extra arguments for ferry dump that the test asks for (zt_dump_arg). */
static void read_dump_args(struct run *r, const char *text)
{
	size_t used = 0;
	const char *p;

	r->nr_dump_args = 0;
	for (p = strstr(text, "\ndump-arg "); p && r->nr_dump_args < 8;
	     p = strstr(p + 1, "\ndump-arg ")) {
		size_t len = strcspn(p + 10, "\n");

		if (used + len + 1 > sizeof(r->dump_args))
			break;
		memcpy(r->dump_args + used, p + 10, len);
		r->dump_args[used + len] = 0;
		used += len + 1;
		r->nr_dump_args++;
	}
}

/* ferry dump -t PID -D IMG ... [test's extra arguments] [-R] */
static void dump_argv(struct run *r, char *pid, bool leave_running, char **argv)
{
	static const char *const base[] = { "dump", "-t", NULL, "-D", NULL, "-W", NULL,
					    "-v4", "-o", "dump.log" };
	const char *a = r->dump_args;
	int i, n = 0;

	argv[n++] = (char *)r->o->ferry;
	for (i = 0; i < (int)(sizeof(base) / sizeof(base[0])); i++)
		argv[n++] = (char *)base[i];
	argv[3] = pid, argv[5] = r->img, argv[7] = r->wd;
	for (i = 0; i < r->nr_dump_args; i++, a += strlen(a) + 1)
		argv[n++] = (char *)a;
	if (leave_running)
		argv[n++] = "-R";
	if (r->dump_opt[0])
		argv[n++] = r->dump_opt;
	argv[n] = NULL;
}

static int wait_ready(struct run *r)
{
	long long end = now_ms() + r->o->timeout * 1000LL;
	char desc[128], *text, *opt;
	int status, pid;

	r->dump_opt[0] = '\0';
	while (access(r->ready, F_OK)) {
		reap_all();
		if (reap_take(r->pid, &status)) {
			r->pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
				char *out = read_text(r->out, 512), *nl;

				r->skip = true;
				nl = strchr(out, '\n');
				if (nl)
					*nl = 0;
				snprintf(r->why, sizeof(r->why), "%s",
					 strstr(out, "SKIP: ") ? strstr(out, "SKIP: ") + 6 : out);
				free(out);
				return -1;
			}
			return failf(r, "the test %s before it was ready",
				     describe_status(status, desc, sizeof(desc)));
		}
		if (now_ms() > end)
			return failf(r, "the test was not ready after %d s", r->o->timeout);
		sleep_ms(5);
	}
	text = read_text(r->ready, 4096);
	if (sscanf(text, "pid %d\nexpose %lx %zu", &pid, &r->exp_addr, &r->exp_len) != 3 ||
	    pid != r->pid) {
		free(text);
		return failf(r, "bad ready file %s", r->ready);
	}
	r->dump_fails = strstr(text, "\ndump fails\n") != NULL;
	read_dump_args(r, text);
	opt = strstr(text, "\ndump-opt ");
	if (opt && sscanf(opt, "\ndump-opt %63s", r->dump_opt) == 1 && strncmp(r->dump_opt, "--", 2)) {
		free(text);
		return failf(r, "bad dump-opt in the ready file %s", r->ready);
	}
	opt = strstr(text, "\nonly-flavours ");
	if (opt && !in_list(opt + strlen("\nonly-flavours "),
			    r->o->plumbing ? "plumbing" : r->label)) {
		r->skip = true;
		snprintf(r->why, sizeof(r->why), "the test runs in flavours %.*s only",
			 (int)strcspn(opt + 15, "\n"), opt + 15);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* SIGTERM the task and collect its verdict from its exit status and .out file. */
static int finish_test(struct run *r, bool expect_pass)
{
	char desc[128], *out;
	int status, ret = 0;

	sleep_ms(r->o->settle_ms);
	if (kill(r->pid, SIGTERM))
		return failf(r, "cannot signal task %d: %m", r->pid);
	if (reap_wait(r->pid, r->o->timeout * 1000, &status)) {
		kill_and_reap(r->pid);
		r->pid = 0;
		return failf(r, "the test did not finish within %d s of SIGTERM", r->o->timeout);
	}
	r->pid = 0;
	out = read_text(r->out, 64 << 10);
	if (expect_pass) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) || !strstr(out, "PASS") ||
		    strstr(out, "FAIL"))
			ret = failf(r, "the test did not pass: it %s",
				    describe_status(status, desc, sizeof(desc)));
	} else {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(out, "FAIL"))
			ret = failf(r, "the damage was not detected: the test %s",
				    describe_status(status, desc, sizeof(desc)));
	}
	free(out);
	return ret;
}

/* ---- ferry steps -------------------------------------------------------------------- */

static int ferry_dump(struct run *r, bool leave_running)
{
	char pid[16], err[PATH_MAX + 32], desc[128], *argv[26];
	int status;

	snprintf(pid, sizeof(pid), "%d", r->pid);
	dump_argv(r, pid, leave_running, argv);
	snprintf(err, sizeof(err), "%s/dump.stderr", r->wd);
	status = run_cmd(r, argv, err);
	if (status < 0)
		return -1;
	if (status)
		return failf(r, "ferry dump %s", describe_status(status, desc, sizeof(desc)));
	return 0;
}

static int ferry_restore(struct run *r, const char *log)
{
	char pidfile[PATH_MAX + 16], err[PATH_MAX + 32], logname[64], desc[128], *text;
	char *argv[] = { (char *)r->o->ferry, "restore", "-D", r->img, "-W", r->wd, "-d", "-v4",
			 "-o", logname, "--pidfile", pidfile, NULL };
	int status;
	pid_t pid;

	snprintf(logname, sizeof(logname), "%s.log", log);
	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", r->wd, log);
	snprintf(err, sizeof(err), "%s/%s.stderr", r->wd, log);
	unlink(pidfile);
	reap_forget(r->pid);
	status = run_cmd(r, argv, err);
	if (status < 0)
		return -1;
	if (status)
		return failf(r, "ferry restore %s", describe_status(status, desc, sizeof(desc)));
	text = read_text(pidfile, 64);
	pid = atoi(text);
	free(text);
	if (pid != r->pid)
		return failf(r, "restored PID is %d (pidfile %s), the dumped task was %d", pid,
			     pidfile, r->pid);
	/* It must be alive and, through the subreaper, our child. */
	reap_all();
	if (reap_take(pid, &status)) {
		r->pid = 0;
		return failf(r, "the restored task %s right away",
			     describe_status(status, desc, sizeof(desc)));
	}
	if (waitpid(pid, &status, WNOHANG) < 0)
		return failf(r, "the restored task %d is not a child of the runner: %m", pid);
	return 0;
}

/* After a dump without -R, the task must be gone (killed); with -R, still running. */
static int check_after_dump(struct run *r, bool leave_running)
{
	char path[64], *stat, *p, desc[128];
	int status;

	if (!leave_running) {
		if (reap_wait(r->pid, 5000, &status))
			return failf(r, "the task is still alive 5 s after dump without -R");
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			note(r, "after the dump the task %s\n",
			     describe_status(status, desc, sizeof(desc)));
		return 0;
	}
	sleep_ms(100);
	reap_all();
	if (reap_take(r->pid, &status)) {
		r->pid = 0;
		return failf(r, "the task %s after dump -R",
			     describe_status(status, desc, sizeof(desc)));
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", r->pid);
	stat = read_text(path, 512);
	p = strrchr(stat, ')');
	if (!p || (p[2] != 'S' && p[2] != 'R')) {
		failf(r, "the task is not running after dump -R: state '%c'", p ? p[2] : '?');
		free(stat);
		return -1;
	}
	free(stat);
	return 0;
}

/*
 * Images of the whole tree, and those of the first few tasks of each kind (core-PID...):
 * crit takes ~70 ms per file, too long for each of a 100-process tree's 500 images.
 */
static bool sample_image(const char *name)
{
	static char kinds[16][32];
	static int counts[16], nkinds;
	const char *dash = strrchr(name, '-');
	size_t len = dash ? (size_t)(dash - name) : 0;
	int i;

	if (!name[0]) {	/* reset, for the next run */
		nkinds = 0;
		return false;
	}
	if (!dash || dash[1] < '0' || dash[1] > '9' || len >= sizeof(kinds[0]))
		return true;
	for (i = 0; i < nkinds && (strncmp(kinds[i], name, len) || kinds[i][len]); i++)
		;
	if (i == nkinds) {
		if (nkinds == 16)
			return true;
		snprintf(kinds[nkinds], sizeof(kinds[0]), "%.*s", (int)len, name);
		counts[nkinds++] = 0;
	}
	return counts[i]++ < 4;
}

/* The images decode with crit (see sample_image); `crit x DIR ps` lists the task. */
static int check_images(struct run *r)
{
	char path[PATH_MAX + 300], out[PATH_MAX + 300], desc[128], pid[16], *text;
	struct dirent **names;
	int i, n, status, ret = 0;

	if (!r->o->crit)
		return 0;
	n = scandir(r->img, &names, NULL, alphasort);
	if (n < 0)
		return failf(r, "cannot list %s: %m", r->img);
	sample_image("");
	for (i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		char *argv[] = { (char *)r->o->crit, "decode", "-i", path, "-o", out, NULL };

		if (f[0] == '.' || !strncmp(f, "pages-", 6) || ret || !sample_image(f)) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", r->img, f);
		snprintf(out, sizeof(out), "%s/crit-%s.json", r->wd, f);
		status = run_cmd(r, argv, out);
		if (status) {
			char *text = read_text(out, 400);

			ret = failf(r, "crit decode -i %s %s (output in %s)", path,
				    describe_status(status, desc, sizeof(desc)), out);
			note(r, "crit says: %s\n", text);
			free(text);
		}
		free(names[i]);
	}
	free(names);
	if (ret)
		return ret;
	{
		char *argv[] = { (char *)r->o->crit, "x", r->img, "ps", NULL };

		snprintf(out, sizeof(out), "%s/crit-ps.txt", r->wd);
		status = run_cmd(r, argv, out);
		if (status)
			return failf(r, "crit x %s ps %s (output in %s)", r->img,
				     describe_status(status, desc, sizeof(desc)), out);
		snprintf(pid, sizeof(pid), "%d", r->pid);
		text = read_text(out, 16 << 10);
		if (!strstr(text, pid))
			ret = failf(r, "crit x ps does not list PID %d (see %s)", r->pid, out);
		free(text);
	}
	return ret;
}

/* Dump failed: ferry promised the task keeps running untouched. Check, and say so. */
static void after_failed_dump(struct run *r)
{
	char desc[128], *out;
	int status;

	reap_all();
	if (reap_take(r->pid, &status)) {
		note(r, "after the failed dump the task %s\n",
		     describe_status(status, desc, sizeof(desc)));
		r->pid = 0;
		return;
	}
	if (kill(r->pid, SIGTERM) || reap_wait(r->pid, r->o->timeout * 1000, &status)) {
		note(r, "after the failed dump the task did not finish on SIGTERM\n");
		return;
	}
	r->pid = 0;
	out = read_text(r->out, 64 << 10);
	if (WIFEXITED(status) && !WEXITSTATUS(status) && strstr(out, "PASS"))
		note(r, "after the failed dump the task kept running and still passes its checks\n");
	else
		note(r, "after the failed dump the task fails its checks: the dump did damage\n");
	free(out);
}

/*
 * The test expects ferry to refuse the dump: it must fail, leave no images, and the
 * tree must go on and pass its checks (which look for stopped or traced tasks).
 */
static int flow_dump_fails(struct run *r, enum flavour fl)
{
	char pid[16], err[PATH_MAX + 32], path[PATH_MAX + 32], *argv[24];
	int status;

	if (fl != FL_DUMP && fl != FL_LEAVE_RUNNING) {
		r->skip = true;
		snprintf(r->why, sizeof(r->why), "the dump is meant to fail: nothing to restore");
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d", r->pid);
	dump_argv(r, pid, fl == FL_LEAVE_RUNNING, argv);
	snprintf(err, sizeof(err), "%s/dump.stderr", r->wd);
	mkdir(r->img, 0755);
	status = run_cmd(r, argv, err);
	if (status < 0)
		return -1;
	if (status == 0)
		return failf(r, "ferry dump succeeded, but the test expects it to refuse");
	snprintf(path, sizeof(path), "%s/inventory.img", r->img);
	if (!access(path, F_OK))
		return failf(r, "the failed dump left %s behind", path);
	reap_all();
	if (reap_take(r->pid, &status)) {
		r->pid = 0;
		return failf(r, "the root died after the failed dump");
	}
	return finish_test(r, true);
}

static int flow_ferry(struct run *r, enum flavour fl)
{
	uint64_t h0, h1;
	int ret;

	if (r->dump_fails)
		return flow_dump_fails(r, fl);

	if (ferry_dump(r, fl == FL_LEAVE_RUNNING)) {
		after_failed_dump(r);
		return -1;
	}
	if (check_after_dump(r, fl == FL_LEAVE_RUNNING))
		return -1;
	if (fl == FL_DUMP && check_images(r))
		return -1;
	if (fl == FL_LEAVE_RUNNING)
		kill_and_reap(r->pid);
	if (hash_dir(r->img, &h0))
		return failf(r, "cannot read the images in %s", r->img);
	/* ferry's test knob: re-link the saved vDSO to the current one, the kexec path */
	if (fl == FL_VDSO_PROXY)
		setenv("FERRY_VDSO_FORCE_PROXY", "1", 1);
	ret = ferry_restore(r, "restore");
	unsetenv("FERRY_VDSO_FORCE_PROXY");
	if (ret)
		return -1;
	if (fl == FL_RESTORE_TWICE) {
		sleep_ms(r->o->settle_ms);
		kill_and_reap(r->pid);
		if (hash_dir(r->img, &h1) || h1 != h0)
			return failf(r, "the first restore changed the images in %s", r->img);
		if (ferry_restore(r, "restore2"))
			return -1;
	}
	if (finish_test(r, true))
		return -1;
	if (hash_dir(r->img, &h1) || h1 != h0)
		return failf(r, "the restore changed the images in %s", r->img);
	return 0;
}

/* Self-test: damage the exposed region through /proc/PID/mem; the test must say FAIL. */
static int flow_corrupt(struct run *r)
{
	char path[64];
	unsigned char *buf;
	size_t i;
	int fd;

	if (!r->exp_len) {
		r->skip = true;
		snprintf(r->why, sizeof(r->why), "the test exposes no region to damage");
		kill_and_reap(r->pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", r->pid);
	buf = malloc(r->exp_len);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (!buf || fd < 0 || pread(fd, buf, r->exp_len, r->exp_addr) != (ssize_t)r->exp_len) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return failf(r, "cannot read %zu bytes at 0x%lx in %s: %m", r->exp_len, r->exp_addr,
			     path);
	}
	for (i = 0; i < r->exp_len; i++)
		buf[i] ^= 0x5a;
	if (pwrite(fd, buf, r->exp_len, r->exp_addr) != (ssize_t)r->exp_len) {
		free(buf);
		close(fd);
		return failf(r, "cannot write %s: %m", path);
	}
	free(buf);
	close(fd);
	return finish_test(r, false);
}

/* The logs of the latest step first: it is the one that failed, and CI cuts long output. */
static void show_failure(struct run *r)
{
	static const char *const logs[] = { "restore2.stderr", "restore2.log", "restore.stderr",
					    "restore.log",     "dump.stderr",  "dump.log" };
	char path[PATH_MAX + 32];
	size_t i;

	printf("#   %s\n", r->why);
	for (char *p = strtok(r->notes, "\n"); p; p = strtok(NULL, "\n"))
		printf("#   %s\n", p);
	show_file(r->out, 40);
	for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->wd, logs[i]);
		show_file(path, 40);
	}
	printf("#   work dir kept: %s\n", r->wd);
}

/* Run one test in one flavour; prints its TAP line. Returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct opts *o, const char *test, const char *label, int fl, int n)
{
	struct run *r = calloc(1, sizeof(*r));
	static long long start;
	int ret;

	if (!start)
		start = now_ms();
	if (o->budget && now_ms() - start > o->budget * 1000LL) {
		printf("not ok %d %s:%s\n#   not run: the suite's %d s budget is spent\n", n, test,
		       label, o->budget);
		free(r);
		return 1;
	}

	r->o = o;
	r->test = test;
	r->label = label;
	snprintf(r->exe, sizeof(r->exe), "%s/%s", o->testdir, test);
	snprintf(r->wd, sizeof(r->wd), "%s/%s.%s", o->workdir, test, label);
	snprintf(r->img, sizeof(r->img), "%s/img", r->wd);
	snprintf(r->out, sizeof(r->out), "%s/%s.out", r->wd, test);
	snprintf(r->ready, sizeof(r->ready), "%s/ready", r->wd);
	rm_tree(r->wd);
	/* world-writable: a test may drop its uid before it writes the ready file */
	if (mkdir(r->wd, 0777) || chmod(r->wd, 0777)) {
		ret = failf(r, "cannot create %s: %m", r->wd);
	} else {
		ret = start_test(r);
		if (!ret)
			ret = wait_ready(r);
		if (!ret && o->mode == MODE_SELFCHECK)
			ret = finish_test(r, true);
		else if (!ret && o->mode == MODE_CORRUPT)
			ret = flow_corrupt(r);
		else if (!ret)
			ret = flow_ferry(r, fl);
	}
	kill_and_reap(r->pid);
	reap_all();
	nreaped = 0;
	if (r->skip) {
		printf("ok %d %s:%s # SKIP %s\n", n, test, label, r->why);
		ret = 2;
	} else if (ret) {
		printf("not ok %d %s:%s\n", n, test, label);
		show_failure(r);
		ret = 1;
	} else {
		printf("ok %d %s:%s\n", n, test, label);
	}
	if (ret != 1 && !o->keep)
		rm_tree(r->wd);
	fflush(stdout);
	free(r);
	return ret;
}

/* ---- main --------------------------------------------------------------------------- */

static int is_test(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int list_tests(const char *dir, char ***tests)
{
	struct dirent **names;
	char path[PATH_MAX + 256];
	int i, n, k = 0;

	n = scandir(dir, &names, is_test, alphasort);
	if (n < 0)
		return -1;
	*tests = calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!stat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			(*tests)[k++] = strdup(names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return k;
}

static const char *find_in_path(const char *name)
{
	static char buf[PATH_MAX];
	const char *path = getenv("PATH");
	char *copy, *dir, *save;

	copy = strdup(path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, name);
		if (!access(buf, X_OK)) {
			free(copy);
			return buf;
		}
	}
	free(copy);
	return NULL;
}

static int parse_flavours(const char *s)
{
	char *copy = strdup(s), *tok, *save;
	int fl = 0;
	size_t i;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++)
			if (!strcmp(tok, flavours[i].name))
				fl |= flavours[i].fl;
		if (!strcmp(tok, "all"))
			fl |= FL_DUMP | FL_LEAVE_RUNNING | FL_RESTORE_TWICE;
	}
	free(copy);
	return fl;
}

static const char usage[] =
	"Usage: runner [OPTIONS] [TEST...]\n"
	"  -f FERRY    the ferry binary (required in the default mode)\n"
	"  -m MODE     ferry (default): dump and restore each test;\n"
	"              selfcheck: no ferry, SIGTERM after ready, expect PASS;\n"
	"              corrupt: damage the test's exposed memory, expect FAIL\n"
	"  -F LIST     flavours: dump,leave-running,restore-twice,vdso-proxy\n"
	"              (default: all)\n"
	"  -d DIR      test programs (default: the runner's dir/zdtm)\n"
	"  -w DIR      work dir root (default: /tmp/ferry-zdtm)\n"
	"  -T SECS     timeout of each step (default 60)\n"
	"  -B SECS     time budget of the whole suite: later runs fail unrun\n"
	"  -C          do not decode the images with crit\n"
	"  -P          plumbing: FERRY is the fake, which restarts tests afresh; a test that\n"
	"              names its flavours runs only if it names \"plumbing\"\n"
	"  -k          keep the work dirs of passing runs\n"
	"  -l          list the tests\n";

int main(int argc, char **argv)
{
	static char testdir[PATH_MAX], ferry[PATH_MAX], workdir[PATH_MAX];
	struct opts o = { .mode = MODE_FERRY, .timeout = 60, .settle_ms = 200,
			  .flavours = FL_DUMP | FL_LEAVE_RUNNING | FL_RESTORE_TWICE | FL_VDSO_PROXY };
	int c, i, j, ntests, counts[3] = { 0 }, planned = 0, n = 0;
	const char *td = NULL, *wd = "/tmp/ferry-zdtm";
	bool list = false;
	char **tests;

	while ((c = getopt(argc, argv, "f:m:F:d:w:T:B:CPklh")) != -1) {
		switch (c) {
		case 'f':
			if (!realpath(optarg, ferry)) {
				fprintf(stderr, "runner: no ferry at %s: %m\n", optarg);
				return 2;
			}
			o.ferry = ferry;
			break;
		case 'm':
			o.mode = !strcmp(optarg, "selfcheck") ? MODE_SELFCHECK :
				 !strcmp(optarg, "corrupt")   ? MODE_CORRUPT :
				 !strcmp(optarg, "ferry")     ? MODE_FERRY : -1;
			if ((int)o.mode < 0) {
				fprintf(stderr, "runner: unknown mode %s\n", optarg);
				return 2;
			}
			break;
		case 'F':
			o.flavours = parse_flavours(optarg);
			break;
		case 'd':
			td = optarg;
			break;
		case 'w':
			wd = optarg;
			break;
		case 'T':
			o.timeout = atoi(optarg) > 0 ? atoi(optarg) : 60;
			break;
		case 'B':
			o.budget = atoi(optarg);
			break;
		case 'P':
			o.plumbing = true;
			break;
		case 'C':
			o.no_crit = true;
			break;
		case 'k':
			o.keep = true;
			break;
		case 'l':
			list = true;
			break;
		default:
			fputs(usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!td) {
		char self[PATH_MAX - 8];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

		self[len > 0 ? len : 0] = 0;
		if (strrchr(self, '/'))
			*strrchr(self, '/') = 0;
		snprintf(testdir, sizeof(testdir), "%s/zdtm", self);
	} else if (!realpath(td, testdir)) {
		fprintf(stderr, "runner: no test dir %s: %m\n", td);
		return 2;
	}
	o.testdir = testdir;
	ntests = list_tests(testdir, &tests);
	if (ntests < 0) {
		fprintf(stderr, "runner: cannot list %s: %m\n", testdir);
		return 2;
	}
	if (list) {
		for (i = 0; i < ntests; i++)
			puts(tests[i]);
		return 0;
	}
	if (o.mode == MODE_FERRY && !o.ferry) {
		fprintf(stderr, "runner: which ferry? give -f FERRY\n");
		return 2;
	}
	if (o.mode == MODE_FERRY && !o.flavours) {
		fprintf(stderr, "runner: no known flavour in -F\n");
		return 2;
	}
	mkdir(wd, 0755);
	if (!realpath(wd, workdir)) {
		fprintf(stderr, "runner: no work dir %s: %m\n", wd);
		return 2;
	}
	o.workdir = workdir;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("runner: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	o.crit = o.no_crit ? NULL : find_in_path("crit");

	/* select the tests named on the command line, in the order given */
	if (optind < argc) {
		char **sel = calloc(argc - optind + 1, sizeof(char *));
		int k = 0;

		for (j = optind; j < argc; j++) {
			for (i = 0; i < ntests && strcmp(tests[i], argv[j]); i++)
				;
			if (i == ntests) {
				fprintf(stderr, "runner: no test named %s in %s\n", argv[j], testdir);
				return 2;
			}
			sel[k++] = tests[i];
		}
		tests = sel;
		ntests = k;
	}
	for (i = 0; i < ntests; i++)
		for (j = 0; j < NR_FLAVOURS; j++)
			planned += o.mode != MODE_FERRY ? (j == 0) : !!(o.flavours & flavours[j].fl);
	printf("TAP version 13\n1..%d\n", planned);
	if (o.mode == MODE_FERRY)
		printf("# ferry: %s\n", o.ferry);
	if (o.no_crit)
		printf("# -C: the images are not decoded with crit\n");
	else if (!o.crit)
		printf("# crit not found: the images are not decoded (install Debian's criu)\n");
	fflush(stdout);
	for (i = 0; i < ntests; i++) {
		if (o.mode != MODE_FERRY) {
			c = run_one(&o, tests[i], o.mode == MODE_SELFCHECK ? "selfcheck" : "corrupt",
				    0, ++n);
			counts[c]++;
			continue;
		}
		for (j = 0; j < NR_FLAVOURS; j++) {
			if (!(o.flavours & flavours[j].fl))
				continue;
			c = run_one(&o, tests[i], flavours[j].name, flavours[j].fl, ++n);
			counts[c]++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", counts[0], counts[1], counts[2]);
	return counts[1] ? 1 : 0;
}
