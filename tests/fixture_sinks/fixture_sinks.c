/*
 * fixture_sinks.c - the notification sinks (sinks.h) as a program, for
 * integration tests and the offline demo.
 *
 * Usage: fixture_sinks [--http-port N] [--smtp-port M] [--no-smtp]
 *                      [--twilio-sid SID --twilio-token TOKEN]
 *                      [--smtp-user U --smtp-pass P] [--openai-key KEY]
 *                      [--port-file FILE]
 * Binds 127.0.0.1 only; port 0 (the default) is ephemeral.  When ready it
 * prints "listening http://127.0.0.1:H smtp://127.0.0.1:S" on stdout and, with
 * --port-file, writes "H S\n" to FILE (through a temporary file and a rename,
 * so a reader never sees half of it).  SIGTERM or SIGINT stops it.
 * Endpoints: see the top of sinks.c and docs/channels.md.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks.h"

static void usage(void)
{
	fprintf(stderr, "usage: fixture_sinks [--http-port N] [--smtp-port M] [--no-smtp]\n"
			"                     [--twilio-sid SID --twilio-token TOKEN]\n"
			"                     [--smtp-user U --smtp-pass P] [--openai-key KEY]\n"
			"                     [--port-file FILE]\n");
	exit(2);
}

static int port_arg(const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n < 0 || n > 65535) {
		fprintf(stderr, "fixture_sinks: '%s' is not a port (0..65535)\n", v);
		exit(2);
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	struct sinks_options o = {0};
	const char *port_file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--no-smtp") == 0) {
			o.smtp_port = -1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage();
		const char *v = i + 1 < argc ? argv[++i] : NULL;
		if (!v)
			usage();
		if (strcmp(a, "--http-port") == 0)
			o.http_port = port_arg(v);
		else if (strcmp(a, "--smtp-port") == 0)
			o.smtp_port = port_arg(v);
		else if (strcmp(a, "--twilio-sid") == 0)
			o.twilio_sid = v;
		else if (strcmp(a, "--twilio-token") == 0)
			o.twilio_token = v;
		else if (strcmp(a, "--smtp-user") == 0)
			o.smtp_user = v;
		else if (strcmp(a, "--smtp-pass") == 0)
			o.smtp_pass = v;
		else if (strcmp(a, "--openai-key") == 0)
			o.openai_key = v;
		else if (strcmp(a, "--port-file") == 0)
			port_file = v;
		else
			usage();
	}
	if ((o.twilio_sid != NULL) != (o.twilio_token != NULL) ||
	    (o.smtp_user != NULL) != (o.smtp_pass != NULL)) {
		fprintf(stderr, "fixture_sinks: --twilio-sid goes with --twilio-token, "
				"--smtp-user with --smtp-pass\n");
		return 2;
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts */

	struct sinks *s = NULL;
	struct err e = {0};
	if (sinks_start(&o, &s, &e)) {
		fprintf(stderr, "fixture_sinks: %s\n", e.msg);
		return 1;
	}
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d %d\n", sinks_http_port(s), sinks_smtp_port(s)) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0) {
			fprintf(stderr, "fixture_sinks: cannot write %s\n", port_file);
			sinks_stop(s);
			return 1;
		}
	}
	printf("listening http://127.0.0.1:%d smtp://127.0.0.1:%d\n", sinks_http_port(s),
	       sinks_smtp_port(s));
	fflush(stdout);

	int sig = 0;
	sigdelset(&set, SIGPIPE);
	sigwait(&set, &sig);
	sinks_stop(s);
	return 0;
}
