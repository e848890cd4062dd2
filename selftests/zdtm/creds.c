// SPDX-License-Identifier: MIT
/*
 * Credentials: distinct real/effective/saved uids and gids, supplementary groups, a
 * capability set kept over the uid change (PR_SET_KEEPCAPS, then capset), a capability
 * dropped from the bounding set. All are read back after restore.
 */
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

struct expect {
	uid_t uid[3];
	gid_t gid[3];
	gid_t groups[3];
	uint32_t eff, prm, inh; /* capabilities 0..31 */
};

static struct expect want = {
	{ 1000, 1004, 1005 },
	{ 1001, 1002, 1003 },
	{ 1001, 1002, 2000 },
	(1U << CAP_CHOWN) | (1U << CAP_KILL),
	(1U << CAP_CHOWN) | (1U << CAP_KILL) | (1U << CAP_NET_BIND_SERVICE) | (1U << CAP_SETUID),
	(1U << CAP_KILL),
};

static int caps_get(uint32_t *eff, uint32_t *prm, uint32_t *inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	*eff = d[0].effective;
	*prm = d[0].permitted;
	*inh = d[0].inheritable;
	return 0;
}

static int caps_set(uint32_t eff, uint32_t prm, uint32_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { eff, prm, inh }, { 0, 0, 0 } };

	return syscall(SYS_capset, &h, d);
}

static int cmp_gid(const void *a, const void *b)
{
	return *(const gid_t *)a - *(const gid_t *)b;
}

int main(int argc, char **argv)
{
	uid_t r, e, s;
	gid_t rg, eg, sg, groups[64];
	uint32_t eff, prm, inh;
	int n;

	zt_init(argc, argv);
	if (getuid() != 0)
		zt_skip("needs root to change its credentials");
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) || setgroups(3, want.groups) ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresgid(want.gid[0], want.gid[1], want.gid[2]) ||
	    setresuid(want.uid[0], want.uid[1], want.uid[2]) ||
	    caps_set(want.eff, want.prm, want.inh)) {
		zt_fail("setting up the credentials: %m");
		return zt_result();
	}

	zt_expose(&want, sizeof(want.uid));
	zt_ready();
	zt_wait();

	getresuid(&r, &e, &s);
	zt_check(r == want.uid[0] && e == want.uid[1] && s == want.uid[2],
		 "uids are %d/%d/%d, expected %d/%d/%d", r, e, s, want.uid[0], want.uid[1],
		 want.uid[2]);
	getresgid(&rg, &eg, &sg);
	zt_check(rg == want.gid[0] && eg == want.gid[1] && sg == want.gid[2],
		 "gids are %d/%d/%d, expected %d/%d/%d", rg, eg, sg, want.gid[0], want.gid[1],
		 want.gid[2]);
	zt_check((uid_t)setfsuid(-1) == want.uid[1], "fsuid is %d", setfsuid(-1));
	zt_check((gid_t)setfsgid(-1) == want.gid[1], "fsgid is %d", setfsgid(-1));
	n = getgroups(64, groups);
	qsort(groups, n > 0 ? n : 0, sizeof(gid_t), cmp_gid);
	zt_check(n == 3 && !memcmp(groups, want.groups, sizeof(want.groups)),
		 "%d supplementary groups (first %d), expected 3", n, n > 0 ? (int)groups[0] : -1);
	if (caps_get(&eff, &prm, &inh)) {
		zt_fail("capget: %m");
	} else {
		zt_check(eff == want.eff, "effective caps 0x%x, expected 0x%x", eff, want.eff);
		zt_check(prm == want.prm, "permitted caps 0x%x, expected 0x%x", prm, want.prm);
		zt_check(inh == want.inh, "inheritable caps 0x%x, expected 0x%x", inh, want.inh);
	}
	zt_check(prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0) == 0,
		 "CAP_SYS_BOOT is back in the bounding set");
	zt_check(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 1,
		 "CAP_CHOWN is gone from the bounding set");
	zt_check(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "keep-caps is off");
	return zt_result();
}
