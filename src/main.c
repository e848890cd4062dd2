// SPDX-License-Identifier: MIT
/*
 * ferry: checkpoint/restore of process trees. This file is the verb table and the
 * dispatch; each verb lives in src/cmd-<verb>.c and parses its own options.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct cmd commands[] = {
	{ "dump", "checkpoint a process tree into images", cmd_dump, true },
	{ "restore", "restore a process tree from images", cmd_restore, true },
	{ "check", "check that the kernel has what ferry needs", cmd_check, true },
	{ "store", "manage an image store: init, ls, verify, rm", cmd_store, true },
	{ "upgrade", "move process trees into a new kernel with kexec", cmd_upgrade, true },
	{ "service", "serve CRIU's RPC on a unix socket (pycriu, libcriu clients)", cmd_service,
	  true },
	{ "swrk", "serve CRIU's RPC on an inherited socket (criu swrk FD)", cmd_swrk, true },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: ferry COMMAND [OPTIONS]\n"
		   "       ferry COMMAND --help\n"
		   "       ferry --version\n\n"
		   "Checkpoint process trees into images and restore them, on the same kernel or\n"
		   "across a kexec into a new one. Commands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nImages use CRIU's format; `crit` can decode them.\n");
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;

	cli_save_argv(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ferry %s\n", FERRY_VERSION);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "ferry: unknown command '%s'\n\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (cmd->needs_root && geteuid() != 0 && !wants_help(argc - 1, argv + 1)) {
		fprintf(stderr, "ferry %s: must be run as root (for now ferry needs "
				"CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE and ptrace over the tree)\n",
			cmd->name);
		return 1;
	}
	optind = 1;
	return cmd->run(argc - 1, argv + 1);
}
