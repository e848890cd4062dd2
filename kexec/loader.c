// SPDX-License-Identifier: MIT
/*
 * Loading and entering the next kernel with kexec-tools: `kexec -l` (which itself checks
 * that the kernel and initrd are loadable: format, size, signature where required),
 * `kexec -u`, and `kexec -e` after sync(). /sys/kernel/kexec_loaded says what is loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "kexec.h"

extern char **environ;

const char *kexec_binary(void)
{
	static const char *const dirs[] = { "/sbin/kexec", "/usr/sbin/kexec", "/bin/kexec",
					    "/usr/bin/kexec" };
	const char *env = getenv("FERRY_KEXEC");

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!access(dirs[i], X_OK))
			return dirs[i];
	return "kexec";
}

/* Log what kexec said, one line at a time, as errors when it failed. */
static void log_output(const char *buf, bool failed)
{
	const char *s = buf, *e;

	while (*s) {
		e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		if (e > s) {
			if (failed)
				pr_err("kexec: %.*s", (int)(e - s), s);
			else
				pr_info("kexec: %.*s", (int)(e - s), s);
		}
		s = *e ? e + 1 : e;
	}
}

static int wait_kexec(pid_t pid, int rfd, const char *what)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int status;

	while (len < sizeof(buf) - 1 && (n = read(rfd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += n;
	}
	buf[len] = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("cannot wait for %s", what);
			return -ECHILD;
		}
	}
	log_output(buf, !WIFEXITED(status) || WEXITSTATUS(status));
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		pr_err("%s: cannot run %s (install kexec-tools, or set FERRY_KEXEC)", what,
		       kexec_binary());
	else if (WIFEXITED(status))
		pr_err("%s failed with exit status %d", what, WEXITSTATUS(status));
	else
		pr_err("%s was killed by signal %d", what, WTERMSIG(status));
	return -EIO;
}

/* Run kexec with ARGV (argv[0] is replaced by the binary); 0 when it exited 0. */
static int run_kexec(char **argv, const char *what)
{
	posix_spawn_file_actions_t fa;
	int p[2], ret;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("cannot make a pipe for %s", what);
		return -errno;
	}
	argv[0] = (char *)kexec_binary();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (ret) {
		errno = ret;
		pr_perror("cannot run %s for %s", argv[0], what);
		close(p[0]);
		return -ret;
	}
	ret = wait_kexec(pid, p[0], what);
	close(p[0]);
	return ret;
}

int kexec_load(const char *kernel, const char *initrd, const char *cmdline)
{
	char *argv[8], cl[KEXEC_CMDLINE_MAX + 32];
	int n = 1;

	if (access(kernel, R_OK)) {
		pr_perror("cannot read the kernel %s", kernel);
		return -errno;
	}
	if (initrd && access(initrd, R_OK)) {
		pr_perror("cannot read the initrd %s", initrd);
		return -errno;
	}
	snprintf(cl, sizeof(cl), "--command-line=%s", cmdline);
	argv[n++] = "-l";
	argv[n++] = (char *)kernel;
	if (initrd) {
		argv[n++] = "--initrd";
		argv[n++] = (char *)initrd;
	}
	argv[n++] = cl;
	argv[n] = NULL;
	pr_info("loading %s%s%s with: %s", kernel, initrd ? " + " : "", initrd ? initrd : "",
		cmdline);
	return run_kexec(argv, "kexec -l");
}

int kexec_unload(void)
{
	char *argv[] = { NULL, "-u", NULL };

	return run_kexec(argv, "kexec -u");
}

bool kexec_is_loaded(void)
{
	char c = '0';
	int fd = open("/sys/kernel/kexec_loaded", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

int kexec_exec(void)
{
	char *argv[] = { NULL, "-e", NULL };

	sync();
	run_kexec(argv, "kexec -e");
	pr_err("kexec -e returned: the new kernel was not entered");
	return -EIO;
}
