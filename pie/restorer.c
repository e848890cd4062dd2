// SPDX-License-Identifier: MIT
/* Placeholder restorer blob until the restore engine lands. */
__attribute__((section(".text.entry"))) void restorer_entry(void)
{
	for (;;)
		;
}
