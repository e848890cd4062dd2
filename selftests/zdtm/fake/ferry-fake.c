// SPDX-License-Identifier: MIT
/*
 * A stand-in for ferry that only exercises the runner's plumbing: "dump" records the
 * task's executable, cwd, stdout and environment, then kills its tree (unless -R); it
 * refuses a tree whose test says ferry refuses it (with --freeze-cgroup it freezes and
 * thaws that cgroup first, as ferry does while seizing); "restore"
 * starts the program afresh with the same PID (clone3 set_tid) and writes the pidfile.
 * No state is carried over: it proves the runner's flow, never a checkpoint.
 */
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *dir = ".";
static const char *workdir = ".";
static const char *freeze_cgroup;

static int save(const char *name, const void *data, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/fake-%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd)) {
		perror(path);
		return -1;
	}
	return 0;
}

static ssize_t load(const char *name, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/fake-%s", dir, name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

static int dump_root(pid_t pid);

static int save_link(pid_t pid, const char *what, const char *name)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		perror(path);
		return -1;
	}
	return save(name, buf, n);
}

/* pid and its descendants, parents first. */
static int list_tree(pid_t pid, pid_t *out, int max)
{
	char path[96], buf[8192], *p, *end;
	int i, n = 1, fd;
	ssize_t len;

	out[0] = pid;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", out[i], out[i]);
		fd = open(path, O_RDONLY);
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
	return n;
}

static int dead(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = 0;
	p = strrchr(buf, ')');
	return !p || p[2] == 'Z' || p[2] == 'X';
}

/* The test told the runner (ready file in the work dir) that ferry refuses it. */
static int refused(void)
{
	char path[4200], buf[512] = "";
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/ready", workdir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "\ndump fails\n") != NULL;
}

/* --freeze-cgroup: freeze and thaw it as ferry would while seizing. */
static void freeze_thaw(void)
{
	char path[4200];
	int fd;

	if (!freeze_cgroup)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.freeze", freeze_cgroup);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1 || usleep(50000) || pwrite(fd, "0", 1, 0) != 1)
		perror(path);
	if (fd >= 0)
		close(fd);
}

static int dump(pid_t pid, int leave_running)
{
	static pid_t tree[4096];
	int i, n = list_tree(pid, tree, 4096), seen = 0;

	if (refused()) {
		fprintf(stderr, "fake dump: the test says ferry refuses it\n");
		return 1;
	}
	freeze_thaw();
	if (dump_root(pid))
		return 1;
	/* a growing tree: stop what we see until no new task shows up, then kill it */
	while (!leave_running && seen != n && n < 4096) {
		seen = n;
		for (i = 0; i < n; i++)
			kill(tree[i], SIGSTOP);
		usleep(1000);
		n = list_tree(pid, tree, 4096);
	}
	for (i = n; !leave_running && i-- > 0;)
		kill(tree[i], SIGKILL);
	/* like ferry, return once they are dead (zombies for the runner to reap) */
	for (i = 0; !leave_running && i < n;)
		if (dead(tree[i]))
			i++;
		else
			usleep(1000);
	return 0;
}

static int dump_root(pid_t pid)
{
	static char env[1 << 16];
	char path[64], text[16];
	ssize_t n;
	int fd;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, env, sizeof(env));
	if (fd >= 0)
		close(fd);
	snprintf(text, sizeof(text), "%d", pid);
	if (n < 0 || save("environ", env, n) || save("pid", text, strlen(text)) ||
	    save_link(pid, "exe", "exe") || save_link(pid, "cwd", "cwd") ||
	    save_link(pid, "fd/1", "out"))
		return 1;
	return 0;
}

/*
 * Like a real restore, return only once the task is back in its own code: here, once it
 * catches SIGTERM again (zt_init ran), so that the runner's SIGTERM cannot kill it early.
 */
static void wait_handler(pid_t pid)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	char path[64], buf[4096], *p;
	unsigned long long caught;
	int i, fd, n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	for (i = 0; i < 2000; i++) {
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return;
		buf[n] = 0;
		p = strstr(buf, "SigCgt:");
		if (p && sscanf(p + 7, "%llx", &caught) == 1 && (caught & (1ULL << (SIGTERM - 1))))
			return;
		nanosleep(&ts, NULL);
	}
}

static int restore(const char *pidfile)
{
	static char env[1 << 16];
	char exe[4096], cwd[4096], out[4096], text[16], *envp[512], *base;
	struct clone_args args = { .exit_signal = SIGCHLD };
	pid_t pid;
	ssize_t n;
	int i = 0, fd;
	long ret;

	n = load("environ", env, sizeof(env));
	if (n < 0 || load("exe", exe, sizeof(exe)) < 0 || load("cwd", cwd, sizeof(cwd)) < 0 ||
	    load("out", out, sizeof(out)) < 0 || load("pid", text, sizeof(text)) < 0) {
		fprintf(stderr, "fake restore: no fake images in %s\n", dir);
		return 1;
	}
	for (char *p = env; p < env + n && i < 511; p += strlen(p) + 1)
		envp[i++] = p;
	envp[i] = NULL;
	pid = atoi(text);
	args.set_tid = (uintptr_t)&pid;
	args.set_tid_size = 1;
	ret = syscall(SYS_clone3, &args, sizeof(args));
	if (ret < 0) {
		perror("fake restore: clone3 with set_tid");
		return 1;
	}
	if (ret == 0) {
		setsid();
		if (chdir(cwd))
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		fd = open(out, O_WRONLY | O_APPEND);
		dup2(fd, 1);
		dup2(fd, 2);
		syscall(SYS_close_range, 3, ~0U, 0);
		base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		execve(exe, (char *[]){ base, NULL }, envp);
		_exit(127);
	}
	wait_handler(pid);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (!f || fprintf(f, "%d\n", pid) < 0 || fclose(f))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "pidfile", required_argument, NULL, 'p' },
					    { "freeze-cgroup", required_argument, NULL, 'F' },
					    { NULL, 0, NULL, 0 } };
	const char *pidfile = NULL;
	int c, leave_running = 0;
	pid_t pid = 0;

	if (argc < 2)
		return 2;
	while ((c = getopt_long(argc - 1, argv + 1, "t:D:W:o:v::Rdp:", lo, NULL)) != -1) {
		if (c == 't')
			pid = atoi(optarg);
		else if (c == 'D')
			dir = optarg;
		else if (c == 'W')
			workdir = optarg;
		else if (c == 'R')
			leave_running = 1;
		else if (c == 'p')
			pidfile = optarg;
		else if (c == 'F')
			freeze_cgroup = optarg;
	}
	if (!strcmp(argv[1], "dump"))
		return dump(pid, leave_running);
	if (!strcmp(argv[1], "restore"))
		return restore(pidfile);
	return 2;
}
