// SPDX-License-Identifier: MIT
/*
 * --tcp-established with half-closed connections between the root (client ends) and its
 * child (accepted ends), IPv4 and IPv6: FIN_WAIT2/CLOSE_WAIT, FIN_WAIT1, LAST_ACK and
 * CLOSING with data queued both ways (tcp-hc-lib.h). After restore each task checks its
 * own ends: the saved state (the root first, then the child), then at once new data in
 * the open directions, its queue then EOF, and a close without a reset (the root starts
 * the child's checks itself).
 */
#include <signal.h>

#include "tcp-hc-lib.h"

static struct hc_pair p[2][HC_NKINDS];

/* The three phases over the ends of side i (0: client, root; 1: accepted, child). */
static void close_side(int i)
{
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HC_NKINDS; k++)
			close(p[f][k].fd[i]);
}

static int child(void *arg)
{
	close_side(0);
	zt_task_ready();
	zt_wait();
	hc_check_side(p, 1, 0, 0);
	hc_touch("child-states-checked");
	hc_check_side(p, 1, 1, 3);
	return zt_result();
}

int main(int argc, char **argv)
{
	pid_t kid;

	zt_init(argc, argv);
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HC_NKINDS; k++)
			if (hc_make(&p[f][k], k, f ? AF_INET6 : AF_INET, 10 * (f * HC_NKINDS + k)) ||
			    hc_setup_ok(&p[f][k], k)) {
				zt_fail("setup %s %s: %m", f ? "v6" : "v4", hc_names[k]);
				return zt_result();
			}
	kid = zt_fork(child, NULL);
	close_side(1);
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	unlink("child-states-checked");
	hc_check_side(p, 0, 0, 0);
	zt_check(!kill(kid, SIGTERM), "cannot start the child's checks: %m");
	hc_wait_file("child-states-checked", 10);
	hc_check_side(p, 0, 1, 3);
	zt_collect();
	return zt_result();
}
