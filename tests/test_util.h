/*
 * test_util.h - small helpers shared by the C tests: temporary directories
 * and waiting for a condition with a deadline (tests never sleep for a
 * fixed time to "let things happen").
 */
#ifndef AMBIENT_TEST_UTIL_H
#define AMBIENT_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string. */
static inline char *test_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/ambient-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

/* rm -rf, for a directory the test made. */
static inline void test_rmdir(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static inline double test_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll cond(ud) every millisecond until it holds or `seconds` pass. */
static inline bool test_wait_until(bool (*cond)(void *), void *ud, double seconds)
{
	double end = test_now() + seconds;
	while (!cond(ud)) {
		if (test_now() > end)
			return false;
		usleep(1000);
	}
	return true;
}

#endif
