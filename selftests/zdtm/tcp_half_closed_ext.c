// SPDX-License-Identifier: MIT
/*
 * --tcp-established with half-closed connections to a peer outside the dumped process:
 * the pairs of tcp-hc-lib.h (FIN_WAIT2/CLOSE_WAIT, FIN_WAIT1, LAST_ACK, CLOSING, v4 and
 * v6), the accepted ends handed to a peer forked away (double fork, its own session). The
 * peer's sockets stay live through dump and restore (the network lock holds their
 * packets). After SIGTERM both sides run the checks on their ends at once; the peer
 * leaves its verdict in peer.result (its messages in peer.out). Flavours dump and
 * vdso-proxy (a dump -R or a second restore would close the connections on the peer).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "tcp-hc-lib.h"

static struct hc_pair p[2][HC_NKINDS];

static void close_side(int i)
{
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HC_NKINDS; k++)
			close(p[f][k].fd[i]);
}

static void __attribute__((noreturn)) peer(void)
{
	int fd = open("peer.out", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(1);
	close_side(0);
	hc_wait_file("peer-go", 600);
	hc_check_side(p, 1, 0, 0);
	hc_touch("peer-states-checked");
	hc_check_side(p, 1, 1, 3);
	fd = open("peer.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, zt_failed() ? "FAIL\n" : "PASS\n", 5) == 5)
		rename("peer.tmp", "peer.result");
	_exit(0);
}

/* The peer away from our tree: an intermediate child in a new session, then its child. */
static int start_peer(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		setsid();
		if (fork() == 0)
			peer();
		_exit(0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

static void relay_peer(void)
{
	char line[512];
	FILE *f = fopen("peer.result", "r");
	bool pass = f && fgets(line, sizeof(line), f) && !strncmp(line, "PASS", 4);

	if (f)
		fclose(f);
	zt_check(pass, "the peer outside the tree did not pass (or gave no verdict)");
	f = pass ? NULL : fopen("peer.out", "r");
	while (f && fgets(line, sizeof(line), f))
		zt_msg("peer: %s", line);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	zt_init(argc, argv);
	zt_only_flavours("dump,vdso-proxy,selfcheck,corrupt");
	unlink("peer-go");
	unlink("peer-states-checked");
	unlink("peer.result");
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < HC_NKINDS; k++)
			if (hc_make(&p[f][k], k, f ? AF_INET6 : AF_INET, 10 * (f * HC_NKINDS + k)) ||
			    hc_setup_ok(&p[f][k], k)) {
				zt_fail("setup %s %s: %m", f ? "v6" : "v4", hc_names[k]);
				return zt_result();
			}
	if (start_peer()) {
		zt_fail("cannot start the peer: %m");
		return zt_result();
	}
	close_side(1);
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	hc_check_side(p, 0, 0, 0);
	hc_touch("peer-go");
	hc_wait_file("peer-states-checked", 10);
	hc_check_side(p, 0, 1, 3);
	hc_wait_file("peer.result", 60);
	relay_peer();
	return zt_result();
}
