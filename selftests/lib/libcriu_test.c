// SPDX-License-Identifier: MIT
/*
 * ferry's libcriu (lib/criu.h) from a C program linked with -lcriu, as a program written
 * for CRIU's libcriu would be: through `ferry swrk` (criu_set_service_binary) and through
 * `ferry service` (criu_local_set_service_address). The counter (64 MiB patterned buffer,
 * a self-check on SIGUSR1) is dumped and restored with its PID, its buffer checked from
 * inside; version, check, feature check; libcriu's return values for a refused option
 * (-EBADE, errno EBADRQC), criu_restore_child (refused: no rst_sibling), no service
 * (-ECONNREFUSED).
 * Usage: libcriu_test FERRY COUNTER WORKDIR   (as root)
 */
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "../harness.h"
#include "criu.h"

static const char *ferry, *counter, *work;

static void path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", work, name);
}

static bool log_has(const char *log, const char *what, int at_least)
{
	char buf[65536], *p = buf;
	int fd = open(log, O_RDONLY), n = 0;
	ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (len < 0)
		return false;
	buf[len] = '\0';
	while ((p = strstr(p, what))) {
		n++;
		p++;
	}
	return n >= at_least;
}

static bool wait_log(const char *log, const char *what, int at_least, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		if (log_has(log, what, at_least))
			return true;
		usleep(50000);
	}
	return false;
}

static pid_t start_counter(const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(counter, counter, log, (char *)NULL);
		_exit(127);
	}
	wait_log(log, "tick 2", 1, 10);
	return pid;
}

static bool gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(pid, 0) && errno == ESRCH)
			return true;
		usleep(50000);
	}
	return false;
}

/* SIGUSR1: the counter checks its buffer again; one more "checksum ok" line. */
static bool self_check(pid_t pid, const char *log, int *oks)
{
	kill(pid, SIGUSR1);
	if (!wait_log(log, "checksum ok", *oks + 1, 15))
		return false;
	(*oks)++;
	return true;
}

static int open_dir(const char *name)
{
	char path[4096];

	path_in(path, sizeof(path), name);
	mkdir(path, 0755);
	return open(path, O_DIRECTORY | O_RDONLY);
}

TEST_TIMEOUT(swrk_dump_restore, 120)
{
	struct criu_feature_check fc = { .mem_track = true, .lazy_pages = true, .pidfd_store = true };
	char log[4096];
	int fd, oks = 0, ret;
	pid_t pid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	ASSERT_EQ(criu_init_opts(), 0);
	ASSERT_EQ(criu_set_service_binary(ferry), 0);
	EXPECT_EQ(criu_get_version(), 31700);
	EXPECT_EQ(criu_check_version(30000), 1);
	EXPECT_EQ(criu_check(), 0);
	EXPECT_EQ(criu_feature_check(&fc, sizeof(fc)), 0);
	EXPECT_FALSE(fc.mem_track || fc.lazy_pages || fc.pidfd_store);

	path_in(log, sizeof(log), "counter.log");
	pid = start_counter(log);
	fd = open_dir("img");
	ASSERT_GE(fd, 0);
	criu_set_images_dir_fd(fd);
	criu_set_pid(pid);
	criu_set_log_level(4);
	ASSERT_EQ(criu_set_log_file("dump.log"), 0);
	criu_set_track_mem(true);
	errno = 0;
	ret = criu_dump();
	EXPECT_EQ(ret, -EBADE);
	EXPECT_EQ(errno, EBADRQC);
	EXPECT_EQ(kill(pid, 0), 0);	/* the refused dump left it alone */
	criu_set_track_mem(false);	/* a switch turned off is no option */
	ASSERT_EQ(criu_dump(), 0);
	EXPECT_TRUE(gone(pid));

	criu_set_pid(0);
	ASSERT_EQ(criu_init_opts(), 0);
	ASSERT_EQ(criu_set_service_binary(ferry), 0);
	criu_set_images_dir_fd(fd);
	errno = 0;
	EXPECT_EQ(criu_restore_child(), -EBADE);	/* ferry restores no sibling */
	EXPECT_EQ(errno, EBADRQC);
	ASSERT_EQ(criu_set_log_file("restore.log"), 0);
	ret = criu_restore();
	ASSERT_EQ(ret, pid);
	EXPECT_TRUE(self_check(pid, log, &oks));
	kill(pid, SIGKILL);
	gone(pid);
	criu_free_opts();
	close(fd);
}

TEST_TIMEOUT(service_local_opts, 120)
{
	char sock[4096], log[4096], slog[4096];
	criu_opts *o = NULL;
	pid_t svc, pid;
	int fd, oks = 0;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	path_in(sock, sizeof(sock), "libcriu.sock");
	path_in(slog, sizeof(slog), "libcriu-service.log");
	svc = fork();
	if (svc == 0) {
		execl(ferry, ferry, "service", "--address", sock, "-o", slog, "-v4", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK); i++)
		usleep(50000);
	ASSERT_EQ(criu_local_init_opts(&o), 0);
	ASSERT_EQ(criu_local_set_service_address(o, sock), 0);
	EXPECT_EQ(criu_local_check(o), 0);
	EXPECT_EQ(criu_local_get_version(o), 31700);

	path_in(log, sizeof(log), "counter2.log");
	pid = start_counter(log);
	fd = open_dir("img2");
	ASSERT_GE(fd, 0);
	criu_local_set_images_dir_fd(o, fd);
	criu_local_set_pid(o, pid);
	criu_local_set_leave_running(o, true);
	ASSERT_EQ(criu_local_dump(o), 0);
	EXPECT_TRUE(self_check(pid, log, &oks));	/* leave_running: it runs on, intact */
	kill(pid, SIGKILL);
	EXPECT_TRUE(gone(pid));
	EXPECT_EQ(criu_local_restore(o), pid);
	EXPECT_TRUE(self_check(pid, log, &oks));

	kill(svc, SIGTERM);
	waitpid(svc, NULL, 0);
	errno = 0;
	EXPECT_EQ(criu_local_check(o), -ECONNREFUSED);	/* the service is gone */
	EXPECT_TRUE(errno == ENOENT || errno == ECONNREFUSED);
	kill(pid, SIGKILL);
	gone(pid);
	criu_local_free_opts(o);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: libcriu_test FERRY COUNTER WORKDIR\n");
		return 2;
	}
	ferry = argv[1];
	counter = argv[2];
	work = argv[3];
	mkdir(work, 0755);
	return th_main(1, argv);
}
