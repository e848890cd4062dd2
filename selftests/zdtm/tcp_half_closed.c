// SPDX-License-Identifier: MIT
/*
 * --tcp-established with half-closed connections inside one process, IPv4 and IPv6:
 * FIN_WAIT2/CLOSE_WAIT, FIN_WAIT1 (FIN behind unsent data), LAST_ACK and CLOSING, data
 * queued both ways (tcp-hc-lib.h). After restore every socket is in its state again, the
 * open directions carry new data, each side reads its queue then EOF, and every
 * connection closes without a reset. Both ends come back from the images: all flavours.
 */
#include "tcp-hc-lib.h"

static struct hc_pair p[2][HC_NKINDS];

int main(int argc, char **argv)
{
	int f, k, i;

	zt_init(argc, argv);
	for (f = 0; f < 2; f++)
		for (k = 0; k < HC_NKINDS; k++)
			if (hc_make(&p[f][k], k, f ? AF_INET6 : AF_INET, 10 * (f * HC_NKINDS + k)) ||
			    hc_setup_ok(&p[f][k], k)) {
				zt_fail("setup %s %s: %m", f ? "v6" : "v4", hc_names[k]);
				return zt_result();
			}
	zt_dump_option("--tcp-established");
	zt_expose(p, sizeof(p));
	zt_ready();
	zt_wait();
	/* phase by phase over all sockets: each waits for what its peer did before */
	for (i = 0; i < 2; i++)
		hc_check_side(p, i, 0, 0);
	for (int phase = 1; phase <= 3; phase++)
		for (i = 0; i < 2; i++)
			hc_check_side(p, i, phase, phase);
	return zt_result();
}
