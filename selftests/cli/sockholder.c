// SPDX-License-Identifier: MIT
/*
 * A process holding a socket to a peer outside it, for the CLI socket tests:
 *   sockholder tcp PORT [pidfd]   connect to 127.0.0.1:PORT (then open a pidfd, which
 *                                 ferry cannot dump: the dump fails after the socket)
 *   sockholder tcp4 ADDR PORT     connect to ADDR:PORT (IPv4)
 *   sockholder unix PATH          connect a unix stream socket to PATH
 * Then it echoes back every byte it reads, forever. Its socket is fd 3; a TCP one has
 * SO_REUSEADDR on.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_tcp(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	/* an option that TCP repair changes: the tests check it comes back */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return -1;
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -1 : fd;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	return fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -1 : fd;
}

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "tcp4") && argc > 3)
		fd = connect_tcp(argv[2], atoi(argv[3]));
	else if (!strcmp(argv[1], "tcp"))
		fd = connect_tcp("127.0.0.1", atoi(argv[2]));
	else
		fd = connect_unix(argv[2]);
	if (fd < 0)
		return 1;
	if (strcmp(argv[1], "tcp4") && argc > 3 && syscall(SYS_pidfd_open, getpid(), 0) < 0)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			return 1;
	return 0;
}
