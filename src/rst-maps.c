// SPDX-License-Identifier: MIT
/*
 * Restore helpers on address-space layouts: /proc/self/maps parsed without malloc (it is
 * also read right before the jump into the blob, when the list must be exact), and a
 * search for a free gap that avoids a list of busy ranges.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "restore: "
#include "log.h"
#include "rst-maps.h"

static char maps_buf[1 << 20];

static unsigned long parse_hex(const char **p)
{
	unsigned long v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + c - 'a' + 10;
		else
			return v;
	}
}

static enum rst_map_kind name_kind(const char *name, size_t len)
{
	static const struct {
		const char *name;
		enum rst_map_kind kind;
	} names[] = {
		{ "[vdso]", RST_MAP_VDSO },
		{ "[vvar]", RST_MAP_VVAR },
		{ "[vvar_vclock]", RST_MAP_VVAR_VCLOCK },
		{ "[vsyscall]", RST_MAP_VSYSCALL },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && !memcmp(names[i].name, name, len))
			return names[i].kind;
	return RST_MAP_OTHER;
}

static ssize_t read_all(int fd)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len)) > 0)
		len += n;
	if (n < 0 || len >= sizeof(maps_buf) - 1)
		return -1;
	maps_buf[len] = 0;
	return len;
}

ssize_t rst_maps_read(struct rst_map *out, size_t max)
{
	const char *p, *eol, *name;
	size_t n = 0;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read_all(fd) < 0) {
		close(fd);
		return -EIO;
	}
	close(fd);
	for (p = maps_buf; *p && n < max; p = eol + 1) {
		eol = strchr(p, '\n');
		if (!eol)
			break;
		out[n].start = parse_hex(&p);
		p++;
		out[n].end = parse_hex(&p);
		name = eol;
		while (name > p && name[-1] != ' ')
			name--;
		out[n].kind = name_kind(name, eol - name);
		n++;
	}
	return *p ? -E2BIG : (ssize_t)n;
}

static int cmp_range(const void *a, const void *b)
{
	const struct rst_map *x = a, *y = b;

	return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * The highest gap of size bytes below top that avoids busy[] (sorted here by end, so that
 * overlapping busy ranges are handled); 0 if none.
 */
unsigned long rst_find_gap(struct rst_map *busy, size_t n, unsigned long size, unsigned long top)
{
	unsigned long hi = top;
	size_t i;

	qsort(busy, n, sizeof(*busy), cmp_range);
	for (i = n; i-- > 0;) {
		if (busy[i].end <= hi && hi - busy[i].end >= size)
			return hi - size;
		if (busy[i].start < hi)
			hi = busy[i].start;
	}
	return hi >= size + RST_MAP_MIN_ADDR ? hi - size : 0;
}
