// SPDX-License-Identifier: MIT
/*
 * The switch-root guard. When systemd leaves its initrd for the real root it sends
 * SIGTERM, SIGCONT and (to tasks with a terminal) SIGHUP to every process except kernel
 * threads and root's processes whose argv[0] starts with '@', and then switches root.
 * Trees the initrd hook restored keep their own argv and would die there. The guard is
 * such an '@' process ("@ferry-guard"): it holds every thread of the restored trees
 * stopped (PTRACE_SEIZE + INTERRUPT) while the initrd ends, so that nothing can take a
 * signal, not even from a signalfd. Once PID 1's root is no longer the one it had, all
 * its signals are queued: the guard takes out of the queues what PID 1 sent (kill or
 * tgkill: si_code <= 0, si_pid 1), stops again what was stopped, lets the threads run
 * and exits, which detaches them. Other signals wait for the release, as for any
 * stopped task. Interfaces: ptrace (SEIZE, INTERRUPT, LISTEN, GETSIGINFO, PEEKSIGINFO,
 * GET/SETSIGMASK), /proc/PID/root and task/TID/children.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "ferry-guard: "
#include "log.h"
#include "cli.h"
#include "cgroup.h"
#include "guard.h"
#include "proc-parse.h"
#include "seize.h"

#define GUARD_PTRACE_OPTS                                                                        \
	(PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)
#define GUARD_TICK_MS 20	/* how often PID 1's root is looked at */
#define GUARD_STOPS_MS 2000	/* for every seized thread to report its stop */
#define GUARD_PURGE_MS 2000	/* for one purged signal's delivery-stop */
#define GUARD_RESTOP_MS 300	/* the SIGSTOPs of the release reach their group-stops */
#define GUARD_SEIZE_ROUNDS 100	/* rescans while the trees fork */

struct gthread {
	pid_t tid, tgid;
	bool restop;		/* its process was stopped: stopped again at the end */
	bool stopped;		/* in a ptrace-stop, held there till the release */
	bool purged;		/* init's signals taken out of its queues */
	int event;		/* the ptrace event of that stop (0: a signal's, or none) */
	int sig;		/* the signal of its signal-delivery-stop, delivered at the release */
	bool gone;
};

struct guard {
	struct gthread *thr;
	size_t n, cap, live;
	pid_t init;
	dev_t root_dev;		/* init's root when the guard started */
	ino_t root_ino;
	bool released;
	unsigned long dropped;
	const sigset_t *chld;
};

static uint64_t sigbit(int sig)
{
	return 1ULL << (sig - 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* /proc/TID/status, without the groups the guard has no use for. */
static int read_tstatus(pid_t tid, struct proc_status *s)
{
	int ret = proc_read_status(tid, s);

	free(s->groups);
	s->groups = NULL;
	return ret;
}

/* Stopped, or about to be: in group-stop, or a SIGSTOP queued (restore's detach). */
static bool was_stopped(pid_t tid)
{
	struct proc_stat st;
	struct proc_status s;

	if (!proc_read_stat(tid, &st) && (st.state == 'T' || st.state == 't'))
		return true;
	return !read_tstatus(tid, &s) && ((s.sig_pending | s.sig_shared) & sigbit(SIGSTOP));
}

static struct gthread *find_thread(struct guard *g, pid_t tid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->thr[i].tid == tid && !g->thr[i].gone)
			return &g->thr[i];
	return NULL;
}

static void thread_gone(struct guard *g, struct gthread *t)
{
	if (t && !t->gone) {
		t->gone = true;
		g->live--;
	}
}

static struct gthread *add_thread(struct guard *g, pid_t tid, pid_t tgid)
{
	struct gthread *t;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;

		t = realloc(g->thr, cap * sizeof(*t));
		if (!t) {
			pr_err("out of memory for %zu threads", cap);
			return NULL;
		}
		g->thr = t;
		g->cap = cap;
	}
	t = &g->thr[g->n++];
	*t = (struct gthread){ .tid = tid, .tgid = tgid };
	g->live++;
	return t;
}

/* Seize one thread and ask for its stop; one that exited meanwhile, or a zombie, is skipped. */
static int seize_thread(struct guard *g, pid_t tid, pid_t tgid, size_t *added)
{
	bool stopped = was_stopped(tid);
	struct proc_stat st;
	struct proc_status s;
	struct gthread *t;
	int err;

	if (find_thread(g, tid))
		return 0;
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)GUARD_PTRACE_OPTS) == 0) {
		/* its stop is collected by on_event */
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) && errno != ESRCH) {
			pr_perror("cannot stop thread %d of task %d", tid, tgid);
			return -errno;
		}
	} else {
		err = errno;
		if (err == ESRCH || proc_read_stat(tid, &st) || st.state == 'Z' || st.state == 'X')
			return 0;
		/* a new child or thread of one held already: attached by the kernel */
		if (err != EPERM || read_tstatus(tid, &s) || s.tracer != getpid()) {
			errno = err;
			pr_perror("cannot seize thread %d of task %d", tid, tgid);
			return -err;
		}
	}
	t = add_thread(g, tid, tgid);
	if (!t)
		return -ENOMEM;
	t->restop = stopped;
	(*added)++;
	return 0;
}

/* Every thread of pid (a zombie leader's live ones too), its children appended to kids. */
static int seize_process(struct guard *g, pid_t pid, pid_t **kids, size_t *nkids, size_t *cap,
			 size_t *added)
{
	struct dirent *de;
	char path[64];
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone */
	while (!ret && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		ret = seize_thread(g, tid, pid, added);
		if (ret)
			break;
		ret = proc_read_children(pid, tid, true, kids, nkids, cap);
		if (ret != -E2BIG && ret != -ENOMEM)
			ret = 0;	/* unreadable: the thread is gone */
	}
	closedir(d);
	return ret;
}

/* One pass over the trees, breadth first; *added counts the threads newly held. */
static int seize_pass(struct guard *g, const pid_t *roots, unsigned int n, size_t *added)
{
	size_t nkids = 0, cap = 0, i;
	pid_t *kids = NULL;
	int ret = 0;

	for (i = 0; !ret && i < n; i++)
		ret = seize_process(g, roots[i], &kids, &nkids, &cap, added);
	for (i = 0; !ret && i < nkids; i++)
		ret = seize_process(g, kids[i], &kids, &nkids, &cap, added);
	free(kids);
	return ret;
}

/* Until a pass finds no new thread: what forks meanwhile is caught by the next one. */
static int seize_all(struct guard *g, const pid_t *roots, unsigned int n)
{
	size_t added;
	int round = 0, ret;

	do {
		added = 0;
		ret = seize_pass(g, roots, n, &added);
	} while (!ret && added && ++round < GUARD_SEIZE_ROUNDS);
	if (!ret && added) {
		pr_err("the trees keep making new tasks: %d passes did not catch them all", round);
		ret = -EAGAIN;
	}
	return ret;
}

static int init_root(struct guard *g)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/root/", g->init);
	if (stat(path, &st)) {
		pr_perror("cannot look at the root of PID %d (%s)", g->init, path);
		return -errno;
	}
	g->root_dev = st.st_dev;
	g->root_ino = st.st_ino;
	return 0;
}

/* init's root changed (or init, or our /proc, is gone): its last signals are queued. */
static bool switched(const struct guard *g)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/root/", g->init);
	if (stat(path, &st))
		return errno == ENOENT || errno == ESRCH;
	return st.st_dev != g->root_dev || st.st_ino != g->root_ino;
}

static void resume(pid_t tid, int sig)
{
	if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig) && errno != ESRCH)
		pr_perror("cannot resume thread %d", tid);
}

static bool from_init(const struct guard *g, const siginfo_t *si)
{
	return si->si_code <= 0 && si->si_pid == g->init;
}

/* The signal of a signal-delivery-stop, to deliver at the release: 0 if init sent it. */
static int judge_signal(struct guard *g, pid_t tid, int sig)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) || !from_init(g, &si))
		return sig;
	g->dropped++;
	pr_debug("dropped signal %d (%s) from PID %d to thread %d", sig, strsignal(sig), g->init,
		 tid);
	return 0;
}

/* A thread the kernel attached (a fork or clone of one held): held too. */
static struct gthread *track_new(struct guard *g, pid_t tid)
{
	struct proc_status s;

	if (read_tstatus(tid, &s))
		return NULL;
	pr_debug("holding new thread %d of task %d", tid, s.tgid);
	return add_thread(g, tid, s.tgid);
}

/* An exec by another thread than the leader: the execing one took the leader's TID. */
static void exec_done(struct guard *g, pid_t tid)
{
	unsigned long old;

	if (!ptrace(PTRACE_GETEVENTMSG, tid, NULL, &old) && (pid_t)old != tid)
		thread_gone(g, find_thread(g, old));
}

/* Before the release, any stop keeps the thread stopped; a signal's stop remembers it. */
static void on_event(struct guard *g, pid_t tid, int status)
{
	struct gthread *t = find_thread(g, tid);
	int sig = WSTOPSIG(status), event = status >> 16;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		thread_gone(g, t);
		return;
	}
	if (!WIFSTOPPED(status) || (!t && !(t = track_new(g, tid))))
		return;
	if (event == PTRACE_EVENT_EXEC)
		exec_done(g, tid);
	if (event == PTRACE_EVENT_STOP && seize_is_stop_signal(sig))
		t->restop = true;	/* a group-stop: the process stays stopped */
	t->stopped = true;
	t->event = event;
	t->sig = event ? 0 : judge_signal(g, tid, sig);
}

static void wait_tick(const sigset_t *chld)
{
	struct timespec ts = { 0, GUARD_TICK_MS * 1000000L };

	sigtimedwait(chld, NULL, &ts);
}

static void after_release(struct guard *g, pid_t tid, int status);

static void handle_events(struct guard *g)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
		if (g->released)
			after_release(g, pid, status);
		else
			on_event(g, pid, status);
	}
}

/* Every seized thread in its stop, or the deadline: the count still running. */
static size_t wait_stops(struct guard *g)
{
	double end = now_s() + GUARD_STOPS_MS / 1000.0;
	size_t i, running;

	for (;;) {
		handle_events(g);
		for (i = 0, running = 0; i < g->n; i++)
			running += !g->thr[i].gone && !g->thr[i].stopped;
		if (!running || now_s() > end)
			return running;
		wait_tick(g->chld);
	}
}

/* 0 once init switched root; -ETIMEDOUT, or -ESRCH when every task is gone. */
static int watch(struct guard *g, unsigned int timeout)
{
	double end = now_s() + timeout;

	for (;;) {
		handle_events(g);
		if (!g->live)
			return -ESRCH;
		if (switched(g))
			return 0;
		if (now_s() > end)
			return -ETIMEDOUT;
		wait_tick(g->chld);
	}
}

/* The signals init queued for tid, in its own queue and its process's. */
static uint64_t queued_from_init(const struct guard *g, pid_t tid)
{
	struct __ptrace_peeksiginfo_args a = { .nr = 32 };
	siginfo_t si[32];
	uint64_t m = 0;
	int q, i, n;

	for (q = 0; q < 2; q++) {
		a.flags = q ? PTRACE_PEEKSIGINFO_SHARED : 0;
		for (a.off = 0; (n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si)) > 0; a.off += n)
			for (i = 0; i < n; i++)
				if (from_init(g, &si[i]) && si[i].si_signo > 0 &&
				    si[i].si_signo <= 64)
					m |= sigbit(si[i].si_signo);
	}
	return m;
}

/* The thread's next stop (events of others handled meanwhile): 0, or -ETIMEDOUT. */
static int wait_own_stop(struct guard *g, struct gthread *t)
{
	double end = now_s() + GUARD_PURGE_MS / 1000.0;
	int status;
	pid_t pid;

	while (!t->stopped && !t->gone) {
		pid = waitpid(-1, &status, __WALL | WNOHANG);
		if (pid > 0) {
			on_event(g, pid, status);
			continue;
		}
		if (now_s() > end)
			return -ETIMEDOUT;
		wait_tick(g->chld);
	}
	return 0;
}

/*
 * Take out of the queues what init sent a stopped thread: one signal at a time, with
 * every other blocked (the one in hand too: it is queued again), is what the resumed
 * thread dequeues, and its delivery-stop drops it. The thread ends stopped, with its own
 * mask. One at a vfork is not resumed: it would wait for its child, held stopped.
 */
static void purge_thread(struct guard *g, struct gthread *t)
{
	uint64_t mask, only, m;
	int round;

	if (t->purged || !t->stopped || t->gone)
		return;
	t->purged = true;
	if (t->event == PTRACE_EVENT_VFORK) {
		pr_warn("thread %d is in vfork: the signals PID %d sent it stay queued", t->tid,
			g->init);
		return;
	}
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(mask), &mask)) {
		pr_perror("cannot read the blocked signals of thread %d", t->tid);
		return;
	}
	for (round = 0; round < 64; round++) {
		m = queued_from_init(g, t->tid) & ~(t->sig ? sigbit(t->sig) : 0);
		if (!m)
			break;
		only = ~(m & -m);
		if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(only), &only))
			break;
		resume(t->tid, t->sig);
		t->stopped = false;
		t->sig = 0;
		if (wait_own_stop(g, t)) {
			pr_err("thread %d did not take a signal of PID %d back: it runs with all but "
			       "that one blocked", t->tid, g->init);
			return;
		}
		if (t->gone)
			return;
	}
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(mask), &mask))
		pr_perror("cannot put back the blocked signals of thread %d", t->tid);
}

/* The stopped ones stopped again: SIGSTOP queued before the release (once a process). */
static void queue_restops(struct guard *g)
{
	size_t i, k;

	for (i = 0; i < g->n; i++) {
		struct gthread *t = &g->thr[i];
		bool seen = false;

		if (t->gone || !t->restop)
			continue;
		for (k = 0; k < i && !seen; k++)
			seen = !g->thr[k].gone && g->thr[k].restop && g->thr[k].tgid == t->tgid;
		if (!seen && kill(t->tgid, SIGSTOP))
			pr_perror("cannot stop task %d again", t->tgid);
	}
}

/*
 * After the release: a thread not purged yet (its first stop came late) is purged at
 * this stop; otherwise every signal passes as without the guard, a group-stop is kept.
 */
static void after_release(struct guard *g, pid_t tid, int status)
{
	struct gthread *t = find_thread(g, tid);
	int sig = WSTOPSIG(status), event = status >> 16;

	if (!WIFSTOPPED(status) || !t || !t->purged) {
		on_event(g, tid, status);
		t = find_thread(g, tid);
		if (!t || t->gone || !t->stopped)
			return;
		purge_thread(g, t);
		sig = t->sig;
		event = 0;
	}
	t->stopped = false;
	if (event == PTRACE_EVENT_STOP && seize_is_stop_signal(sig))
		ptrace(PTRACE_LISTEN, tid, NULL, NULL);
	else
		resume(tid, event ? 0 : sig);
}

/* Purge every stopped thread, then let them all run; what stops again stays stopped. */
static void release(struct guard *g)
{
	size_t i, held = 0;

	handle_events(g);
	for (i = 0; i < g->n; i++)
		purge_thread(g, &g->thr[i]);
	queue_restops(g);
	g->released = true;
	for (i = 0; i < g->n; i++) {
		struct gthread *t = &g->thr[i];

		if (t->gone || !t->stopped)
			continue;
		held++;
		t->stopped = false;
		resume(t->tid, t->sig);
	}
	pr_info("dropped %lu signals from PID %d; %zu threads of %zu held stopped, let go",
		g->dropped, g->init, held, g->live);
	/* a SIGSTOP of queue_restops: passed on, and the group-stop that follows kept */
	for (double end = now_s() + GUARD_RESTOP_MS / 1000.0; g->live && now_s() < end;) {
		handle_events(g);
		wait_tick(g->chld);
	}
	/* stops a late purge took in for others: let go as after_release would */
	for (i = 0; i < g->n; i++) {
		struct gthread *t = &g->thr[i];

		if (t->gone || !t->stopped)
			continue;
		t->stopped = false;
		if (t->event == PTRACE_EVENT_STOP && t->restop)
			ptrace(PTRACE_LISTEN, t->tid, NULL, NULL);
		else
			resume(t->tid, t->sig);
	}
}

/* Out of the cgroup of the unit that ran the hook: its stop must not take the guard. */
static void leave_cgroup(void)
{
	char mnt[4096], path[4200];
	int fd;

	if (cgroup2_mount(mnt, sizeof(mnt)))
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", mnt);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		pr_info("stays in its cgroup: cannot write %s: %m", path);
	if (fd >= 0)
		close(fd);
}

/* Named with an '@', deaf to the signals systemd sends, logging to the kernel log. */
static void become_guard(const struct guard_opts *o)
{
	int level = log_get_level(), fd;

	setsid();
	prctl(PR_SET_NAME, "ferry-guard");
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	log_fini();
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	/* never the caller's stdout or stderr: a pipe there would not see its end */
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (o->log)
		log_init(o->log, level);
	else if (log_init_kmsg(level))
		log_init(NULL, level);	/* no kernel log: nowhere */
	/* last: the option strings (o->log too) live in the argv it overwrites */
	cli_set_title("@ferry-guard");
	leave_cgroup();
}

static void tell(int fd, int err)
{
	unsigned char c = err;

	if (write(fd, &c, 1) != 1)
		pr_perror("cannot tell ferry restore that the guard %s", err ? "failed" : "is ready");
	close(fd);
}

static int guard_main(const pid_t *roots, unsigned int n, const struct guard_opts *o, int ready)
{
	struct guard g = { .init = o->init };
	double t0 = now_s();
	size_t running = 0;
	sigset_t chld;
	int ret;

	become_guard(o);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	g.chld = &chld;
	ret = init_root(&g);
	if (!ret)
		ret = seize_all(&g, roots, n);
	if (!ret)
		running = wait_stops(&g);
	tell(ready, -ret);
	if (ret)
		goto out;	/* exiting lets go of what was held */
	if (running)
		pr_warn("%zu threads did not stop (in an uninterruptible wait?): held once they do",
			running);
	pr_info("holding %zu threads of %u trees stopped until PID %d switches root (at most "
		"%u s)", g.live, n, g.init, o->timeout);
	ret = watch(&g, o->timeout);
	if (ret == -ETIMEDOUT)
		pr_warn("PID %d did not switch root in %u s: letting the trees go", g.init,
			o->timeout);
	else if (!ret)
		pr_info("PID %d switched root after %.2f s", g.init, now_s() - t0);
	if (ret != -ESRCH)
		release(&g);
	ret = 0;
out:
	free(g.thr);
	log_fini();
	return !!ret;
}

int guard_start(const pid_t *roots, unsigned int n, const struct guard_opts *o)
{
	int fds[2], status;
	unsigned char c;
	ssize_t r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC)) {
		pr_perror("cannot make a pipe for the switch-root guard");
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pr_perror("cannot fork the switch-root guard");
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(guard_main(roots, n, o, fds[1]));
	}
	close(fds[1]);
	do
		r = read(fds[0], &c, 1);
	while (r < 0 && errno == EINTR);
	close(fds[0]);
	if (r == 1 && !c) {
		pr_info("guard %d holds the restored trees until PID %d switches root",
			pid, o->init);
		return 0;
	}
	waitpid(pid, &status, 0);
	pr_err("the switch-root guard could not hold the restored trees: %s",
	       r == 1 ? strerror(c) : "it died");
	return r == 1 ? -c : -EIO;
}
