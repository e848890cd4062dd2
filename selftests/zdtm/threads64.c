// SPDX-License-Identifier: MIT
/* Threads, 64 of them: the threads.c checks in every thread of a larger process. */
#define NTHREADS 64
#include "threads.c"
