/*
 * crash_test.c - durability under SIGKILL.
 *
 * A child process runs task commands from many threads (creates, pauses,
 * resumes: each an append plus a projection update in one transaction) and
 * reports on a pipe every command the store acknowledged.  The parent kills
 * it with SIGKILL at a random moment, many times over the same database.
 * After each kill it reopens the store and checks that:
 *   - every acknowledged task exists, at least at the acknowledged version;
 *   - global positions are 1..head with no gap;
 *   - rebuilding the projection from the log matches the stored projection.
 *
 * Usage: crash_test [ROUNDS]        (the child mode is internal)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "app/tasks.h"
#include "common/uuid.h"
#include "domain/task.h"

#define THREADS 8
#define MAX_ACKS 200000

static struct store *child_store;
static int ack_fd;

/* One acknowledged command: "<task id> <version>\n" in one write (atomic on
 * a pipe below PIPE_BUF), sent only after the store returned. */
static void ack(const json_t *task)
{
	char line[128];
	int n = snprintf(line, sizeof line, "%s %lld\n",
			 json_string_value(json_object_get(task, "task_id")),
			 (long long)json_integer_value(json_object_get(task, "version")));
	if (write(ack_fd, line, (size_t)n) != n)
		_exit(3);
}

static void *child_worker(void *arg)
{
	json_t *cfg = json_pack("{s:s, s:i}", "type", "interval", "minutes", 5);
	struct app_actor who = {.principal = "crash-test"};
	struct err e = {0};
	(void)arg;

	for (;;) {
		json_t *task = NULL;
		if (app_task_create(child_store, &who, NULL, "schedule", "crash test", cfg, NULL, "u",
				    &task, &e)) {
			fprintf(stderr, "create: %s\n", e.msg);
			_exit(4);
		}
		ack(task);
		char id[UUID_STR_LEN + 1];
		snprintf(id, sizeof id, "%s", json_string_value(json_object_get(task, "task_id")));
		json_decref(task);
		for (int i = 0; i < 4; i++) {
			bool changed;
			int rc = i % 2 == 0 ? app_task_pause(child_store, &who, id, "test", &changed, &task, &e)
					    : app_task_resume(child_store, &who, id, &changed, &task, &e);
			if (rc) {
				fprintf(stderr, "pause/resume: %s\n", e.msg);
				_exit(5);
			}
			ack(task);
			json_decref(task);
		}
	}
	return NULL;
}

static int run_child(const char *url, int fd)
{
	struct err e = {0};
	pthread_t th[THREADS];

	ack_fd = fd;
	if (app_store_open(url, false, &child_store, &e)) {
		fprintf(stderr, "child open: %s\n", e.msg);
		return 2;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, child_worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	return 0;
}

struct acked {
	char id[UUID_STR_LEN + 1];
	long long version;
};

static int verify(const char *url, struct acked *acks, size_t nacks, int round)
{
	struct store *s = NULL;
	struct err e = {0};
	struct store_event_list l = {0};
	struct store_replay_report reports[8], r = {0};
	int failures = 0;

	if (app_store_open(url, false, &s, &e)) {
		fprintf(stderr, "round %d: reopen failed: %s\n", round, e.msg);
		return 1;
	}
	for (size_t i = 0; i < nacks; i++) {
		char stream[STORE_STREAM_MAX + 1];
		int64_t v = 0;
		task_stream_name(acks[i].id, stream, sizeof stream);
		if (store_stream_version(s, stream, &v, &e) || v < acks[i].version) {
			fprintf(stderr, "round %d: acknowledged %s v%lld but the store has v%lld\n", round,
				acks[i].id, acks[i].version, (long long)v);
			failures++;
		}
	}
	if (store_read_all(s, 0, false, 0, NULL, &l, &e)) {
		fprintf(stderr, "round %d: read_all: %s\n", round, e.msg);
		failures++;
	}
	for (size_t i = 0; i < l.count; i++) {
		if (l.items[i].position != (int64_t)i + 1) {
			fprintf(stderr, "round %d: gap: item %zu has position %lld\n", round, i,
				(long long)l.items[i].position);
			failures++;
			break;
		}
	}
	if (app_nprojections > sizeof reports / sizeof reports[0] ||
	    store_replay(s, false, reports, &e)) {
		fprintf(stderr, "round %d: replay: %s\n", round, e.msg);
		failures++;
	} else {
		for (size_t i = 0; i < app_nprojections; i++) {
			r.missing += reports[i].missing;
			r.extra += reports[i].extra;
			r.different += reports[i].different;
			if (!r.first_mismatch[0])
				memcpy(r.first_mismatch, reports[i].first_mismatch,
				       sizeof r.first_mismatch);
		}
	}
	if (r.missing || r.extra || r.different) {
		fprintf(stderr, "round %d: projection differs from the log (%lld/%lld/%lld, e.g. %s)\n",
			round, (long long)r.missing, (long long)r.extra, (long long)r.different,
			r.first_mismatch);
		failures++;
	}
	printf("round %2d: %zu events in the log, %zu acknowledged commands verified%s\n", round,
	       l.count, nacks, failures ? ", FAILED" : "");
	store_event_list_cleanup(&l);
	store_close(s);
	return failures;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return run_child(argv[2], atoi(argv[3]));

	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	char *dir = test_tmpdir("crash");
	char url[4200];
	struct acked *acks = calloc(MAX_ACKS, sizeof *acks);
	size_t nacks = 0;
	int failures = 0;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

	printf("crash test: seed %u, %d rounds, database in %s\n", seed, rounds, dir);
	srand(seed);
	snprintf(url, sizeof url, "sqlite:%s/events.db", dir);
	for (int round = 1; round <= rounds && !failures; round++) {
		int fds[2];
		if (pipe(fds) != 0)
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			char fdtext[16];
			snprintf(fdtext, sizeof fdtext, "%d", fds[1]);
			execl("/proc/self/exe", argv[0], "--child", url, fdtext, (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		/* Let it run 20-250 ms of appending, reading its acks meanwhile. */
		double kill_at = test_now() + 0.02 + (rand() % 230) / 1000.0;
		char buf[8192], partial[256] = "";
		size_t plen = 0;
		bool killed = false;
		for (;;) {
			struct pollfd p = {.fd = fds[0], .events = POLLIN};
			int left_ms = (int)((kill_at - test_now()) * 1000);
			if (!killed && left_ms <= 0) {
				kill(pid, SIGKILL);
				killed = true;
			}
			if (poll(&p, 1, killed ? 1000 : (left_ms > 0 ? left_ms : 0)) <= 0) {
				if (killed)
					break;
				continue;
			}
			ssize_t n = read(fds[0], buf, sizeof buf);
			if (n <= 0)
				break; /* the child is gone and the pipe drained */
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != '\n') {
					if (plen < sizeof partial - 1)
						partial[plen++] = buf[i];
					continue;
				}
				partial[plen] = '\0';
				plen = 0;
				if (nacks < MAX_ACKS &&
				    sscanf(partial, "%36s %lld", acks[nacks].id, &acks[nacks].version) == 2)
					nacks++;
			}
		}
		close(fds[0]);
		int status;
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "round %d: the child ended by itself (status %d)\n", round, status);
			failures++;
			break;
		}
		failures += verify(url, acks, nacks, round);
	}
	test_rmdir(dir);
	free(dir);
	free(acks);
	printf("%s\n", failures ? "crash test FAILED" : "crash test passed");
	return failures ? 1 : 0;
}
