/*
 * cmd_replay.c - `ambient replay`: rebuild every projection from the log.
 *
 * Event sourcing's promise is that the state is a function of the log; this
 * command checks it.  Exit status 0: the rebuilt projections matched what was
 * stored; 3: they differed (and, unless --check, were replaced).
 */
#include <stdio.h>

#include "app/tasks.h"
#include "cli.h"

const struct config_option cli_replay_options[] = {
	{"check", CONFIG_BOOL, NULL, NULL, NULL, "only compare; do not write the rebuilt projections"},
	{NULL},
};

#define EXIT_MISMATCH 3

int cli_replay_run(struct cli_ctx *ctx)
{
	struct store_replay_report reports[8];
	bool check = config_get_bool(&ctx->cfg, "check");
	bool all_match = true;
	struct store *s = NULL;
	struct err e = {0};
	int rc;

	if (ctx->nargs)
		return cli_usage_error(ctx, "replay takes no arguments");
	if (app_nprojections > sizeof reports / sizeof reports[0])
		return CLI_FAIL;
	if ((rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (store_replay(s, !check, reports, &e)) {
		rc = cli_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < app_nprojections; i++) {
		const struct store_replay_report *r = &reports[i];
		bool match = r->missing == 0 && r->extra == 0 && r->different == 0;
		all_match = all_match && match;
		printf("projection %s: %lld events folded into %lld documents; %s\n", app_projections[i].name,
		       (long long)r->events, (long long)r->documents,
		       match ? "matches the stored projection" : "DIFFERS from the stored projection");
		if (!match)
			printf("  %lld missing, %lld extra, %lld different (e.g. %s)%s\n", (long long)r->missing,
			       (long long)r->extra, (long long)r->different, r->first_mismatch,
			       check ? "" : "; rebuilt from the log");
	}
	rc = all_match ? CLI_OK : EXIT_MISMATCH;
out:
	store_close(s);
	return rc;
}
