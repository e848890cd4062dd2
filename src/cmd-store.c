// SPDX-License-Identifier: MIT
/*
 * `ferry store init|ls|verify|rm`: manage an image store (memfs/). A thin layer over
 * memfs.h: parse the subcommand and its arguments, print what memfs returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "cli.h"
#include "memfs.h"

static const char store_help[] =
	"Usage: ferry store init [SPEC] [--force]\n"
	"       ferry store ls [SPEC]\n"
	"       ferry store verify [SPEC] [ID...]\n"
	"       ferry store rm [SPEC] ID...\n\n"
	"Manage an image store: a place that holds checkpoints (`ferry dump --store SPEC`),\n"
	"each with a manifest (id, kernel, boot id, time, state, a checksum of every image).\n"
	"SPEC is dir:PATH (a directory) or pmem:/dev/DEVICE (a persistent-memory or other\n"
	"block device holding ext4, mounted with DAX where offered); the default is\n" MEMFS_DEFAULT_SPEC
	" (a tmpfs on most systems).\n\n"
	"  init    create the store: mkdir, or mkfs.ext4 on the device (which erases it;\n"
	"          a device that is not blank, holding a filesystem or a store, needs --force)\n"
	"  ls      list the checkpoints, oldest first, with their state\n"
	"  verify  check the size and checksum of every image (all checkpoints, or IDs)\n"
	"  rm      remove checkpoints and their images\n\n"
	"States: writing (dump running or died), sealed (restorable), restoring, restored,\n"
	"failed (a restore failed; retry with ferry restore --store SPEC --checkpoint ID).\n\n"
	"Options:\n"
	"      --force           init: erase a device that is not blank\n"
	"  -v[N]                 verbosity (see ferry dump --help)\n"
	"  -h, --help            this help\n";

struct store_args {
	const char *spec;	/* NULL: the default */
	char **ids;
	int nids;
	bool force;
};

static void print_size(uint64_t b, char *buf, size_t len)
{
	if (b >= (1ULL << 30))
		snprintf(buf, len, "%.1fG", b / (double)(1ULL << 30));
	else if (b >= (1ULL << 20))
		snprintf(buf, len, "%.1fM", b / (double)(1ULL << 20));
	else
		snprintf(buf, len, "%.1fK", b / 1024.0);
}

static void print_info(const struct memfs_ckpt_info *ci)
{
	time_t t = ci->created_ns / 1000000000ULL;
	char when[32] = "-", size[16];
	struct tm tm;

	if (ci->created_ns && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	print_size(ci->bytes, size, sizeof(size));
	printf("%-22s %-10s %5u %8s  %-20s %s%s%s\n", ci->id, memfs_state_name(ci->state),
	       ci->ntrees, size, when, ci->kernel[0] ? ci->kernel : "-", ci->note[0] ? "  " : "",
	       ci->note);
}

static int store_ls(struct memfs_store *s)
{
	struct memfs_ckpt_info *infos;
	uint64_t free_b = 0;
	char size[16];
	unsigned int n;
	int ret;

	ret = memfs_store_list(s, &infos, &n);
	if (ret)
		return 1;
	memfs_store_free_bytes(s, &free_b);
	print_size(free_b, size, sizeof(size));
	printf("store %s: %u checkpoint%s, %s free%s\n", memfs_store_spec(s), n, n == 1 ? "" : "s",
	       size, memfs_store_dax(s) ? ", DAX" : "");
	if (n)
		printf("%-22s %-10s %5s %8s  %-20s %s\n", "ID", "STATE", "TREES", "SIZE",
		       "CREATED", "KERNEL");
	for (unsigned int i = 0; i < n; i++)
		print_info(&infos[i]);
	free(infos);
	return 0;
}

static int verify_one(struct memfs_store *s, const char *id)
{
	if (memfs_ckpt_verify(s, id)) {
		printf("%s: FAILED\n", id);
		return 1;
	}
	printf("%s: ok\n", id);
	return 0;
}

static int store_verify(struct memfs_store *s, const struct store_args *a)
{
	struct memfs_ckpt_info *infos;
	unsigned int n;
	int bad = 0;

	for (int i = 0; i < a->nids; i++)
		bad |= verify_one(s, a->ids[i]);
	if (a->nids)
		return bad;
	if (memfs_store_list(s, &infos, &n))
		return 1;
	for (unsigned int i = 0; i < n; i++) {
		if (infos[i].state == MEMFS_WRITING) {
			printf("%s: not sealed (state writing), skipped\n", infos[i].id);
			continue;
		}
		bad |= verify_one(s, infos[i].id);
	}
	free(infos);
	return bad;
}

static int store_rm(struct memfs_store *s, const struct store_args *a)
{
	int bad = 0;

	if (!a->nids)
		return cli_usage_error("store rm", "which checkpoint? give its ID (ferry store ls)");
	for (int i = 0; i < a->nids; i++) {
		if (memfs_store_rm(s, a->ids[i]))
			bad = 1;
		else
			printf("%s: removed\n", a->ids[i]);
	}
	return bad;
}

static int run_sub(const char *sub, const struct store_args *a)
{
	struct memfs_store *s;
	int ret;

	if (!strcmp(sub, "init")) {
		if (a->nids)
			return cli_usage_error("store init", "unexpected argument '%s'", a->ids[0]);
		ret = memfs_store_init(a->spec, a->force);
		if (!ret)
			printf("store %s initialized\n", a->spec ? a->spec : MEMFS_DEFAULT_SPEC);
		return ret ? 1 : 0;
	}
	if (strcmp(sub, "ls") && strcmp(sub, "verify") && strcmp(sub, "rm"))
		return cli_usage_error("store", "unknown subcommand '%s'", sub);
	if (!strcmp(sub, "ls") && a->nids)
		return cli_usage_error("store ls", "unexpected argument '%s'", a->ids[0]);
	if (memfs_store_open(a->spec, &s))
		return 1;
	if (!strcmp(sub, "ls"))
		ret = store_ls(s);
	else if (!strcmp(sub, "verify"))
		ret = store_verify(s, a);
	else
		ret = store_rm(s, a);
	memfs_store_close(s);
	return ret;
}

int cmd_store(int argc, char **argv)
{
	enum { OPT_FORCE = 1000 };
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "verbosity", optional_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_args a = { 0 };
	struct common_opts co;
	int c, ret;

	common_opts_init(&co);
	while ((c = getopt_long(argc, argv, "v::h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(store_help, stdout);
			return 0;
		} else if (c == OPT_FORCE) {
			a.force = true;
		} else if (c != 'v' || !common_opt(&co, c, optarg)) {
			return cli_usage_error("store", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("store", "which subcommand? init, ls, verify or rm");
	/* a SPEC has a colon, a checkpoint id never has one */
	if (optind + 1 < argc && strchr(argv[optind + 1], ':'))
		a.spec = argv[optind + 1];
	a.ids = argv + optind + 1 + (a.spec != NULL);
	a.nids = argc - optind - 1 - (a.spec != NULL);
	log_init(NULL, co.verbosity);
	ret = run_sub(argv[optind], &a);
	log_fini();
	return ret;
}
