// SPDX-License-Identifier: MIT
/*
 * A pipe between two siblings, the shape of the kexec test's tree (selftests/kexec in
 * the upgrade branch): the root forks a writer and a reader and closes both ends itself;
 * 3000 bytes are in flight. After restore the writer adds a tail and closes its end; the
 * reader reads the data, the tail and then EOF within 20 s: neither the root (which
 * creates the pipe for both on restore) nor the reader may hold a write end. The checks
 * are the children's: the root exposes nothing to damage.
 */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define FD_R 20
#define FD_W 21
#define IN_FLIGHT 3000

static const char tail[32] = "the writer's tail";

static unsigned char pattern(int i)
{
	return (unsigned char)zt_mix(i + 77);
}

static int writer(void *arg)
{
	close(FD_R);
	zt_task_ready();
	zt_wait();
	zt_check(write(FD_W, tail, sizeof(tail)) == sizeof(tail), "write: %m");
	close(FD_W);
	return zt_result();
}

static int reader(void *arg)
{
	static unsigned char buf[IN_FLIGHT + 64];
	struct pollfd pfd = { .fd = FD_R, .events = POLLIN };
	size_t got = 0;
	ssize_t n = 1;
	int i, bad = -1;

	close(FD_W);
	zt_task_ready();
	zt_wait();
	while (n > 0 && got < sizeof(buf)) {
		if (poll(&pfd, 1, 20000) != 1) {
			zt_fail("no EOF after %zu bytes within 20 s: a write end is still held", got);
			return zt_result();
		}
		n = read(FD_R, buf + got, sizeof(buf) - got);
		got += n > 0 ? n : 0;
	}
	zt_check(n == 0 && got == IN_FLIGHT + sizeof(tail), "read %zu bytes (last read %zd), "
		 "expected %zu then EOF", got, n, IN_FLIGHT + sizeof(tail));
	for (i = 0; i < IN_FLIGHT && i < (int)got && bad < 0; i++)
		if (buf[i] != pattern(i))
			bad = i;
	zt_check(bad < 0, "byte %d of the data in flight differs", bad);
	zt_check(got < IN_FLIGHT + sizeof(tail) || !memcmp(buf + IN_FLIGHT, tail, sizeof(tail)),
		 "the writer's tail differs");
	return zt_result();
}

int main(int argc, char **argv)
{
	unsigned char buf[IN_FLIGHT];
	int p[2], i;

	zt_init(argc, argv);
	for (i = 0; i < IN_FLIGHT; i++)
		buf[i] = pattern(i);
	if (pipe(p) || dup2(p[0], FD_R) != FD_R || dup2(p[1], FD_W) != FD_W || close(p[0]) ||
	    close(p[1]) || write(FD_W, buf, IN_FLIGHT) != IN_FLIGHT) {
		zt_fail("pipe: %m");
		return zt_result();
	}
	zt_fork(writer, NULL);
	zt_fork(reader, NULL);
	close(FD_R);
	close(FD_W);
	zt_ready();
	zt_wait();
	zt_collect();
	return zt_result();
}
