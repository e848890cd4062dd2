// SPDX-License-Identifier: MIT
/*
 * The process tree, restore side: checks the sessions and groups of pstree.img and plans
 * helper tasks for groups and sessions whose leader is gone (a session helper calls
 * setsid() and clones the session's members with CLONE_PARENT); then creates every task
 * with clone3 (set_tid, CLONE_FILES / CLONE_FS for a child sharing its parent's, share.c)
 * from its own parent, in three phases the controller paces over pipes:
 *
 *   create  setsid()/setpgid(0, 0) for leaders, open the files shared with the
 *           descendants (rst-fshare.c), a session leader's controlling terminal
 *           (tty-ctty.c), create helpers and children                       -> 'c'
 *   join    setpgid(0, group) into groups led by others, check sid/pgid      -> 'j'
 *           zombies exit with their status here, unreaped by their parent
 *   go      (the controller has PTRACE_SEIZEd the live tasks) helpers exit and are
 *           reaped; each live task restores itself (restore.c)
 *
 * A failing task writes 'x'. Kernel interfaces: clone3 set_tid, setsid, setpgid,
 * PR_SET_PDEATHSIG (a task dies with its parent until the restorer resets it).
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "rst.h"
#include "tty.h"
#include "share.h"

#define PHASE_TIMEOUT_MS 60000

static struct rst_task *task_by_pid(struct rst_tree *tr, pid_t pid)
{
	size_t i;

	for (i = 0; i < tr->nr_tasks; i++)
		if (tr->tasks[i].pid == pid)
			return &tr->tasks[i];
	return NULL;
}

static int add_helper(struct rst_tree *tr, struct rst_task *t)
{
	pid_t pgid = t->pst->pgid, sid = t->pst->sid;
	struct rst_helper *h;
	size_t i;

	for (i = 0; i < tr->nr_helpers; i++) {
		if (tr->helpers[i].pid != pgid)
			continue;
		if (tr->helpers[i].sid == sid)
			return 0;
		pr_err("pstree.img: process group %d spans sessions %d and %d", pgid,
		       tr->helpers[i].sid, sid);
		return -EINVAL;
	}
	if (pgid < 2 || pgid > (1 << 22)) {
		pr_err("pstree.img: %d: process group %d is out of range", t->pid, pgid);
		return -EINVAL;
	}
	h = realloc(tr->helpers, (tr->nr_helpers + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	tr->helpers = h;
	tr->helpers[tr->nr_helpers++] = (struct rst_helper){ pgid, sid, t->parent, false };
	pr_info("process group %d of %d has no leader in the tree: a helper holds it", pgid,
		t->pid);
	return 0;
}

/*
 * t's session leader is gone (t is neither in its own session nor its parent's): a
 * helper with the session's id, created by t's parent, calls setsid() and clones t with
 * CLONE_PARENT; t must be in the leader's group or its own.
 */
static int add_session_helper(struct rst_tree *tr, struct rst_task *t)
{
	pid_t sid = t->pst->sid, pgid = t->pst->pgid;
	struct rst_helper *h;
	size_t i;

	if (task_by_pid(tr, sid) || (pgid != sid && pgid != t->pid) || t->share_files ||
	    t->share_fs || sid < 2 || sid > (1 << 22)) {
		pr_err("pstree.img: %d is in session %d, neither its own nor its parent's: "
		       "supported only when no task of the tree has that PID, the task is in the "
		       "session's first group or its own, and shares no fd table or fs", t->pid,
		       sid);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < tr->nr_helpers; i++) {
		if (tr->helpers[i].pid != sid)
			continue;
		if (!tr->helpers[i].session || tr->helpers[i].creator != t->parent) {
			pr_err("pstree.img: session %d has members under several parents or is "
			       "also a process group of another session", sid);
			return -EOPNOTSUPP;
		}
		t->session_helper = i + 1;
		return 0;
	}
	h = realloc(tr->helpers, (tr->nr_helpers + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	tr->helpers = h;
	tr->helpers[tr->nr_helpers++] = (struct rst_helper){ sid, sid, t->parent, true };
	t->session_helper = tr->nr_helpers;
	pr_info("session %d of %d has no leader in the tree: a helper leads it", sid, t->pid);
	return 0;
}

/* The session is the task's own, inherited, or a helper's; the group is found. */
static int plan_task(struct rst_tree *tr, struct rst_task *t)
{
	struct rst_task *root = &tr->tasks[0], *parent = &tr->tasks[t->parent], *leader;
	pid_t pid = t->pid, sid = t->pst->sid, pgid = t->pst->pgid;

	if (sid == pid && pgid != pid) {
		pr_err("pstree.img: %d leads session %d but is in group %d", pid, sid, pgid);
		return -EINVAL;
	}
	if (sid != pid && sid != (pid_t)parent->pst->sid && add_session_helper(tr, t))
		return -EOPNOTSUPP;
	if (pgid == pid)
		return 0;
	leader = task_by_pid(tr, pgid);
	if (leader && (leader->pst->pgid != (uint32_t)pgid || leader->pst->sid != (uint32_t)sid)) {
		pr_err("pstree.img: %d is in group %d, but %d is not that group's leader in "
		       "session %d", pid, pgid, pgid, sid);
		return -EINVAL;
	}
	if (leader)
		return 0;
	if (pgid == (pid_t)root->pst->pgid && root->pst->pgid != root->pst->pid) {
		t->in_root_group = true;	/* outside the dump: whatever the root joins */
		return 0;
	}
	return add_helper(tr, t);
}

int rst_pstree_plan(struct rst_tree *tr)
{
	size_t i;
	int ret = 0;

	for (i = 1; !ret && i < tr->nr_tasks; i++)
		ret = plan_task(tr, &tr->tasks[i]);
	return ret;
}

/* ---- in the new tasks ----------------------------------------------------------------- */

static void __attribute__((noreturn)) task_fail(struct rst_tree *tr)
{
	if (write(tr->sync[1], "x", 1) != 1)
		_exit(1);
	_exit(1);
}

static void report(struct rst_tree *tr, char c)
{
	if (write(tr->sync[1], &c, 1) != 1)
		_exit(1);
}

/* Wait for the controller to start a phase; anything else than a byte ends us. */
static void wait_phase(struct rst_tree *tr, int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(1);
}

/*
 * The root: a task that led its session or group leads new ones; one whose leader was
 * outside the dump can only join ferry's own (that is what -j means for a shell job).
 */
static int root_session(struct rst_task *t)
{
	pid_t pid = t->pid, sid = t->pst->sid, pgid = t->pst->pgid;

	if (sid == pid) {
		if (setsid() < 0) {
			pr_perror("cannot make %d a session leader again", pid);
			return -errno;
		}
		return 0;
	}
	if (t->opts->shell_job)
		return 0;	/* a job of the restoring shell: its session and group */
	if (sid != getsid(0))
		pr_warn("session %d of task %d was outside the dump; it joins ferry's session %d "
			"(use -j for a shell job)", sid, pid, getsid(0));
	if (pgid == pid && setpgid(0, 0)) {
		pr_perror("cannot make %d a process group leader again", pid);
		return -errno;
	}
	if (pgid != pid && pgid != getpgrp())
		pr_warn("process group %d of task %d was outside the dump; it joins group %d", pgid,
			pid, getpgrp());
	return 0;
}

/* Leaders first: a new session, or a new group in the inherited session. */
static int lead(struct rst_task *t)
{
	if (t->parent < 0)
		return root_session(t);
	if (t->pst->sid == t->pst->pid && setsid() < 0) {
		pr_perror("cannot make %d a session leader again", t->pid);
		return -errno;
	}
	if (t->pst->sid != t->pst->pid && t->pst->pgid == t->pst->pid && setpgid(0, 0)) {
		pr_perror("cannot make %d a process group leader again", t->pid);
		return -errno;
	}
	return 0;
}

/* Every group exists now: join ours, then check that the session and group are right. */
static int join_group(struct rst_task *t)
{
	pid_t pgid = t->pst->pgid, sid = t->pst->sid;

	if (t->parent < 0)
		return 0;
	if (t->in_root_group)
		pgid = getpgid(t->tree->tasks[0].pid);
	if (getpgrp() != pgid && setpgid(0, pgid)) {
		pr_perror("task %d cannot join process group %d", t->pid, pgid);
		return -errno;
	}
	if (!t->in_root_group && (getsid(0) != sid || getpgrp() != pgid)) {
		pr_err("task %d ended in session %d group %d instead of %d and %d", t->pid,
		       getsid(0), getpgrp(), sid, pgid);
		return -EINVAL;
	}
	return 0;
}

/* Clone with the given PID (and flags); the child runs fn(tr, idx) and never returns. */
static pid_t clone_pid(struct rst_tree *tr, pid_t want, void (*fn)(struct rst_tree *, int),
		       int idx, int cg_fd, uint64_t flags);

static void __attribute__((noreturn)) exit_like(int status)
{
	sigset_t none;
	int sig = WTERMSIG(status);

	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	kill(getpid(), sig);
	kill(getpid(), SIGKILL);
	_exit(127);
}

static void (*restore_task_fn)(struct rst_task *t);
static void __attribute__((noreturn)) task_main(struct rst_tree *tr, int idx);

/* A session helper's members, cloned as its parent's children (CLONE_PARENT). */
static int create_session_members(struct rst_tree *tr, int idx)
{
	size_t i;

	for (i = 1; i < tr->nr_tasks; i++)
		if (tr->tasks[i].session_helper == idx + 1 &&
		    clone_pid(tr, tr->tasks[i].pid, task_main, i, tr->tasks[i].cg_fd,
			      CLONE_PARENT) < 0)
			return -EEXIST;
	return 0;
}

static void __attribute__((noreturn)) helper_main(struct rst_tree *tr, int idx)
{
	bool session = tr->helpers[idx].session;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (session ? setsid() < 0 : setpgid(0, 0) != 0) {
		pr_perror("helper %d cannot lead %s %d", getpid(),
			  session ? "session" : "process group", getpid());
		task_fail(tr);
	}
	if (session && create_session_members(tr, idx))
		task_fail(tr);
	report(tr, 'c');
	wait_phase(tr, tr->join[0]);
	report(tr, 'j');
	wait_phase(tr, tr->go[0]);	/* every member has joined: the group lives on */
	_exit(0);
}

static int create_children(struct rst_tree *tr, int idx);

static void __attribute__((noreturn)) task_main(struct rst_tree *tr, int idx)
{
	struct rst_task *t = &tr->tasks[idx];
	size_t i;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if ((!idx && rst_enter_root(t)) || lead(t) || rst_files_open_shared(t) ||
	    tty_ctty_set(t) || rst_fs_restore(t, true) || rst_shmem_open_shared(t) ||
	    create_children(tr, idx))
		task_fail(tr);
	report(tr, 'c');
	wait_phase(tr, tr->join[0]);
	if (join_group(t))
		task_fail(tr);
	report(tr, 'j');
	if (t->dead)
		exit_like(t->core->tc->exit_code);
	wait_phase(tr, tr->go[0]);
	for (i = 0; i < tr->nr_helpers; i++)
		if (tr->helpers[i].creator == idx)
			waitpid(tr->helpers[i].pid, NULL, 0);
	/* our zombies must have exited before SIGCHLD is ignored below: a child exiting
	 * while it is would be reaped by the kernel (WNOWAIT leaves them zombies) */
	for (i = 1; i < tr->nr_tasks; i++)
		if (tr->tasks[i].dead && tr->tasks[i].parent == idx)
			waitid(P_PID, tr->tasks[i].pid, &(siginfo_t){ 0 }, WEXITED | WNOWAIT);
	/* SIGCHLD from helpers and zombies is ours, not the task's: drop it */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	restore_task_fn(t);
	_exit(1);
}

static int create_children(struct rst_tree *tr, int idx)
{
	size_t i;

	for (i = 0; i < tr->nr_helpers; i++)
		if (tr->helpers[i].creator == idx &&
		    clone_pid(tr, tr->helpers[i].pid, helper_main, i, -1, 0) < 0)
			return -EEXIST;
	for (i = 1; i < tr->nr_tasks; i++)
		if (tr->tasks[i].parent == idx && !tr->tasks[i].session_helper &&
		    clone_pid(tr, tr->tasks[i].pid, task_main, i, tr->tasks[i].cg_fd,
			      share_clone_flags(&tr->tasks[i])) < 0)
			return -EEXIST;
	return 0;
}

/* Name the holder of a PID we need; a zombie gets its own hint (see ENVIRONMENT.md). */
void rst_pid_in_use(pid_t pid)
{
	char path[64], buf[512], state = '?';
	const char *comm = "?", *rp;
	int fd, ppid = 0;
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	rp = strrchr(buf, ')');
	if (n > 0 && rp && strchr(buf, '(')) {
		comm = strchr(buf, '(') + 1;
		buf[rp - buf] = 0;
		sscanf(rp + 1, " %c %d", &state, &ppid);
	}
	if (n <= 0)
		pr_err("PID %d is in use as the process group or session of other processes "
		       "(an unreaped zombie's?)", pid);
	else if (state == 'Z')
		pr_err("PID %d is held by the zombie '%s', which its parent %d has not reaped yet; "
		       "restore once it is reaped", pid, comm, ppid);
	else
		pr_err("PID %d is in use by '%s'", pid, comm);
}

/*
 * cg_fd >= 0: the task starts in that cgroup (CLONE_INTO_CGROUP), before it runs. flags:
 * CLONE_FILES / CLONE_FS for a child sharing its parent's fd table or fs.
 */
static pid_t clone_pid(struct rst_tree *tr, pid_t want, void (*fn)(struct rst_tree *, int),
		       int idx, int cg_fd, uint64_t flags)
{
	pid_t tid = want;
	struct clone_args ca = { .flags = flags, .exit_signal = SIGCHLD,
				 .set_tid = (uintptr_t)&tid, .set_tid_size = 1 };
	sigset_t all, old;
	pid_t pid;

	if (flags & CLONE_PARENT)
		ca.exit_signal = 0;	/* clone3 takes the caller's then, and refuses another */
	if (cg_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = cg_fd;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		fn(tr, idx);	/* with every signal blocked until the restorer's sigreturn */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		if (errno == EEXIST)
			rst_pid_in_use(want);
		else if (cg_fd >= 0)
			pr_perror("cannot create task %d in its cgroup (clone3 CLONE_INTO_CGROUP; "
				  "EBUSY: the cgroup has controllers for its children)", want);
		else
			pr_perror("cannot create task %d with clone3(set_tid)", want);
		return -1;
	}
	return pid;
}

/* ---- in the controller ---------------------------------------------------------------- */

/* Collect n reports of phase c; a task that fails says 'x', the root may die. */
static int wait_reports(struct rst_tree *tr, char c, size_t n, const char *phase)
{
	struct pollfd pfd = { .fd = tr->sync[0], .events = POLLIN };
	int waited = 0, st;
	char buf[256];

	while (n) {
		ssize_t r, i;
		int p = poll(&pfd, 1, 100);

		if (p < 0 && errno != EINTR) {
			pr_perror("cannot poll the tasks");
			return -errno;
		}
		if (p <= 0) {
			if (waitpid(tr->tasks[0].pid, &st, WNOHANG | __WALL) == tr->tasks[0].pid) {
				pr_err("the root task %d died while %s", tr->tasks[0].pid, phase);
				tr->root_alive = false;
				return -ECHILD;
			}
			if ((waited += 100) >= PHASE_TIMEOUT_MS) {
				pr_err("%zu tasks did not finish %s within %d s", n, phase,
				       PHASE_TIMEOUT_MS / 1000);
				return -ETIMEDOUT;
			}
			continue;
		}
		r = read(tr->sync[0], buf, n < sizeof(buf) ? n : sizeof(buf));
		if (r <= 0) {
			pr_perror("cannot read from the tasks");
			return -EIO;
		}
		for (i = 0; i < r; i++)
			if (buf[i] != c) {
				pr_err("a task failed while %s (see above)", phase);
				return -ECHILD;
			}
		n -= r;
	}
	return 0;
}

static int start_phase(int fd, size_t n)
{
	char buf[256];

	memset(buf, 'g', sizeof(buf));
	while (n) {
		ssize_t w = write(fd, buf, n < sizeof(buf) ? n : sizeof(buf));

		if (w <= 0) {
			pr_perror("cannot start the tasks");
			return -EIO;
		}
		n -= w;
	}
	return 0;
}

static int seize_live(struct rst_tree *tr, size_t *nr_live)
{
	size_t i;

	*nr_live = 0;
	for (i = 0; i < tr->nr_tasks; i++) {
		if (tr->tasks[i].dead)
			continue;
		if (ptrace(PTRACE_SEIZE, tr->tasks[i].pid, NULL,
			   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |
					   PTRACE_O_TRACECLONE |
					   (tr->tasks[i].seccomp_suspend ? PTRACE_O_SUSPEND_SECCOMP : 0)))) {
			pr_perror("cannot seize the new task %d", tr->tasks[i].pid);
			return -errno;
		}
		(*nr_live)++;
	}
	return 0;
}

static void close_pipes(struct rst_tree *tr)
{
	int *fds[] = { tr->sync, tr->join, tr->go };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (fds[i][0] >= 0)
			close(fds[i][0]);
		if (fds[i][1] >= 0)
			close(fds[i][1]);
		fds[i][0] = fds[i][1] = -1;
	}
}

/* Create and pace the tree; on return the live tasks are seized and restoring. */
int rst_pstree_create(struct rst_tree *tr, void (*restore_task)(struct rst_task *t))
{
	size_t all = tr->nr_tasks + tr->nr_helpers, nr_live;
	int ret;

	restore_task_fn = restore_task;
	ret = share_rst_gates_init(tr);
	if (ret)
		return ret;
	if (pipe2(tr->sync, O_CLOEXEC) || pipe2(tr->join, O_CLOEXEC) || pipe2(tr->go, O_CLOEXEC)) {
		pr_perror("cannot create pipes");
		close_pipes(tr);
		return -errno;
	}
	if (clone_pid(tr, tr->tasks[0].pid, task_main, 0, tr->tasks[0].cg_fd, 0) < 0) {
		close_pipes(tr);
		return -EEXIST;
	}
	tr->root_alive = true;
	ret = wait_reports(tr, 'c', all, "creating the tree");
	tr->all_created = !ret;
	if (!ret)
		ret = start_phase(tr->join[1], all);
	if (!ret)
		ret = wait_reports(tr, 'j', all, "joining process groups");
	if (!ret)
		ret = seize_live(tr, &nr_live);
	if (!ret)
		ret = start_phase(tr->go[1], nr_live + tr->nr_helpers);
	close_pipes(tr);
	if (!ret)
		pr_info("created %zu tasks and %zu helpers", tr->nr_tasks, tr->nr_helpers);
	return ret;
}

/*
 * Kill what was created: the root (ours, its descendants die with it by their death
 * signal) and, once all of them exist, every live task by its PID.
 */
void rst_pstree_kill(struct rst_tree *tr)
{
	size_t i, n = tr->all_created ? tr->nr_tasks : 1;
	int st;

	if (!tr->root_alive)
		return;
	for (i = n; i-- > 0;)
		if (!tr->tasks[i].dead)
			kill(tr->tasks[i].pid, SIGKILL);
	/* traced threads stay zombies until reaped by us; each leader is reaped last */
	for (i = n; i-- > 0;) {
		struct rst_task *t = &tr->tasks[i];
		size_t k;

		if (t->dead)
			continue;
		for (k = 0; k < t->nr_thr; k++)
			while (waitpid(t->thr[k].tid, &st, __WALL) < 0 && errno == EINTR)
				;
		while (waitpid(t->pid, &st, __WALL) < 0 && errno == EINTR)
			;
	}
}
