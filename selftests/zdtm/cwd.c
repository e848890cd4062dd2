// SPDX-License-Identifier: MIT
/*
 * Working directory (a directory with a space in its name, two levels down the work
 * dir) and umask: after restore getcwd(), /proc/self/cwd and stat(".") name the same
 * directory and the umask is the one set.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib.h"

static struct {
	mode_t umask;
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];
} want = { .umask = 027 }; /* exposed: the umask */

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	mode_t m;

	zt_init(argc, argv);
	if ((mkdir("cwd dir", 0755) && errno != EEXIST) ||
	    (mkdir("cwd dir/deeper", 0700) && errno != EEXIST) || chdir("cwd dir/deeper") ||
	    !getcwd(want.path, sizeof(want.path)) || stat(".", &st)) {
		zt_fail("setting up the directory: %m");
		return zt_result();
	}
	want.dev = st.st_dev;
	want.ino = st.st_ino;
	umask(want.umask);

	zt_expose(&want.umask, sizeof(want.umask));
	zt_ready();
	zt_wait();

	m = umask(0);
	umask(m);
	zt_check(m == want.umask, "umask is %03o, expected %03o", m, want.umask);
	zt_check(getcwd(path, sizeof(path)) && !strcmp(path, want.path), "cwd is %s, expected %s",
		 path, want.path);
	n = readlink("/proc/self/cwd", path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	zt_check(!strcmp(path, want.path), "/proc/self/cwd is %s", path);
	zt_check(!stat(".", &st) && st.st_dev == want.dev && st.st_ino == want.ino,
		 "\".\" is another directory");
	return zt_result();
}
