// SPDX-License-Identifier: MIT
/*
 * --ext-unix-sk: unix sockets connected to a process outside the dumped one (forked away,
 * in its own session): a datagram socket connected to the peer's bound datagram socket, and
 * a stream socket connected to the peer's listener. After restore both are connected by name
 * again: what the test sends then reaches the peer, which records every message in a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define DGRAM_PATH "ext-dgram.sock"
#define STREAM_PATH "ext-stream.sock"
#define LOG "ext-peer.log"

static int dg, st;

static struct sockaddr_un un(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	return sa;
}

/* The peer: logs "D <msg>" / "S <msg>" for what arrives, until told to stop (2 min at most). */
static void peer(int d, int l)
{
	struct pollfd pf[8] = { { d, POLLIN, 0 }, { l, POLLIN, 0 } };
	int n = 2, i, logfd = open(LOG, O_WRONLY | O_CREAT | O_APPEND, 0644);
	time_t end = time(NULL) + 120;
	char buf[256], line[300];
	ssize_t r;

	while (time(NULL) < end && access("ext-peer.stop", F_OK) && poll(pf, n, 100) >= 0) {
		for (i = 0; i < n; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (i == 1) {
				if (n < 8)
					pf[n++] = (struct pollfd){ accept(l, NULL, NULL), POLLIN, 0 };
				continue;
			}
			r = recv(pf[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (r <= 0) {
				if (i > 1)
					pf[i].fd = -1;
				continue;
			}
			buf[r] = 0;
			r = snprintf(line, sizeof(line), "%c %s\n", i ? 'S' : 'D', buf);
			if (write(logfd, line, r) != r)
				_exit(1);
		}
	}
	_exit(0);
}

static int setup(void)
{
	struct sockaddr_un ds = un(DGRAM_PATH), ss = un(STREAM_PATH);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0), l = socket(AF_UNIX, SOCK_STREAM, 0), status;
	pid_t pid;

	unlink(DGRAM_PATH), unlink(STREAM_PATH), unlink(LOG), unlink("ext-peer.stop");
	if (d < 0 || l < 0 || bind(d, (struct sockaddr *)&ds, sizeof(ds)) ||
	    bind(l, (struct sockaddr *)&ss, sizeof(ss)) || listen(l, 4))
		return -1;
	pid = fork();
	if (pid == 0) {
		setsid(); /* our PID is our session's: the peer must not hold it */
		if (fork() == 0)
			peer(d, l);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	close(d), close(l);
	dg = socket(AF_UNIX, SOCK_DGRAM, 0);
	st = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(dg, (struct sockaddr *)&ds, sizeof(ds)) ||
	    connect(st, (struct sockaddr *)&ss, sizeof(ss)))
		return -1;
	return send(dg, "before", 6, 0) == 6 && send(st, "before", 6, 0) == 6 ? 0 : -1;
}

static bool logged(const char *want)
{
	char buf[4096] = "";
	int fd, i;

	for (i = 0; i < 200; i++) {
		fd = open(LOG, O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			close(fd);
			buf[n > 0 ? n : 0] = 0;
			if (strstr(buf, want))
				return true;
		}
		usleep(10000);
	}
	return false;
}

int main(int argc, char **argv)
{
	char msg[64];

	zt_init(argc, argv);
	if (setup()) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_dump_option("--ext-unix-sk");
	zt_ready();
	zt_wait();
	snprintf(msg, sizeof(msg), "after-%d", getpid());
	zt_check(send(dg, msg, strlen(msg), MSG_DONTWAIT) == (ssize_t)strlen(msg),
		 "datagram socket: send: %m");
	zt_check(send(st, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)strlen(msg),
		 "stream socket: send: %m");
	snprintf(msg, sizeof(msg), "D after-%d", getpid());
	zt_check(logged(msg), "the peer did not get the datagram sent after the restore");
	snprintf(msg, sizeof(msg), "S after-%d", getpid());
	zt_check(logged(msg), "the peer did not get the stream data sent after the restore");
	close(open("ext-peer.stop", O_WRONLY | O_CREAT, 0644));
	return zt_result();
}
