// SPDX-License-Identifier: MIT
/*
 * --tcp-established with both ends in the process: a TCP connection to itself over IPv4
 * and one over IPv6 (client and accepted end), with data queued unread in both directions
 * (more than a window's worth one way, so some of it is unacknowledged or unsent). After
 * restore each end reads exactly what was queued, in order, and the connections carry new
 * data both ways. Both ends come back from the images, so every flavour works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"
#include "tcp-lib.h"

static struct pair p[2];

static void check_pair(struct pair *q, const char *what)
{
	size_t more = 0;
	char w[64];

	snprintf(w, sizeof(w), "%s client->accepted", what);
	read_pat(q->acc, AB_BYTES, 0, w);
	snprintf(w, sizeof(w), "%s accepted->client", what);
	read_pat(q->cli, BA_BYTES, 1, w);
	zt_check(!send_pat(q->acc, 3000, 1, &more) && more == 3000, "%s: send after: %m", what);
	snprintf(w, sizeof(w), "%s new data", what);
	read_pat(q->cli, 3000, 1, w);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	if (make_pair(&p[0], AF_INET) || make_pair(&p[1], AF_INET6)) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	check_pair(&p[0], "v4");
	check_pair(&p[1], "v6");
	return zt_result();
}
