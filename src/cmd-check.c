// SPDX-License-Identifier: MIT
/* Placeholder until `ferry check` lands. */
#include <stdio.h>
#include "cli.h"

int cmd_check(int argc, char **argv)
{
	fprintf(stderr, "ferry check: not implemented yet\n");
	return 1;
}
