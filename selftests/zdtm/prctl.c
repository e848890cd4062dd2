// SPDX-License-Identifier: MIT
/*
 * Task state kept by prctl and friends: name, no_new_privs, dumpable (off), parent-death
 * signal, child subreaper, THP disable, personality (ADDR_NO_RANDOMIZE), umask. After
 * restore each reads back the same from inside.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

struct expect {
	char name[16];
	int pdeath;
	int umask;
	int persona;
};
static struct expect want = { "zt-prctl-name", 0, 027, ADDR_NO_RANDOMIZE }; /* exposed */

int main(int argc, char **argv)
{
	char name[17] = "";
	int sig = 0, v;
	mode_t m;

	zt_init(argc, argv);
	want.pdeath = SIGUSR2;
	signal(SIGUSR2, SIG_IGN); /* ferry restore -d exits: the parent-death signal comes */
	if (prctl(PR_SET_NAME, want.name) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_DUMPABLE, 0) || prctl(PR_SET_PDEATHSIG, want.pdeath) ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) || prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) ||
	    personality(want.persona) < 0) {
		zt_fail("prctl: %m");
		return zt_result();
	}
	umask(want.umask);
	zt_expose(&want, sizeof(want));
	zt_ready();
	zt_wait();

	prctl(PR_GET_NAME, name);
	zt_check(!strcmp(name, want.name), "name '%s'", name);
	v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	zt_check(v == 1, "no_new_privs %d", v);
	v = prctl(PR_GET_DUMPABLE);
	zt_check(v == 0, "dumpable %d", v);
	prctl(PR_GET_PDEATHSIG, &sig);
	zt_check(sig == want.pdeath, "parent-death signal %d", sig);
	v = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	zt_check(v == 1, "child subreaper %d", v);
	v = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	zt_check(v == 1, "THP disable %d", v);
	v = personality(0xffffffff);
	zt_check(v == want.persona, "personality %#x", v);
	m = umask(0);
	zt_check((int)m == want.umask, "umask %03o", m);
	return zt_result();
}
