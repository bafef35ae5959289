/*
 * monitors.c - what a check of each task type does (the engine's loop in
 * engine.c decides when; this file decides what is found and recorded).
 *
 *   web_monitor      fetch each URL (conditionally), extract the visible
 *                    text, compare it with the last snapshot, record
 *                    web_content_change when the added lines hold the
 *                    keywords
 *   schedule         record scheduled_trigger; "action":"news_digest" with
 *                    news_urls also runs a digest
 *   news_digest      read each source (RSS/Atom, discovered feeds, else the
 *                    page's headlines), drop what earlier digests reported,
 *                    record daily_news_digest
 *   threshold_watch  read one number, apply the threshold rule (metric.h),
 *                    record threshold_breach
 *
 * All of it runs on the engine thread, one fetch callback at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/log.h"
#include "common/tz.h"
#include "common/xalloc.h"
#include "domain/diff.h"
#include "domain/extract.h"
#include "domain/feed.h"
#include "domain/match.h"
#include "domain/metric.h"
#include "domain/task.h"
#include "engine/engine_int.h"

#define CONTENT_CHARS 2000          /* of the page text in web_content_change, as the original */
#define ADDED_LINES_MAX 50          /* added lines carried in an event */
#define ADDED_LINE_BYTES 500        /* bytes of one of them */
#define ADDED_TEXT_MAX (256u << 10) /* bytes of added text searched for keywords */
#define SNIPPETS_MAX 5
#define SEEN_MAX 2000                       /* digest item keys remembered per task */
#define DIGEST_STAGE_FEED ((size_t)1 << 16) /* tag bit: a feed discovered on a page */

/* ---- helpers --------------------------------------------------------------- */

/* Heap copy of the first `chars` characters of s (whole UTF-8 sequences). */
static char *utf8_prefix(const char *s, size_t len, size_t chars)
{
	size_t i = 0;
	while (i < len && chars > 0) {
		uint32_t cp;
		i += match_utf8_decode(s + i, len - i, &cp);
		chars--;
	}
	return xstrndup(s, i);
}

/* "2025-03-09T03:00:00-04:00": an instant as wall time in a zone. */
static void format_in_zone(const struct tz *z, int64_t us, char *out, size_t size)
{
	int64_t s = us / 1000000;
	struct tm tm;
	if (!z)
		z = tz_utc();
	tz_to_local(z, s, &tm);
	int off = tz_utc_offset(z, s);
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600,
		 (off % 3600) / 60);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

/* The strings of a JSON array into a new NULL-terminated vector (borrowed
 * strings); *n gets the count. */
static const char **str_vector(const json_t *arr, size_t *n)
{
	size_t k = 0, i;
	const char **v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	json_t *x;
	json_array_foreach(arr, i, x) {
		if (json_is_string(x))
			v[k++] = json_string_value(x);
	}
	*n = k;
	return v;
}

static bool is_html(const struct fetch_result *res)
{
	const char *ct = res->content_type;
	if (ct && (strstr(ct, "html") || strstr(ct, "xml")))
		return true;
	if (ct && (strncasecmp(ct, "text/", 5) == 0 || strstr(ct, "json")))
		return false;
	return true; /* no type: let the HTML parser judge */
}

static void fail_fetch(struct runner *r, const char *url, const struct fetch_result *res)
{
	engine_check_fail(r, fetch_failure_name(res->failure), url, res->status, "%s",
			  err_msg(&res->err));
}

/* ---- web_monitor --------------------------------------------------------------- */

static void web_fetched(struct engine *en, struct runner *r, size_t i, struct fetch_result *res);

static void web_start(struct engine *en, struct runner *r)
{
	if (!r->nurls)
		engine_check_fail(r, "config", NULL, 0, "the task has no URLs to check");
	for (size_t i = 0; i < r->nurls; i++)
		engine_fetch(en, r, i, r->urls[i].url, true, false, web_fetched);
}

/* Page text: the visible text of HTML, else the body as text. */
static int page_text(struct runner *r, const struct fetch_result *res, struct extract_result *x,
		     char **plain, struct err *e)
{
	*plain = NULL;
	if (!is_html(res)) {
		*plain = json_utf8_sanitize(res->body ? res->body : "");
		return ERR_OK;
	}
	size_t n_ignore = 0;
	const char **ignore = str_vector(json_object_get(r->config, "ignore_text"), &n_ignore);
	struct extract_opts o = {
		.url = res->final_url,
		.encoding = res->charset,
		.selector_text = json_get_str(r->config, "selector"),
		.ignore_text = ignore,
		.n_ignore = n_ignore,
	};
	int rc = extract_html(res->body ? res->body : "", res->body_len, &o, x, e);
	free(ignore);
	return rc;
}

static json_t *lines_json(const struct diff_line *lines, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n && i < ADDED_LINES_MAX; i++) {
		size_t len = match_utf8_cut(lines[i].text, lines[i].len, ADDED_LINE_BYTES);
		char *t = xstrndup(lines[i].text, len);
		json_array_append_new(a, json_string_lossy(t));
		free(t);
	}
	return a;
}

/* Remember the page's ETag and Last-Modified for the next conditional
 * fetch (only once the page's text has been dealt with). */
static void keep_validators(struct runner *r, struct url_state *u, const struct fetch_result *res)
{
	if (!res->etag && !res->last_modified)
		return;
	set_str(&u->etag, res->etag);
	set_str(&u->last_modified, res->last_modified);
	r->dirty = true;
}

static void web_fetched(struct engine *en, struct runner *r, size_t i, struct fetch_result *res)
{
	struct url_state *u = &r->urls[i];
	if (res->code != ERR_OK) {
		fail_fetch(r, u->url, res);
		return;
	}
	if (res->not_modified) {
		r->dirty = true;
		return; /* a 304 costs no parsing */
	}

	struct extract_result x = {0};
	struct err e = {0};
	char *plain = NULL;
	if (page_text(r, res, &x, &plain, &e) != ERR_OK) {
		engine_check_fail(r, "config", u->url, res->status, "%s", err_msg(&e));
		extract_result_cleanup(&x);
		return;
	}
	const char *text = plain ? plain : x.text;
	size_t len = plain ? strlen(plain) : x.text_len;
	if (!plain && !x.selector_matched) {
		engine_check_fail(r, "parse", u->url, res->status,
				  "the selector %s matched nothing on %s (the page may have "
				  "changed its layout; update the task's selector)",
				  json_get_str(r->config, "selector"), res->final_url);
		extract_result_cleanup(&x);
		return;
	}
	char hash[DIFF_HASH_HEX_LEN + 1];
	diff_hash(text, len, hash);
	if (strcmp(hash, u->hash) == 0) {
		keep_validators(r, u, res);
		free(plain);
		extract_result_cleanup(&x);
		return;
	}
	json_t *prev = NULL;
	if (u->hash[0] && engine_snapshot_load(en, r, i, &prev) != ERR_OK) {
		free(plain);
		extract_result_cleanup(&x);
		return;
	}
	const char *old = prev ? json_get_str(prev, "text") : NULL;
	bool first = old == NULL;

	size_t nkw = 0;
	const char **kw = str_vector(json_object_get(r->config, "keywords"), &nkw);
	const char *mode = json_get_str(r->config, "keywords_mode");
	bool all = mode && strcmp(mode, "all") == 0;
	struct match_set *set = match_set_new(kw, nkw, 0);
	struct match_result mr = {0};
	struct diff_result d = {0};
	char *added = NULL;
	bool emit = false, recorded = true;
	if (first) {
		/* A baseline; reported only when asked, with the whole text. */
		if (json_is_true(json_object_get(r->config, "notify_on_first_check"))) {
			match_find(set, text, len, all ? MATCH_ALL : MATCH_ANY, SNIPPETS_MAX, &mr);
			emit = mr.matched;
		}
	} else {
		diff_lines(old, strlen(old), text, len, NULL, &d);
		added = diff_join(d.added, d.n_added, ADDED_TEXT_MAX);
		if (!nkw) {
			emit = d.total_added + d.total_removed > 0;
		} else {
			match_find(set, added, strlen(added), MATCH_ANY, SNIPPETS_MAX, &mr);
			emit = mr.matched && mr.n_found > 0;
			if (emit && all) {
				struct match_result whole = {0};
				match_find(set, text, len, MATCH_ALL, 0, &whole);
				emit = whole.matched;
				match_result_cleanup(&whole);
			}
		}
	}
	if (emit) {
		json_t *found = json_array(), *snips = json_array();
		for (size_t k = 0; k < mr.n_found; k++)
			json_array_append_new(found,
					      json_string(match_set_keyword(set, mr.found[k])));
		for (size_t k = 0; k < mr.n_snippets; k++)
			json_array_append_new(snips, json_string_lossy(mr.snippets[k].text));
		char *content = utf8_prefix(text, len, CONTENT_CHARS);
		json_t *data = json_pack("{s:s,s:s,s:o,s:o,s:b,s:o,s:s}", "url", u->url,
					 "final_url", res->final_url, "keywords_found", found,
					 "snippets", snips, "first_check", first, "content",
					 json_string_lossy(content), "content_hash", hash);
		free(content);
		if (!first) {
			json_object_set_new(data, "added_lines", lines_json(d.added, d.n_added));
			json_object_set_new(data, "added_count",
					    json_integer((json_int_t)d.total_added));
			json_object_set_new(data, "removed_lines",
					    json_integer((json_int_t)d.total_removed));
		} else {
			json_object_set_new(data, "added_lines", json_array());
			json_object_set_new(data, "removed_lines", json_integer(0));
		}
		if (x.title)
			json_object_set_new(data, "title", json_string_lossy(x.title));
		recorded = engine_emit(en, r, "web_content_change", data, u->url) == ERR_OK;
		json_decref(data);
	}
	/* The new text becomes the baseline only once what it told us is in
	 * the log: when the store could not take the event, the next try sees
	 * the same change (and no 304) again. */
	if (recorded) {
		memcpy(u->hash, hash, sizeof(hash));
		engine_snapshot_save(en, r, i, text, clock_wall_us(engine_clock(en)));
		keep_validators(r, u, res);
		if (emit)
			engine_save_now(en, r);
	}
	free(added);
	diff_result_cleanup(&d);
	match_result_cleanup(&mr);
	match_set_free(set);
	free(kw);
	json_decref(prev);
	free(plain);
	extract_result_cleanup(&x);
}

/* ---- news digests ---------------------------------------------------------------- */

static void digest_fetched(struct engine *en, struct runner *r, size_t tag,
			   struct fetch_result *res);

/* The sources of a digest: news_urls of a news_digest or of a schedule
 * whose action is news_digest. */
static void digest_start(struct engine *en, struct runner *r)
{
	json_t *sources = json_array();
	for (size_t i = 0; i < r->nurls; i++)
		json_array_append_new(sources,
				      json_pack("{s:s,s:[]}", "source", r->urls[i].url, "items"));
	json_decref(r->work);
	r->work = json_pack("{s:o}", "sources", sources);
	if (!r->nurls)
		engine_check_fail(r, "config", NULL, 0, "the digest has no news_urls");
	for (size_t i = 0; i < r->nurls; i++)
		engine_fetch(en, r, i, r->urls[i].url, false, false, digest_fetched);
}

static void items_from_feed(json_t *src, const struct feed *f)
{
	json_t *items = json_object_get(src, "items");
	json_array_clear(items);
	for (size_t i = 0; i < f->n_items; i++) {
		const struct feed_item *it = &f->items[i];
		if (!it->title || !it->title[0])
			continue;
		char key[FEED_KEY_LEN + 1];
		feed_item_key(it, key);
		json_t *j =
			json_pack("{s:o,s:s}", "title", json_string_lossy(it->title), "key", key);
		if (it->link)
			json_object_set_new(j, "link", json_string_lossy(it->link));
		if (it->summary)
			json_object_set_new(j, "summary", json_string_lossy(it->summary));
		if (it->published_us) {
			char at[CLOCK_ISO_MAX];
			clock_format_utc(it->published_us, at);
			json_object_set_new(j, "published", json_string(at));
		}
		if (it->n_tags) {
			json_t *tags = json_array();
			for (size_t k = 0; k < it->n_tags; k++)
				json_array_append_new(tags, json_string_lossy(it->tags[k]));
			json_object_set_new(j, "tags", tags);
		}
		json_array_append_new(items, j);
	}
	if (f->title && !json_object_get(src, "title"))
		json_object_set_new(src, "title", json_string_lossy(f->title));
}

static const char *kind_name(enum feed_kind k)
{
	switch (k) {
	case FEED_RSS2:
	case FEED_RSS1:
		return "rss";
	case FEED_ATOM:
		return "atom";
	default:
		return "html";
	}
}

static void digest_fetched(struct engine *en, struct runner *r, size_t tag,
			   struct fetch_result *res)
{
	size_t idx = tag & (DIGEST_STAGE_FEED - 1);
	bool feed_stage = tag & DIGEST_STAGE_FEED;
	json_t *src = json_array_get(json_object_get(r->work, "sources"), idx);
	if (!src)
		return;
	if (res->code != ERR_OK) {
		/* A discovered feed that fails leaves the page's headlines. */
		if (!feed_stage || json_array_size(json_object_get(src, "items")) == 0)
			json_object_set_new(src, "error", json_string(err_msg(&res->err)));
		return;
	}
	struct feed_opts fo = {.url = res->final_url, .encoding = res->charset};
	const char *body = res->body ? res->body : "";
	const char *ct = res->content_type ? res->content_type : "";
	bool xml = feed_sniff(body, res->body_len) ||
		   (!strstr(ct, "html") &&
		    (strstr(ct, "rss") || strstr(ct, "atom") || strstr(ct, "xml")));
	if (xml) {
		struct feed f = {0};
		struct err e = {0};
		if (feed_parse(body, res->body_len, &fo, &f, &e) == ERR_OK) {
			items_from_feed(src, &f);
			json_object_set_new(src, "kind", json_string(kind_name(f.kind)));
			if (feed_stage)
				json_object_set_new(src, "feed_url", json_string(res->final_url));
			json_object_del(src, "error");
		} else if (!feed_stage || json_array_size(json_object_get(src, "items")) == 0) {
			json_object_set_new(src, "error", json_string(err_msg(&e)));
		}
		feed_cleanup(&f);
		return;
	}
	if (feed_stage)
		return; /* a "feed" that is a page: keep the first page's headlines */
	struct feed_page p = {0};
	feed_scan_html(body, res->body_len, &fo, &p);
	items_from_feed(src, &p.headlines);
	json_object_set_new(src, "kind", json_string("html"));
	if (p.n_feeds > 0)
		engine_fetch(en, r, idx | DIGEST_STAGE_FEED, p.feeds[0], false, false,
			     digest_fetched);
	feed_page_cleanup(&p);
}

static void digest_finish(struct engine *en, struct runner *r)
{
	json_t *sources = json_object_get(r->work, "sources");
	if (!sources)
		return;
	size_t i, answered = 0;
	json_t *src;
	json_array_foreach(sources, i, src)
		answered += json_object_get(src, "error") == NULL;
	if (answered == 0 && json_array_size(sources) > 0) {
		json_t *s0 = json_array_get(sources, 0);
		engine_check_fail(r, "fetch", json_get_str(s0, "source"), 0,
				  "no news source answered; %s: %s", json_get_str(s0, "source"),
				  json_get_str(s0, "error"));
		return;
	}

	size_t n_wanted = 0;
	const char **wanted = str_vector(json_object_get(r->config, "categories"), &n_wanted);
	struct feed_classifier *cls = feed_classifier_new(NULL, 0, wanted, n_wanted);
	uint64_t want_mask = feed_classifier_mask(cls, wanted, n_wanted);
	long long max_items = json_get_int(r->config, "max_items", 10);
	json_t *seen = json_object_get(r->mon, "seen");
	if (!json_is_array(seen)) {
		seen = json_array();
		json_object_set_new(r->mon, "seen", seen);
	}
	json_t *seen_set = json_object();
	json_t *k;
	json_array_foreach(seen, i, k) {
		if (json_is_string(k))
			json_object_set(seen_set, json_string_value(k), json_true());
	}
	json_t *summaries = json_array(), *new_keys = json_array();
	long long total = 0;
	json_array_foreach(sources, i, src) {
		json_t *out = json_pack("{s:s,s:s}", "source", json_get_str(src, "source"), "kind",
					json_get_str(src, "kind") ?: "html");
		json_t *titles = json_array(), *items = json_array(), *it;
		size_t j;
		if (json_get_str(src, "feed_url"))
			json_object_set(out, "feed_url", json_object_get(src, "feed_url"));
		if (json_get_str(src, "title"))
			json_object_set(out, "title", json_object_get(src, "title"));
		if (json_get_str(src, "error"))
			json_object_set(out, "error", json_object_get(src, "error"));
		json_array_foreach(json_object_get(src, "items"), j, it) {
			if ((long long)json_array_size(items) >= max_items)
				break;
			const char *key = json_get_str(it, "key");
			if (!key || json_object_get(seen_set, key))
				continue;
			size_t ntags = 0;
			const char **tags = str_vector(json_object_get(it, "tags"), &ntags);
			uint64_t mask = feed_classify(cls, json_get_str(it, "title"),
						      json_get_str(it, "summary"), tags, ntags);
			free(tags);
			if (n_wanted && !(mask & want_mask))
				continue;
			json_object_set(seen_set, key, json_true());
			json_array_append_new(new_keys, json_string(key));
			const char *names[FEED_CATEGORIES_MAX];
			size_t nn = feed_category_names(cls, mask, names, FEED_CATEGORIES_MAX);
			json_t *cats = json_array();
			for (size_t c = 0; c < nn; c++)
				json_array_append_new(cats, json_string(names[c]));
			json_t *item = json_pack("{s:O,s:o}", "title", json_object_get(it, "title"),
						 "categories", cats);
			if (json_object_get(it, "link"))
				json_object_set(item, "link", json_object_get(it, "link"));
			if (json_object_get(it, "published"))
				json_object_set(item, "published",
						json_object_get(it, "published"));
			json_array_append(titles, json_object_get(it, "title"));
			json_array_append_new(items, item);
		}
		total += (long long)json_array_size(items);
		json_object_set_new(out, "headlines", titles);
		json_object_set_new(out, "items", items);
		json_array_append_new(summaries, out);
	}
	if (total > 0) {
		char date[CLOCK_ISO_MAX];
		int64_t at = r->slot_us ? r->slot_us : clock_wall_us(engine_clock(en));
		format_in_zone(r->sched.tz, at, date, sizeof(date));
		date[10] = 0;
		json_t *data = json_pack("{s:s,s:o,s:I}", "digest_date", date, "news_summaries",
					 summaries, "total_items", (json_int_t)total);
		summaries = NULL;
		if (n_wanted)
			json_object_set(data, "categories",
					json_object_get(r->config, "categories"));
		if (engine_emit(en, r, "daily_news_digest", data, NULL) == ERR_OK) {
			json_array_extend(seen, new_keys);
			while (json_array_size(seen) > SEEN_MAX)
				json_array_remove(seen, 0);
			engine_save_now(en, r);
		}
		json_decref(data);
	} else {
		log_info("engine: digest of task %s: nothing new since the last digest", r->id);
	}
	json_decref(summaries);
	json_decref(new_keys);
	json_decref(seen_set);
	feed_classifier_free(cls);
	free(wanted);
}

/* ---- schedule --------------------------------------------------------------------- */

static bool schedule_runs_digest(const json_t *config)
{
	const char *action = json_get_str(config, "action");
	return action && strcmp(action, "news_digest") == 0 &&
	       json_array_size(json_object_get(config, "news_urls")) > 0;
}

static void schedule_start(struct engine *en, struct runner *r)
{
	char when[64];
	int64_t at = r->slot_us ? r->slot_us : clock_wall_us(engine_clock(en));
	format_in_zone(r->sched.tz, at, when, sizeof(when));
	json_t *data =
		json_pack("{s:s,s:O,s:b,s:I}", "trigger_time", when, "schedule_config", r->config,
			  "catch_up", r->run_catch_up, "missed", (json_int_t)r->run_missed);
	const char *keys[] = {"action", "message"};
	for (size_t i = 0; i < 2; i++)
		if (json_object_get(r->config, keys[i]))
			json_object_set(data, keys[i], json_object_get(r->config, keys[i]));
	if (!r->slot_us)
		json_object_set_new(data, "run_now", json_true());
	if (!schedule_runs_digest(r->config) &&
	    engine_emit_later(en, r, "scheduled_trigger", data)) {
		json_decref(data);
		return;
	}
	int rc = engine_emit(en, r, "scheduled_trigger", data, NULL);
	json_decref(data);
	if (rc == ERR_OK && schedule_runs_digest(r->config))
		digest_start(en, r);
}

static void schedule_finish(struct engine *en, struct runner *r)
{
	if (r->work)
		digest_finish(en, r);
}

/* ---- threshold_watch ------------------------------------------------------------------ */

static bool is_provider(const json_t *config)
{
	return json_get_str(config, "metric_url") == NULL;
}

static const char *currency(const json_t *config)
{
	const char *c = json_get_str(config, "currency");
	return c && *c ? c : "usd";
}

static void threshold_fetched(struct engine *en, struct runner *r, size_t tag,
			      struct fetch_result *res);

static void threshold_start(struct engine *en, struct runner *r)
{
	if (!r->nurls) {
		engine_check_fail(
			r, "config", NULL, 0,
			"metric \"%s\" is not a built-in metric (built-in: bitcoin_price); "
			"give metric_url with json_path or regex",
			json_get_str(r->config, "metric") ?: "");
		return;
	}
	engine_fetch(en, r, 0, r->urls[0].url, false, is_provider(r->config), threshold_fetched);
}

static int read_value(struct runner *r, const struct fetch_result *res, double *v, struct err *e)
{
	const char *body = res->body ? res->body : "";
	if (is_provider(r->config)) {
		char path[128];
		snprintf(path, sizeof(path), "/bitcoin/%s", currency(r->config));
		return metric_from_json(body, res->body_len, path, v, e);
	}
	const char *path = json_get_str(r->config, "json_path");
	const char *regex = json_get_str(r->config, "regex");
	if (path)
		return metric_from_json(body, res->body_len, path, v, e);
	if (regex) {
		const char *ct = res->content_type ? res->content_type : "";
		if (strstr(ct, "html")) {
			struct extract_result x = {0};
			struct extract_opts o = {.url = res->final_url, .encoding = res->charset};
			int rc = extract_html(body, res->body_len, &o, &x, e);
			if (rc == ERR_OK)
				rc = metric_from_text(x.text, x.text_len, regex, v, e);
			extract_result_cleanup(&x);
			return rc;
		}
		return metric_from_text(body, res->body_len, regex, v, e);
	}
	if (metric_parse_number(body, res->body_len, v))
		return ERR_OK;
	return err_set(e, ERR_INVALID,
		       "the response of %s is not a number; give json_path (JSON) or regex (text) "
		       "to say where the value is",
		       res->final_url);
}

static void threshold_fetched(struct engine *en, struct runner *r, size_t tag,
			      struct fetch_result *res)
{
	(void)tag;
	const char *url = r->urls[0].url;
	if (res->code != ERR_OK) {
		fail_fetch(r, url, res);
		return;
	}
	double v;
	struct err e = {0};
	if (read_value(r, res, &v, &e) != ERR_OK) {
		engine_check_fail(r, "parse", url, res->status, "%s", err_msg(&e));
		return;
	}
	struct metric_rule rule = {
		.cmp = METRIC_ABOVE,
		.threshold = json_number_value(json_object_get(r->config, "threshold")),
		.hysteresis = json_number_value(json_object_get(r->config, "hysteresis")),
		.cooldown_us = json_get_int(r->config, "cooldown_minutes", 0) * 60 * 1000000LL,
	};
	const char *cmp = json_get_str(r->config, "comparison");
	if (cmp && metric_cmp_parse(cmp, &rule.cmp) != 0)
		rule.cmp = METRIC_ABOVE;
	struct metric_state st;
	metric_state_init(&st);
	json_t *saved = json_object_get(r->mon, "metric");
	if (saved && metric_state_from_json(saved, &st, &e) != ERR_OK)
		metric_state_init(&st);
	int64_t now = clock_wall_us(engine_clock(en));
	struct metric_eval ev = {0};
	enum metric_verdict verdict = metric_check(&rule, &st, v, now, &ev);
	json_object_set_new(r->mon, "last_value", json_real(v));
	r->dirty = true;
	if (verdict != METRIC_FIRE) {
		json_object_set_new(r->mon, "metric", metric_state_to_json(&st));
		return;
	}
	const char *metric = json_get_str(r->config, "metric");
	json_t *data = json_pack("{s:s,s:f,s:f,s:s,s:f,s:s}", "metric", metric ? metric : url,
				 "current_value", v, "threshold", rule.threshold, "comparison",
				 metric_cmp_name(rule.cmp), "hysteresis", rule.hysteresis,
				 "source_url", url);
	json_object_set_new(data, "previous_value", ev.has_prev ? json_real(ev.prev) : json_null());
	/* The breach arms the cooldown and hysteresis only once it is in the
	 * log; when the store could not take it, the retry fires again. */
	if (engine_emit(en, r, "threshold_breach", data, NULL) == ERR_OK) {
		json_object_set_new(r->mon, "metric", metric_state_to_json(&st));
		engine_save_now(en, r);
	}
	json_decref(data);
}

/* ---- the table ------------------------------------------------------------------------- */

static const struct monitor_ops web_ops = {web_start, NULL};
static const struct monitor_ops schedule_ops = {schedule_start, schedule_finish};
static const struct monitor_ops digest_ops = {digest_start, digest_finish};
static const struct monitor_ops threshold_ops = {threshold_start, NULL};

const struct monitor_ops *const monitor_table[TASK_TYPE__COUNT] = {
	[TASK_WEB_MONITOR] = &web_ops,
	[TASK_SCHEDULE] = &schedule_ops,
	[TASK_NEWS_DIGEST] = &digest_ops,
	[TASK_THRESHOLD_WATCH] = &threshold_ops,
};

json_t *monitor_urls(int type, const json_t *config, const struct engine_options *o)
{
	json_t *out = json_array(), *list = NULL, *x;
	size_t i;
	switch (type) {
	case TASK_WEB_MONITOR:
		list = json_object_get(config, "urls");
		break;
	case TASK_NEWS_DIGEST:
		list = json_object_get(config, "news_urls");
		break;
	case TASK_SCHEDULE:
		if (schedule_runs_digest(config))
			list = json_object_get(config, "news_urls");
		break;
	case TASK_THRESHOLD_WATCH: {
		const char *url = json_get_str(config, "metric_url");
		const char *metric = json_get_str(config, "metric");
		if (url) {
			json_array_append_new(out, json_string(url));
		} else if (metric && strcmp(metric, "bitcoin_price") == 0) {
			char *u = xasprintf("%s/api/v3/simple/price?ids=bitcoin&vs_currencies=%s",
					    o->price_api_url, currency(config));
			json_array_append_new(out, json_string(u));
			free(u);
		}
		break;
	}
	default:
		break;
	}
	json_array_foreach(list, i, x) {
		if (json_is_string(x))
			json_array_append(out, x);
	}
	return out;
}
