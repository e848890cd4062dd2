// SPDX-License-Identifier: MIT
/*
 * Unit tests of kexec/cmdline.c: the next kernel's command line keeps this boot's
 * arguments (memmap= above all), drops BOOT_IMAGE=, initrd= and an older ferry.restore=,
 * adds ferry.restore=SPEC and the extra arguments, keeps quoted values whole, and refuses
 * what does not fit.
 */
#include "../harness.h"
#include "kexec.h"

TEST(cmdline_keeps_memmap_drops_boot_loader_words)
{
	char out[256];

	ASSERT_EQ(kexec_cmdline_build("BOOT_IMAGE=/vmlinuz-6.1 root=/dev/vda ro memmap=512M!1G "
				      "initrd=/initrd.img quiet",
				      "pmem:/dev/pmem0", NULL, out, sizeof(out)),
		  0);
	EXPECT_STREQ(out, "root=/dev/vda ro memmap=512M!1G quiet ferry.restore=pmem:/dev/pmem0");
}

TEST(cmdline_replaces_an_older_ferry_restore)
{
	char out[256];

	ASSERT_EQ(kexec_cmdline_build("console=ttyS0 ferry.restore=pmem:/dev/pmem1 panic=-1\n",
				      "pmem:/dev/pmem0", "e2e=x  y=z", out, sizeof(out)),
		  0);
	EXPECT_STREQ(out, "console=ttyS0 panic=-1 ferry.restore=pmem:/dev/pmem0 e2e=x y=z");
}

TEST(cmdline_quoted_values_stay_whole)
{
	char out[256];

	ASSERT_EQ(kexec_cmdline_build("a=\"x y\" BOOT_IMAGE=\"/b c\" d", NULL, NULL, out,
				      sizeof(out)),
		  0);
	EXPECT_STREQ(out, "a=\"x y\" d");
}

TEST(cmdline_too_long_or_bad_spec_refused)
{
	char out[24];

	EXPECT_EQ(kexec_cmdline_build("root=/dev/vda", "pmem:/dev/pmem0", NULL, out, sizeof(out)),
		  -ENAMETOOLONG);
	EXPECT_EQ(kexec_cmdline_build("root=/dev/vda", "a b", NULL, out, sizeof(out)), -EINVAL);
	EXPECT_EQ(kexec_cmdline_build("", NULL, "0123456789012345678901234", out, sizeof(out)),
		  -ENAMETOOLONG);
}

TEST_HARNESS_MAIN
