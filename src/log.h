/* SPDX-License-Identifier: MIT */
/*
 * Logging for the ferry binary. Messages go to the log file (-o) when one is set and
 * errors/warnings also to stderr. A file sets LOG_PREFIX before including this header.
 * Nothing here is meant for per-page loops: log per area or per stage.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <errno.h>

enum log_level { LOG_ERR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

int log_init(const char *path, int level);
/* Log to fd (taken over: closed by log_fini). */
int log_init_fd(int fd, int level);
/* Log to the kernel log instead (/dev/kmsg, each line one record at its level). */
int log_init_kmsg(int level);
void log_fini(void);
int log_get_level(void);
/* The text of the last error logged ("" if none), for the RPC's cr_errmsg. */
const char *log_last_error(void);
void log_clear_error(void);
void log_msg(int level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define pr_err(fmt, ...) log_msg(LOG_ERR, __FILE__, __LINE__, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) log_msg(LOG_WARN, NULL, 0, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_msg(LOG_INFO, NULL, 0, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, NULL, 0, LOG_PREFIX fmt, ##__VA_ARGS__)
/* pr_perror: an error whose cause is errno; appends ": <strerror(errno)>". */
#define pr_perror(fmt, ...)                                                                      \
	log_msg(LOG_ERR, __FILE__, __LINE__, LOG_PREFIX fmt ": %m", ##__VA_ARGS__)

#endif
