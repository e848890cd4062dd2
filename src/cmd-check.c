// SPDX-License-Identifier: MIT
/*
 * `ferry check`: run the kernel feature probes of kerndat.c and print one line per feature
 * (ok / MISSING / warn) with the reason. Exit 0 when every required feature is present.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "cli.h"
#include "kerndat.h"

static const char check_help[] =
	"Usage: ferry check [--feature NAME] [-v]\n\n"
	"Try each kernel interface ferry relies on, against the running kernel, and print\n"
	"one line per feature: 'ok', 'MISSING' (a required feature is absent) or 'warn' (an\n"
	"optional one is absent: some things will not work). Exits 0 when every required\n"
	"feature is present, 1 otherwise. With --feature, exits 0 when that feature is present.\n\n"
	"Options:\n"
	"      --feature NAME  check only NAME (see the list below)\n"
	"  -v, --verbose       also print what each probe saw\n"
	"  -h, --help          this help\n\n"
	"Features (* = required):\n";

static void print_help(void)
{
	fputs(check_help, stdout);
	for (int i = 0; i < KD_NR; i++)
		printf("  %c %-18s %s\n", kerndat_features[i].required ? '*' : ' ',
		       kerndat_features[i].name, kerndat_features[i].what);
}

static const char *status_word(const struct kerndat *kd, const struct kerndat_feature *f)
{
	if (kd->has[f->id])
		return "ok";
	return f->required ? "MISSING" : "warn";
}

static void print_feature(const struct kerndat *kd, const struct kerndat_feature *f, bool verbose)
{
	printf("%-8s %-18s %s\n", status_word(kd, f), f->name, kd->why[f->id]);
	if (verbose) {
		printf("         %-18s for: %s\n", "", f->what);
		if (kd->detail[f->id][0])
			printf("         %-18s saw: %s\n", "", kd->detail[f->id]);
	}
}

static int check_one(struct kerndat *kd, const char *name, bool verbose)
{
	const struct kerndat_feature *f = kerndat_find(name);

	if (!f)
		return cli_usage_error("check", "unknown feature '%s' (the list is in --help)", name);
	kerndat_probe_one(kd, f->id);
	print_feature(kd, f, verbose);
	return kd->has[f->id] ? 0 : 1;
}

static int check_all(struct kerndat *kd, bool verbose)
{
	int missing = 0, warned = 0;

	kerndat_probe(kd);
	for (int i = 0; i < KD_NR; i++) {
		const struct kerndat_feature *f = &kerndat_features[i];

		print_feature(kd, f, verbose);
		if (!kd->has[f->id])
			f->required ? missing++ : warned++;
	}
	if (missing)
		printf("\n%d required feature(s) missing: ferry cannot dump or restore here.\n",
		       missing);
	else
		printf("\nAll required features are present (%d optional missing).\n", warned);
	return missing ? 1 : 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "feature", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *feature = NULL;
	bool verbose = false;
	struct kerndat kd;
	int c;

	while ((c = getopt_long(argc, argv, "f:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			feature = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			print_help();
			return 0;
		default:
			return cli_usage_error("check", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
	log_init(NULL, LOG_WARN); /* details are printed by -v itself */
	kerndat_init(&kd);
	fflush(stdout); /* probes fork: nothing buffered may be written twice */
	return feature ? check_one(&kd, feature, verbose) : check_all(&kd, verbose);
}
