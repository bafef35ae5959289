/* config.c - layered options: flags > environment > file > defaults. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "xalloc.h"

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
}

void config_cleanup(struct config *c)
{
	for (size_t i = 0; i < c->nvalues; i++)
		free(c->values[i].value);
	free(c->values);
	for (size_t i = 0; i < c->nargs; i++)
		free(c->args[i]);
	free(c->args);
	config_init(c);
}

static struct config_value *find(const struct config *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nvalues; i++)
		if (strlen(c->values[i].opt->name) == len && strncmp(c->values[i].opt->name, name, len) == 0)
			return &c->values[i];
	return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Type-check and store a value when `source` is at least as strong. */
static int set(struct config_value *cv, const char *value, int source, const char *where,
	       struct err *e)
{
	const struct config_option *o = cv->opt;
	if (o->type == CONFIG_INT) {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (!*value || *end || errno)
			return err_set(e, ERR_INVALID, "%s: --%s wants an integer, got '%s'", where, o->name, value);
		if ((o->min || o->max) && (v < o->min || v > o->max))
			return err_set(e, ERR_INVALID, "%s: --%s must be from %lld to %lld, got %lld", where,
				       o->name, o->min, o->max, v);
	} else if (o->type == CONFIG_BOOL) {
		bool b;
		if (!parse_bool(value, &b))
			return err_set(e, ERR_INVALID, "%s: --%s wants true or false, got '%s'", where, o->name,
				       value);
		value = b ? "true" : "false";
	}
	if (source < cv->source)
		return ERR_OK;
	free(cv->value);
	cv->value = xstrdup(value);
	cv->source = source;
	return ERR_OK;
}

void config_add_table(struct config *c, const struct config_option *rows)
{
	for (const struct config_option *o = rows; o->name; o++) {
		if (find(c, o->name, strlen(o->name)))
			continue;
		c->values = xrealloc(c->values, (c->nvalues + 1) * sizeof *c->values);
		struct config_value *cv = &c->values[c->nvalues++];
		cv->opt = o;
		cv->value = NULL;
		cv->source = CONFIG_FROM_NONE;
		if (o->def)
			set(cv, o->def, CONFIG_FROM_DEFAULT, "default", NULL);
	}
}

static void push_arg(struct config *c, const char *a)
{
	c->args = xrealloc(c->args, (c->nargs + 1) * sizeof *c->args);
	c->args[c->nargs++] = xstrdup(a);
}

int config_parse_argv(struct config *c, int argc, char **argv, int from, bool stop_at_arg,
		      int *next, struct err *e)
{
	bool flags_done = false;
	int i;

	for (i = from; i < argc; i++) {
		const char *a = argv[i];
		if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
			push_arg(c, a);
			if (stop_at_arg) {
				i++;
				break;
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			c->help = true;
			continue;
		}
		if (a[1] != '-')
			return err_set(e, ERR_INVALID, "unknown option '%s' (options are spelled --name)", a);
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		struct config_value *cv = find(c, name, len);
		bool negated = false;
		if (!cv && len > 3 && strncmp(name, "no-", 3) == 0) {
			cv = find(c, name + 3, len - 3);
			negated = cv && cv->opt->type == CONFIG_BOOL;
			if (!negated)
				cv = NULL;
		}
		if (!cv)
			return err_set(e, ERR_INVALID, "unknown option '--%.*s'; see --help", (int)len, name);
		const char *value;
		if (cv->opt->type == CONFIG_BOOL && !eq) {
			value = negated ? "false" : "true";
		} else if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return err_set(e, ERR_INVALID, "option --%s needs a value (%s)", cv->opt->name,
				       cv->opt->metavar ? cv->opt->metavar : "VALUE");
		}
		int rc = set(cv, value, CONFIG_FROM_FLAG, "command line", e);
		if (rc)
			return rc;
	}
	if (next)
		*next = i;
	return ERR_OK;
}

int config_load_env(struct config *c, struct err *e)
{
	for (size_t i = 0; i < c->nvalues; i++) {
		const char *env = c->values[i].opt->env;
		const char *v = env ? getenv(env) : NULL;
		if (v && *v) {
			int rc = set(&c->values[i], v, CONFIG_FROM_ENV, env, e);
			if (rc)
				return rc;
		}
	}
	return ERR_OK;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int config_load_file(struct config *c, const char *path, bool must_exist, struct err *e)
{
	FILE *f = fopen(path, "r");
	char line[4096], where[512];
	int lineno = 0, rc = ERR_OK;

	if (!f) {
		if (!must_exist && errno == ENOENT)
			return ERR_OK;
		return err_set(e, ERR_INVALID, "cannot read config file %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return err_set(e, ERR_INVALID, "config file %s is a directory; give a file", path);
	}
	while (!rc && fgets(line, sizeof line, f)) {
		lineno++;
		snprintf(where, sizeof where, "%s:%d", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			rc = err_set(e, ERR_INVALID, "%s: line too long", where);
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = err_set(e, ERR_INVALID, "%s: expected 'name = value', got '%s'", where, s);
			break;
		}
		*eq = '\0';
		char *name = trim(s), *value = trim(eq + 1);
		struct config_value *cv = find(c, name, strlen(name));
		if (!cv) {
			rc = err_set(e, ERR_INVALID, "%s: unknown option '%s'", where, name);
			break;
		}
		rc = set(cv, value, CONFIG_FROM_FILE, where, e);
	}
	if (!rc && ferror(f))
		rc = err_set(e, ERR_INVALID, "cannot read config file %s: %s", path, strerror(errno));
	fclose(f);
	return rc;
}

const char *config_get(const struct config *c, const char *name)
{
	struct config_value *cv = find(c, name, strlen(name));
	return cv ? cv->value : NULL;
}

long long config_get_int(const struct config *c, const char *name)
{
	const char *v = config_get(c, name);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool config_get_bool(const struct config *c, const char *name)
{
	const char *v = config_get(c, name);
	return v && strcmp(v, "true") == 0;
}

int config_source_of(const struct config *c, const char *name)
{
	struct config_value *cv = find(c, name, strlen(name));
	return cv ? cv->source : CONFIG_FROM_NONE;
}

void config_print_help(FILE *out, const struct config_option *rows)
{
	for (const struct config_option *o = rows; o->name; o++) {
		char head[96];
		if (o->type == CONFIG_BOOL)
			snprintf(head, sizeof head, "--%s", o->name);
		else
			snprintf(head, sizeof head, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
		fprintf(out, "  %-26s %s", head, o->help);
		if (o->def && *o->def)
			fprintf(out, " (default: %s)", o->def);
		if (o->env)
			fprintf(out, " [env %s]", o->env);
		fputc('\n', out);
	}
}
