/* test_clock_demo.c - the demo clock: followed from the environment, moved in jumps. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"

#define US 1000000LL
#define HOUR (3600 * US)

static char dir[] = "/tmp/ambient-clock-test-XXXXXX";

static int64_t real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000;
}

/* |a - b| is within a minute (the test does not depend on timing). */
static void assert_near(int64_t a, int64_t b)
{
	int64_t d = a > b ? a - b : b - a;
	if (d > 60 * US)
		fail_msg("%lld and %lld are %lld us apart", (long long)a, (long long)b,
			 (long long)d);
}

static void write_file(const char *path, const char *magic, int64_t offset)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(magic, 1, 8, f), 8);
	assert_int_equal(fwrite(&offset, sizeof(offset), 1, f), 1);
	fclose(f);
}

static int64_t file_offset(const char *path)
{
	int64_t off = 0;
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &off, sizeof(off), 8), (ssize_t)sizeof(off));
	close(fd);
	return off;
}

/* Must run first: the environment is read once per process. */
static void test_follows_the_file_named_in_the_environment(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/follow", dir);
	write_file(path, "AMBCLK01", 5 * HOUR);
	setenv(CLOCK_DEMO_ENV, path, 1);
	assert_near(clock_wall_us(NULL), real_us() + 5 * HOUR);
	assert_near(clock_wall_us(clock_system()), real_us() + 5 * HOUR);
	assert_int_equal(clock_demo_offset(), 5 * HOUR);

	/* Another process (here: a write to the file) jumps: seen at once. */
	int fd = open(path, O_WRONLY);
	int64_t later = 7 * HOUR;
	assert_int_equal(pwrite(fd, &later, sizeof(later), 8), (ssize_t)sizeof(later));
	close(fd);
	assert_int_equal(clock_demo_offset(), 7 * HOUR);
	assert_near(clock_wall_us(NULL), real_us() + 7 * HOUR);

	/* Monotonic time and fake clocks are not moved. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_near(clock_mono_us(NULL), (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000);
	struct clock fake;
	clock_fake_init(&fake, 1000 * US);
	assert_int_equal(clock_wall_us(&fake), 1000 * US);
}

static void test_create_and_jump(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/clock", dir);
	struct err e = {0};
	assert_int_equal(clock_demo_create(path, &e), ERR_OK);
	assert_int_equal(clock_demo_offset(), 0);
	assert_near(clock_wall_us(NULL), real_us());

	int64_t target = real_us() + 30 * HOUR;
	clock_demo_jump_to(target);
	assert_near(clock_wall_us(NULL), target);
	assert_near(file_offset(path), 30 * HOUR); /* what the children read */

	/* Time never goes back. */
	int64_t before = clock_wall_us(NULL);
	clock_demo_jump_to(real_us() + HOUR);
	assert_true(clock_wall_us(NULL) >= before);
	assert_near(clock_wall_us(NULL), target);
}

static void test_create_fails_with_the_reason(void **state)
{
	(void)state;
	struct err e = {0};
	assert_int_equal(clock_demo_create("/nonexistent-dir/clock", &e), ERR_IO);
	assert_non_null(strstr(err_msg(&e), "/nonexistent-dir/clock"));
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follows_the_file_named_in_the_environment),
		cmocka_unit_test(test_create_and_jump),
		cmocka_unit_test(test_create_fails_with_the_reason),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
