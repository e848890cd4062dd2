// SPDX-License-Identifier: MIT
/*
 * A tree dumped with --freeze-cgroup: the root (with a second thread) and 3 children,
 * all in ferry-test-PID/t; the test asks the runner to dump with --freeze-cgroup
 * MNT/ferry-test-PID. A watcher outside the tree and outside that cgroup (an orphan the
 * runner adopts; SCHED_FIFO so that it wakes at once) polls ferry-test-PID/cgroup.events
 * and writes "frozen-seen" when the freezer held the cgroup: it read "frozen 1", or an
 * event came while the cgroup was populated before it was ever emptied (a freeze and
 * thaw quicker than its wake-up: nothing else changes cgroup.events then). After the restore each task checks its cgroup, that the
 * cgroup is thawed (frozen 0), and the root, when it was restored (its start time
 * changed: not under the runner's selfcheck), that the freeze was seen.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup_util.h"

#define CHILDREN 3
#define WATCH_SECONDS 120

static char want[4200], top_rel[4200];
static volatile int stop_thread;
static unsigned long long started;	/* our start time when first run */

/* Field 22 of /proc/self/stat: a restored process has a new one. */
static unsigned long long start_time(void)
{
	char buf[1024], *p;
	unsigned long long t = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), i;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p, " %llu", &t);
	return t;
}

static void check_cgroup(const char *file)
{
	char now[4200] = "?";

	zt_cg_read(file, now, sizeof(now));
	zt_check(!strcmp(now, want), "%s: in cgroup %s, expected %s", file, now, want);
	zt_check(zt_cg_frozen(top_rel) == 0, "cgroup %s: frozen %d after the restore", top_rel,
		 zt_cg_frozen(top_rel));
}

static bool saw_freeze(const char *text, bool *emptied)
{
	if (strstr(text, "frozen 1"))
		return true;
	if (strstr(text, "populated 0"))
		*emptied = true;
	return !*emptied && strstr(text, "populated 1");
}

static void watch(int ready_fd)
{
	char path[16384], text[512];
	time_t end = time(NULL) + WATCH_SECONDS;
	struct sched_param sp = { .sched_priority = 1 };
	struct pollfd pfd = { .events = POLLPRI };
	bool emptied = false;
	ssize_t n;

	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		setpriority(PRIO_PROCESS, 0, -20);
	snprintf(path, sizeof(path), "%s%s/cgroup.events", zt_cg_mnt, top_rel);
	pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (zt_cg_enter(zt_cg_orig) || pfd.fd < 0 || pread(pfd.fd, text, sizeof(text) - 1, 0) < 0)
		_exit(1);
	snprintf(path, sizeof(path), "%d\n", getpid());
	n = open("watchers", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (n < 0 || write(n, path, strlen(path)) < 0 || close(n) || write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	while (time(NULL) < end) {
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		n = pread(pfd.fd, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = 0;
		if (saw_freeze(text, &emptied))
			break;
	}
	if (time(NULL) < end)
		close(open("frozen-seen", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	while (time(NULL) < end)	/* until stop_watcher(), so that its PID stays its own */
		sleep(1);
	_exit(0);
}

/* Once the tree is in its cgroup: the watcher goes back to the test's original cgroup
 * and leaves the tree (double fork). */
static void start_watcher(void)
{
	struct pollfd pfd = { .events = POLLIN };
	int p[2], st;
	char c;
	pid_t pid;

	if (pipe(p)) {
		zt_fail("pipe: %m");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		if (fork() == 0) {
			close(p[0]);
			setsid();	/* out of the tree's group and session: PIDs to restore */
			watch(p[1]);
		}
		_exit(0);
	}
	close(p[1]);
	waitpid(pid, &st, 0);
	pfd.fd = p[0];
	if (poll(&pfd, 1, 20000) != 1 || read(p[0], &c, 1) != 1) {
		zt_fail("the watcher did not start");
		exit(1);
	}
	close(p[0]);
}

/* The same program as ours (its PID was not reused by another). */
static bool is_ours(pid_t pid)
{
	char a[4096], b[4096];
	ssize_t n;

	snprintf(a, sizeof(a), "/proc/%d/exe", pid);
	n = readlink(a, b, sizeof(b) - 1);
	if (n < 0)
		return false;
	b[n] = 0;
	n = readlink("/proc/self/exe", a, sizeof(a) - 1);
	a[n > 0 ? n : 0] = 0;
	return !strcmp(a, b);
}

/* They have done their job (or failed to): none may outlive the test. */
static void stop_watchers(void)
{
	FILE *f = fopen("watchers", "r");
	int pid;

	while (f && fscanf(f, "%d", &pid) == 1)
		if (pid > 1 && getsid(pid) == pid && is_ours(pid))
			kill(pid, SIGKILL);
	if (f)
		fclose(f);
}

static void join(void)
{
	zt_cg_mkdir("t", want, sizeof(want));
	if (zt_cg_enter(want)) {
		zt_fail("cannot move into cgroup %s: %m", want);
		exit(1);
	}
}

static int child(void *arg)
{
	zt_task_ready();
	zt_wait();
	check_cgroup("self/cgroup");
	return zt_result();
}

static void *thread_main(void *arg)
{
	while (!stop_thread)
		usleep(10000);
	check_cgroup("thread-self/cgroup");
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const subs[] = { "t" };
	char top[16384];
	pthread_t th;
	int i;

	zt_init(argc, argv);
	started = start_time();
	zt_cg_setup();
	zt_cg_mkdir(NULL, top_rel, sizeof(top_rel));
	join();
	for (i = 0; i < CHILDREN; i++)
		zt_fork(child, NULL);
	if (pthread_create(&th, NULL, thread_main, NULL)) {
		zt_fail("pthread_create failed");
		return 1;
	}
	start_watcher();
	snprintf(top, sizeof(top), "%s%s", zt_cg_mnt, top_rel);
	zt_dump_arg("--freeze-cgroup");
	zt_dump_arg(top);
	zt_expose(want, sizeof(want));
	zt_ready();
	zt_wait();
	check_cgroup("self/cgroup");
	if (start_time() != started)	/* restored: dumped with --freeze-cgroup */
		zt_check(!access("frozen-seen", F_OK), "the watcher never saw %s frozen",
			 top_rel);
	stop_thread = 1;
	pthread_join(th, NULL);
	zt_collect();
	stop_watchers();
	zt_cg_cleanup(subs, 1);
	return zt_result();
}
