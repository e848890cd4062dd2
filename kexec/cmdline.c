// SPDX-License-Identifier: MIT
/*
 * The next kernel's command line for `ferry upgrade`: this boot's /proc/cmdline minus what
 * the boot loader or an earlier upgrade added, plus ferry.restore=SPEC and the caller's
 * extra arguments. Quoted values ("a b") are kept whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "kexec.h"

static const char *const dropped[] = { "BOOT_IMAGE=", "initrd=", "ferry.restore=" };

static bool is_dropped(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		size_t l = strlen(dropped[i]);

		if (n >= l && !strncmp(w, dropped[i], l))
			return true;
	}
	return false;
}

/* Length of the word at s: up to the next blank outside double quotes. */
static size_t word_len(const char *s)
{
	bool quoted = false;
	size_t n = 0;

	for (; s[n] && (quoted || (s[n] != ' ' && s[n] != '\t' && s[n] != '\n')); n++)
		if (s[n] == '"')
			quoted = !quoted;
	return n;
}

static int append_word(char *out, size_t len, size_t *pos, const char *w, size_t n)
{
	size_t need = n + (*pos ? 1 : 0);

	if (*pos + need + 1 > len)
		return -ENAMETOOLONG;
	if (*pos)
		out[(*pos)++] = ' ';
	memcpy(out + *pos, w, n);
	*pos += n;
	out[*pos] = 0;
	return 0;
}

static int append_words(char *out, size_t len, size_t *pos, const char *s, bool filter)
{
	size_t n;
	int ret;

	while (s && *s) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		n = word_len(s);
		if (!n)
			break;
		if (!filter || !is_dropped(s, n)) {
			ret = append_word(out, len, pos, s, n);
			if (ret)
				return ret;
		}
		s += n;
	}
	return 0;
}

int kexec_cmdline_build(const char *current, const char *spec, const char *append, char *out,
			size_t len)
{
	size_t pos = 0;
	int ret;

	if (!len)
		return -ENAMETOOLONG;
	out[0] = 0;
	ret = append_words(out, len, &pos, current, true);
	if (!ret && spec) {
		if (strchr(spec, ' ') || strchr(spec, '"'))
			return -EINVAL;
		ret = append_word(out, len, &pos, "ferry.restore=", 14);
		if (!ret && pos + strlen(spec) + 1 > len)
			ret = -ENAMETOOLONG;
		if (!ret) {
			strcpy(out + pos, spec);
			pos += strlen(spec);
		}
	}
	if (!ret)
		ret = append_words(out, len, &pos, append, false);
	return ret;
}

int kexec_cmdline_current(char *out, size_t len)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		pr_perror("cannot open /proc/cmdline");
		return -errno;
	}
	n = read(fd, out, len - 1);
	if (n < 0) {
		pr_perror("cannot read /proc/cmdline");
		close(fd);
		return -EIO;
	}
	close(fd);
	out[n] = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	return 0;
}
