// SPDX-License-Identifier: MIT
/*
 * --tcp-established in a tree: a TCP connection between the root (client end) and its
 * child (accepted end), over IPv4 and IPv6, with data queued unread both ways (600 KiB
 * root->child, so some of it unacknowledged or unsent). After restore the root reads
 * what the child had sent and sends more; the child reads everything the root sent, in
 * order, and answers; the root reads the answer: both ends in two processes carry data
 * again (the network lock of the tree is gone).
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

static int child(void *arg)
{
	size_t more = 0;

	for (int i = 0; i < 2; i++)
		close(p[i].cli);
	zt_task_ready();
	zt_wait();
	for (int i = 0; i < 2; i++) {
		const char *v = i ? "v6" : "v4";
		char w[64];

		snprintf(w, sizeof(w), "%s root->child", v);
		read_pat(p[i].acc, AB_BYTES, 0, w);
		snprintf(w, sizeof(w), "%s root->child after restore", v);
		read_pat(p[i].acc, 3000, 2, w);
		more = 0;
		zt_check(!send_pat(p[i].acc, 3000, 3, &more) && more == 3000, "%s: answer: %m", v);
	}
	return zt_result();
}

int main(int argc, char **argv)
{
	size_t more;

	zt_init(argc, argv);
	if (make_pair(&p[0], AF_INET) || make_pair(&p[1], AF_INET6)) {
		zt_fail("setup: %m");
		return zt_result();
	}
	zt_fork(child, NULL);
	for (int i = 0; i < 2; i++)
		close(p[i].acc);
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	for (int i = 0; i < 2; i++) {
		char w[64];

		snprintf(w, sizeof(w), "%s child->root", i ? "v6" : "v4");
		read_pat(p[i].cli, BA_BYTES, 1, w);
		more = 0;
		zt_check(!send_pat(p[i].cli, 3000, 2, &more) && more == 3000, "send after: %m");
	}
	zt_collect();
	for (int i = 0; i < 2; i++)
		read_pat(p[i].cli, 3000, 3, i ? "v6 the child's answer" : "v4 the child's answer");
	return zt_result();
}
