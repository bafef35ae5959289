/*
 * cmd_keys.c - `ambient keys create|list|revoke`: the API keys that
 * `ambient serve` and `ambient feedback` accept (app/auth.h).
 *
 * A key is printed once, when it is made; the store keeps only its hash.
 * Whoever can write the event store can make keys, like whoever can edit an
 * htpasswd file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/auth.h"
#include "cli.h"
#include "common/json.h"

static const struct app_actor cli_actor = {.principal = "cli"};

static const struct config_option create_options[] = {
	{"user", CONFIG_STRING, NULL, NULL, "USER", "the user the key acts as (required)"},
	{"role", CONFIG_STRING, NULL, "user", "ROLE",
	 "user (sees only its own tasks, memories and feedback) or admin (everyone's)"},
	{"scopes", CONFIG_STRING, NULL, "*", "LIST",
	 "what the key may do: * or tasks, memories, notify, web, admin, each optionally "
	 ":read"},
	{"label", CONFIG_STRING, NULL, NULL, "TEXT", "a note, e.g. where the key is used"},
	{"json", CONFIG_BOOL, NULL, NULL, NULL, "print the key and its record as JSON"},
	{NULL},
};

static const struct config_option list_options[] = {
	{"json", CONFIG_BOOL, NULL, NULL, NULL, "print JSON"},
	{NULL},
};

static const struct config_option revoke_options[] = {
	{"reason", CONFIG_STRING, NULL, NULL, "TEXT", "why, kept in the revocation event"},
	{NULL},
};

static int run_create(struct cli_ctx *ctx)
{
	const char *user = config_get(&ctx->cfg, "user");
	char key[PRINCIPAL_KEY_LEN + 1];
	struct store *s = NULL;
	struct err e = {0};
	json_t *doc = NULL;
	int rc;

	if (ctx->nargs)
		return cli_usage_error(ctx, "create takes no arguments (use --user NAME)");
	if (!user)
		return cli_usage_error(ctx, "--user NAME is required: the user the key acts as");
	if ((rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_auth_key_create(s, &cli_actor, user, config_get(&ctx->cfg, "role"),
				config_get(&ctx->cfg, "scopes"), config_get(&ctx->cfg, "label"),
				key, &doc, &e)) {
		rc = cli_fail(&e);
		goto out;
	}
	if (config_get_bool(&ctx->cfg, "json")) {
		json_object_set_new(doc, "key", json_string(key));
		char *text = json_to_pretty(doc);
		puts(text);
		free(text);
	} else {
		printf("%s\n", key);
		fprintf(stderr,
			"API key %s for user %s (role %s, scopes %s). It is shown only now: keep "
			"it secret and send it as 'Authorization: Bearer <key>'.\n",
			json_get_str(doc, "key_id"), json_get_str(doc, "user_id"),
			json_get_str(doc, "role"), json_get_str(doc, "scopes"));
	}
	rc = CLI_OK;
out:
	memset(key, 0, sizeof key);
	json_decref(doc);
	store_close(s);
	return rc;
}

static int run_list(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	json_t *keys = NULL, *k;
	size_t i;
	int rc;

	if (ctx->nargs)
		return cli_usage_error(ctx, "list takes no arguments");
	if ((rc = cli_open_store(ctx, true, &s)))
		return rc;
	if (app_auth_key_list(s, &keys, &e)) {
		rc = cli_fail(&e);
		goto out;
	}
	if (config_get_bool(&ctx->cfg, "json")) {
		char *text = json_to_pretty(keys);
		puts(text);
		free(text);
		goto out;
	}
	printf("%-16s  %-16s  %-5s  %-20s  %-8s  %s\n", "KEY ID", "USER", "ROLE", "SCOPES", "STATE",
	       "CREATED");
	json_array_foreach(keys, i, k) {
		printf("%-16s  %-16s  %-5s  %-20s  %-8s  %s\n", json_get_str(k, "key_id"),
		       json_get_str(k, "user_id"), json_get_str(k, "role"),
		       json_get_str(k, "scopes"),
		       json_object_get(k, "revoked_at") ? "revoked" : "active",
		       json_get_str(k, "created_at"));
	}
	printf("(%zu key%s)\n", json_array_size(keys), json_array_size(keys) == 1 ? "" : "s");
out:
	json_decref(keys);
	store_close(s);
	return rc;
}

static int run_revoke(struct cli_ctx *ctx)
{
	struct store *s = NULL;
	struct err e = {0};
	int rc;

	if (ctx->nargs != 1)
		return cli_usage_error(ctx, "revoke takes one KEY_ID (see `ambient keys list`)");
	if ((rc = cli_open_store(ctx, false, &s)))
		return rc;
	if (app_auth_key_revoke(s, &cli_actor, ctx->args[0], config_get(&ctx->cfg, "reason"), &e))
		rc = cli_fail(&e);
	else
		fprintf(stderr, "revoked; servers refuse the key from their next request on\n");
	store_close(s);
	return rc;
}

const struct cli_command cli_keys_commands[] = {
	{"create", "", "make an API key (printed once; only its hash is stored)",
	 "Example: ambient keys create --user alice\n"
	 "         ambient keys create --user ops --role admin --label 'monitoring'",
	 create_options, run_create, NULL},
	{"list", "", "list API keys (ids, users, roles, scopes; never the keys)", NULL,
	 list_options, run_list, NULL},
	{"revoke", "KEY_ID", "revoke an API key", NULL, revoke_options, run_revoke, NULL},
	{NULL},
};
