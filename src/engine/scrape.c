/*
 * scrape.c - one page for scrape_webpage: guarded fetch, optional headless
 * Chromium, extraction, per-host rate limit (see scrape.h).
 */
#define _GNU_SOURCE /* pipe2, environ */
#include "scrape.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "domain/extract.h"
#include "engine/fetch_once.h"
#include "engine/netguard.h"

extern char **environ;

#define RATE_WINDOW_US (60 * (int64_t)1000000)
#define RATE_HOSTS_MAX 10000
#define HOST_MAX 255
#define URL_MAX 2048
#define STDERR_KEEP 4096
#define CHROMIUM_GRACE_MS 3000 /* beyond the deadline, for the exit after the output */

static const char *const chromium_names[] = {
	"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell",
};

/* One host's recent requests: a ring of monotonic times, oldest at head. */
struct rate_host {
	char host[HOST_MAX + 1];
	int64_t *t;
	int n, head;
};

struct scraper {
	const struct netguard *guard;
	struct netguard *own_guard;
	int per_minute;
	char *chromium;
	int timeout_ms;
	size_t max_body;
	char *user_agent;
	struct clock *clock;

	pthread_mutex_t mu; /* the rate table */
	struct rate_host *hosts;
	size_t nhosts, cap;
};

int scraper_new(const struct scrape_options *o, struct scraper **out, struct err *e)
{
	struct scraper *s = xcalloc(1, sizeof *s);
	struct scrape_options def = {0};

	if (!o)
		o = &def;
	s->guard = o->guard;
	if (!s->guard) {
		int rc = netguard_new(NULL, &s->own_guard, e);

		if (rc) {
			free(s);
			*out = NULL;
			return rc;
		}
		s->guard = s->own_guard;
	}
	s->per_minute = o->per_minute ? o->per_minute : SCRAPE_PER_MINUTE;
	s->chromium = o->chromium && *o->chromium ? xstrdup(o->chromium) : NULL;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : SCRAPE_TIMEOUT_MS;
	s->max_body = o->max_body ? o->max_body : SCRAPE_MAX_BODY;
	s->user_agent = o->user_agent ? xstrdup(o->user_agent) : NULL;
	s->clock = o->clock ? o->clock : clock_system();
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return ERR_OK;
}

void scraper_free(struct scraper *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nhosts; i++)
		free(s->hosts[i].t);
	free(s->hosts);
	pthread_mutex_destroy(&s->mu);
	netguard_free(s->own_guard);
	free(s->chromium);
	free(s->user_agent);
	free(s);
}

/* ---- rate limit ------------------------------------------------------------ */

static void rate_expire(struct rate_host *h, int64_t now)
{
	while (h->n && now - h->t[h->head] >= RATE_WINDOW_US) {
		h->head++;
		h->n--;
	}
	if (h->n == 0)
		h->head = 0;
}

int scrape_rate_take(struct scraper *s, const char *host, int64_t *retry_after_ms)
{
	int64_t now = clock_mono_us(s->clock);
	struct rate_host *h = NULL;
	char key[HOST_MAX + 1];
	size_t i;
	int rc = ERR_OK;

	if (retry_after_ms)
		*retry_after_ms = 0;
	if (s->per_minute < 0)
		return ERR_OK;
	snprintf(key, sizeof key, "%s", host ? host : "");
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->nhosts; i++) {
		rate_expire(&s->hosts[i], now);
		if (strcmp(s->hosts[i].host, key) == 0) {
			h = &s->hosts[i];
			break;
		}
	}
	if (!h) {
		/* drop hosts whose window is empty before adding one */
		size_t k = 0;

		for (i = 0; i < s->nhosts; i++) {
			rate_expire(&s->hosts[i], now);
			if (s->hosts[i].n)
				s->hosts[k++] = s->hosts[i];
			else
				free(s->hosts[i].t);
		}
		s->nhosts = k;
		if (s->nhosts >= RATE_HOSTS_MAX) {
			pthread_mutex_unlock(&s->mu);
			if (retry_after_ms)
				*retry_after_ms = 1000;
			return ERR_BUSY;
		}
		if (s->nhosts == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 16;
			s->hosts = xrealloc(s->hosts, s->cap * sizeof *s->hosts);
		}
		h = &s->hosts[s->nhosts++];
		memset(h, 0, sizeof *h);
		memcpy(h->host, key, sizeof h->host);
		h->t = xcalloc((size_t)s->per_minute, sizeof *h->t);
	}
	if (h->n >= s->per_minute) {
		if (retry_after_ms)
			*retry_after_ms = (h->t[h->head] + RATE_WINDOW_US - now + 999) / 1000;
		rc = ERR_BUSY;
	} else {
		h->t[(h->head + h->n) % s->per_minute] = now;
		h->n++;
		/* keep the ring contiguous from head: rotate when it wraps */
		if (h->head + h->n > s->per_minute) {
			int64_t *t = xcalloc((size_t)s->per_minute, sizeof *t);

			for (int j = 0; j < h->n; j++)
				t[j] = h->t[(h->head + j) % s->per_minute];
			free(h->t);
			h->t = t;
			h->head = 0;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- finding Chromium --------------------------------------------------------- */

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool on_path(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (!executable(name))
			return false;
		snprintf(out, size, "%s", name);
		return true;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		char cand[4096];

		if (n &&
		    (size_t)snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, name) < sizeof cand &&
		    executable(cand)) {
			snprintf(out, size, "%s", cand);
			return true;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

bool scrape_find_chromium(const struct scraper *s, char *out, size_t size)
{
	if (s->chromium) {
		if (on_path(s->chromium, out, size))
			return true;
		snprintf(out, size, "%s", s->chromium);
		return false;
	}
	for (size_t i = 0; i < sizeof chromium_names / sizeof chromium_names[0]; i++)
		if (on_path(chromium_names[i], out, size))
			return true;
	snprintf(out, size,
		 "chromium, chromium-browser, google-chrome, google-chrome-stable or "
		 "headless_shell on PATH");
	return false;
}

/* ---- running Chromium ----------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	return now_us() / 1000;
}

/* The last line of Chromium's stderr that says something, for messages
 * (its D-Bus and GPU chatter is skipped). */
static void last_error_line(const char *text, char *out, size_t size)
{
	const char *best = NULL;
	size_t best_n = 0;

	out[0] = '\0';
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		if (n > 2 && !memmem(p, n, "dbus", 4) && !memmem(p, n, "D-Bus", 5) &&
		    !memmem(p, n, "unexpected operator", 19) && !memmem(p, n, "gpu", 3) &&
		    !memmem(p, n, "GPU", 3)) {
			best = p;
			best_n = n;
		}
		p += n;
		if (*p)
			p++;
	}
	if (best)
		snprintf(out, size, "%.*s", (int)(best_n > 300 ? 300 : best_n), best);
}

/* Load url in headless Chromium with host pinned to ip; the DOM in *dom.
 * *truncated when the output passed max (it is cut there). */
static int run_chromium(struct scraper *s, const char *bin, const char *url, const char *host,
			const char *ip, size_t max, char **dom, size_t *len, bool *truncated,
			struct err *e)
{
	const char *tmp = getenv("TMPDIR");
	char profile[4096], rules[700], vtb[64], dir_arg[4200], ipb[64];
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defs;
	struct buf out, errb;
	pid_t pid = -1;
	int rc = ERR_OK, status = 0;
	bool timed_out = false, reaped = false;
	int64_t deadline = now_ms() + s->timeout_ms;

	*dom = NULL;
	*len = 0;
	*truncated = false;
	snprintf(profile, sizeof profile, "%s/ambient-chromium-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(profile))
		return err_set(e, ERR_IO, "cannot make a temporary Chromium profile in %s: %s",
			       tmp && *tmp ? tmp : "/tmp", strerror(errno));
	if (strchr(ip, ':'))
		snprintf(ipb, sizeof ipb, "[%s]", ip);
	else
		snprintf(ipb, sizeof ipb, "%s", ip);
	/* host as the URL has it, without IPv6 brackets */
	char h[HOST_MAX + 1];
	snprintf(h, sizeof h, "%s", host[0] == '[' ? host + 1 : host);
	if (host[0] == '[' && strchr(h, ']'))
		*strchr(h, ']') = '\0';
	snprintf(rules, sizeof rules, "--host-resolver-rules=MAP %s %s, MAP * ~NOTFOUND", h, ipb);
	snprintf(vtb, sizeof vtb, "--virtual-time-budget=%d", SCRAPE_VIRTUAL_TIME_MS);
	snprintf(dir_arg, sizeof dir_arg, "--user-data-dir=%s", profile);

	const char *argv[32];
	int n = 0;
	argv[n++] = bin;
	argv[n++] = "--headless";
	argv[n++] = "--disable-gpu";
	if (geteuid() == 0)
		argv[n++] = "--no-sandbox"; /* Chromium refuses to run as root otherwise */
	argv[n++] = "--disable-dev-shm-usage";
	argv[n++] = "--no-first-run";
	argv[n++] = "--no-default-browser-check";
	argv[n++] = "--disable-extensions";
	argv[n++] = "--disable-sync";
	argv[n++] = "--disable-background-networking";
	argv[n++] = "--disable-component-update";
	argv[n++] = "--disable-default-apps";
	argv[n++] = "--mute-audio";
	argv[n++] = "--hide-scrollbars";
	argv[n++] = "--force-webrtc-ip-handling-policy=disable_non_proxied_udp";
	argv[n++] = rules;
	argv[n++] = dir_arg;
	argv[n++] = vtb;
	argv[n++] = "--dump-dom";
	argv[n++] = "--";
	argv[n++] = url;
	argv[n] = NULL;

	if (pipe2(out_p, O_CLOEXEC) || pipe2(err_p, O_CLOEXEC)) {
		rc = err_set(e, ERR_IO, "cannot run Chromium: pipe: %s", strerror(errno));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGHUP);
	sigaddset(&defs, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &defs);
	posix_spawnattr_setpgroup(&at, 0); /* its own group: killed as one at the deadline */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	int sp = posix_spawn(&pid, bin, &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	if (sp) {
		pid = -1;
		rc = err_set(e, ERR_IO, "cannot run Chromium (%s): %s", bin, strerror(sp));
		goto done;
	}

	buf_init(&out, max + 1);
	buf_init(&errb, STDERR_KEEP);
	{
		struct pollfd pf[2] = {{.fd = out_p[0], .events = POLLIN},
				       {.fd = err_p[0], .events = POLLIN}};
		char chunk[65536];

		while ((pf[0].fd >= 0 || pf[1].fd >= 0) && !*truncated) {
			int64_t left = deadline - now_ms();

			if (left <= 0) {
				timed_out = true;
				break;
			}
			int pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
			if (pr < 0 && errno != EINTR)
				break;
			for (int k = 0; k < 2 && pr > 0; k++) {
				if (pf[k].fd < 0 || !pf[k].revents)
					continue;
				ssize_t r = read(pf[k].fd, chunk, sizeof chunk);
				if (r < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				if (r <= 0) {
					pf[k].fd = -1;
					continue;
				}
				if (k == 0) {
					size_t room = max - out.len;

					if ((size_t)r > room) {
						buf_append(&out, chunk, room);
						*truncated = true;
						break; /* enough: stop it */
					} else {
						buf_append(&out, chunk, (size_t)r);
					}
				} else if (errb.len < STDERR_KEEP - 1) {
					size_t room = STDERR_KEEP - 1 - errb.len;

					buf_append(&errb, chunk,
						   (size_t)r < room ? (size_t)r : room);
				}
			}
		}
	}
	/* Wait for the browser to exit (without reaping, so its process group
	 * id stays ours), then kill what is left of the group and reap. */
	if (timed_out || *truncated) {
		kill(-pid, SIGKILL);
	} else {
		int64_t end = now_ms() + CHROMIUM_GRACE_MS;
		siginfo_t si;

		for (;;) {
			memset(&si, 0, sizeof si);
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
				reaped =
					true; /* ECHILD: SIGCHLD is ignored, reaped by the kernel */
				break;
			}
			if (si.si_pid == pid)
				break;
			if (now_ms() > end) {
				timed_out = true;
				break;
			}
			poll(NULL, 0, 10);
		}
		kill(-pid, SIGKILL);
	}
	if (!reaped && waitpid(pid, &status, 0) != pid)
		status = 0;
	if (timed_out) {
		rc = err_set(e, ERR_TIMEOUT,
			     "Chromium did not finish loading %s within %d s (stopped); try again, "
			     "or call with render_javascript false to get the page as served",
			     url, s->timeout_ms / 1000);
	} else if (!*truncated && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		char line[320];

		last_error_line(buf_str(&errb), line, sizeof line);
		rc = err_set(e, ERR_IO, "Chromium (%s) exited with status %d loading %s%s%s", bin,
			     WEXITSTATUS(status), url, *line ? ": " : "", line);
	} else if (!*truncated && WIFSIGNALED(status)) {
		rc = err_set(e, ERR_IO, "Chromium (%s) was killed by signal %d loading %s", bin,
			     WTERMSIG(status), url);
	} else if (out.len == 0) {
		char line[320];

		last_error_line(buf_str(&errb), line, sizeof line);
		rc = err_set(e, ERR_IO,
			     "Chromium could not load %s (it printed no document)%s%s; call with "
			     "render_javascript false to get the page as served",
			     url, *line ? ": " : "", line);
	}
	if (rc == ERR_OK) {
		*len = out.len;
		*dom = buf_steal(&out);
	}
	buf_cleanup(&out);
	buf_cleanup(&errb);
done:
	for (int k = 0; k < 2; k++) {
		if (out_p[k] >= 0)
			close(out_p[k]);
		if (err_p[k] >= 0)
			close(err_p[k]);
	}
	rm_tree(profile);
	return rc;
}

/* ---- the page -------------------------------------------------------------------- */

enum kind { K_HTML, K_TEXT, K_OTHER };

static enum kind content_kind(const char *ctype, const char *body, size_t len)
{
	if (!ctype || !*ctype) {
		size_t i = 0;

		while (i < len && isspace((unsigned char)body[i]))
			i++;
		return i < len && body[i] == '<' ? K_HTML : K_TEXT;
	}
	if (strncasecmp(ctype, "text/html", 9) == 0 ||
	    strncasecmp(ctype, "application/xhtml+xml", 21) == 0)
		return K_HTML;
	if (strncasecmp(ctype, "text/", 5) == 0 || strcasestr(ctype, "json") ||
	    strcasestr(ctype, "xml") || strncasecmp(ctype, "application/javascript", 22) == 0)
		return K_TEXT;
	return K_OTHER;
}

static int http_error(const struct fetch_once_result *r, const char *url, struct err *e)
{
	long st = r->status;
	int code = ERR_IO;
	const char *hint = "the site answered with an error";

	if (st == 404 || st == 410) {
		code = ERR_NOT_FOUND;
		hint = "there is no page at this address: check the URL";
	} else if (st == 401 || st == 403) {
		code = ERR_PERM;
		hint = "the site refuses access to this page (a login may be needed)";
	} else if (st == 429) {
		code = ERR_BUSY;
		hint = "the site is rate limiting: try again later";
	} else if (st >= 500) {
		hint = "the site has a problem: try again later";
	}
	return err_set(e, code, "%s answered HTTP %ld: %s", url, st, hint);
}

static json_t *links_json(const struct extract_link *v, size_t n, const char *text_key)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "url", json_string_lossy(v[i].url));
		json_object_set_new(o, text_key, json_string_lossy(v[i].text ? v[i].text : ""));
		json_array_append_new(a, o);
	}
	return a;
}

static char *host_of(const char *url, struct err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *out = NULL;

	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		err_set(e, ERR_INVALID,
			"url '%.200s' is not a valid web address: give a full http:// or https:// "
			"URL, e.g. https://example.com/page",
			url);
	} else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		err_set(e, ERR_INVALID,
			"url '%.200s' uses the %s: scheme; only http:// and https:// pages can be "
			"scraped",
			url, scheme);
	} else if (strlen(host) > HOST_MAX) {
		err_set(e, ERR_INVALID, "url '%.100s...' has a host name longer than %d bytes", url,
			HOST_MAX);
	} else {
		out = xstrdup(host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

int scrape_page(struct scraper *s, const struct scrape_request *rq, json_t **out, struct err *e)
{
	size_t max_content = rq->max_content ? rq->max_content : SCRAPE_CONTENT_DEFAULT;
	struct extract_selector *sel = NULL;
	struct fetch_once_result fr;
	struct extract_result x;
	char chromium[4096] = "", *host = NULL, *dom = NULL, *final_host = NULL;
	size_t dom_len = 0;
	bool dom_truncated = false;
	int64_t t0 = now_us(), wait_ms = 0;
	int rc;

	*out = NULL;
	memset(&fr, 0, sizeof fr);
	memset(&x, 0, sizeof x);
	if (!rq->url || !*rq->url || strlen(rq->url) > URL_MAX)
		return err_set(e, ERR_INVALID,
			       "url must be an http:// or https:// address of at "
			       "most %d bytes",
			       URL_MAX);
	if (!(host = host_of(rq->url, e)))
		return e->code;
	if (rq->selector && *rq->selector && !(sel = extract_selector_new(rq->selector, e))) {
		free(host);
		return e->code;
	}
	if (rq->render_javascript && !scrape_find_chromium(s, chromium, sizeof chromium)) {
		rc = err_set(e, ERR_NOT_FOUND,
			     "render_javascript needs headless Chromium, which is not installed on "
			     "this server (looked for %s). Install it (Debian: apt install "
			     "chromium) or set --chromium-path / " SCRAPE_CHROMIUM_ENV
			     "; meanwhile call again with render_javascript false to get the page "
			     "as the server sends it (without running its JavaScript)",
			     chromium);
		goto out;
	}
	if (scrape_rate_take(s, host, &wait_ms)) {
		rc = err_set(e, ERR_BUSY,
			     "rate limit: at most %d requests per minute to %s; the next one is "
			     "possible in %lld s",
			     s->per_minute, host, (long long)((wait_ms + 999) / 1000));
		goto out;
	}

	struct fetch_options fo = {
		.user_agent = s->user_agent,
		.guard = s->guard,
		.timeout_ms = s->timeout_ms,
		.connect_timeout_ms = 10000,
		.max_body = s->max_body,
		.retry = {.max_attempts = 2, .base_delay_ms = 250, .max_retry_after_ms = 5000},
	};
	struct fetch_request frq = {
		.url = rq->url,
		.headers = (const char *const[]){"Accept: text/html,application/xhtml+xml,"
						 "application/xml;q=0.9,text/*;q=0.8,*/*;q=0.5",
						 "Accept-Language: en;q=1.0, *;q=0.5", NULL},
		.truncate = true,
	};
	struct err fe = {0};
	rc = fetch_once(&fo, &frq, &fr, &fe);
	if (rc) {
		if (fr.failure == FETCH_FAIL_HTTP)
			rc = http_error(&fr, fr.final_url, e);
		else if (fr.failure == FETCH_FAIL_BLOCKED)
			rc = err_set(e, ERR_PERM,
				     "%s (this server does not fetch private addresses "
				     "for tools unless its operator allows them)",
				     err_msg(&fe));
		else
			rc = err_set(e, fe.code ? fe.code : rc, "%s", err_msg(&fe));
		goto out;
	}
	enum kind kind = content_kind(fr.content_type, fr.body ? fr.body : "", fr.body_len);
	if (kind == K_OTHER) {
		rc = err_set(e, ERR_INVALID,
			     "%s is not a web page but %s; scrape_webpage reads HTML and text",
			     fr.final_url, fr.content_type);
		goto out;
	}
	if (rq->render_javascript && kind == K_HTML) {
		if (!fr.primary_ip[0]) {
			rc = err_set(e, ERR_IO,
				     "cannot tell which address %s came from, so it "
				     "cannot be pinned for Chromium",
				     fr.final_url);
			goto out;
		}
		if (!(final_host = host_of(fr.final_url, e))) {
			rc = e->code;
			goto out;
		}
		rc = run_chromium(s, chromium, fr.final_url, final_host, fr.primary_ip, s->max_body,
				  &dom, &dom_len, &dom_truncated, e);
		if (rc)
			goto out;
	}

	const char *html = dom ? dom : (fr.body ? fr.body : "");
	size_t html_len = dom ? dom_len : fr.body_len;
	json_t *d = json_object();

	json_object_set_new(d, "url", json_string_lossy(rq->url));
	json_object_set_new(d, "final_url", json_string_lossy(fr.final_url));
	if (kind == K_HTML) {
		struct extract_opts xo = {
			.url = fr.final_url,
			.encoding = dom ? "UTF-8" : fr.charset,
			.flags = EXTRACT_META | EXTRACT_NO_TITLE_LINE |
				 (rq->include_links ? EXTRACT_LINKS : 0) |
				 (rq->include_images ? EXTRACT_IMAGES : 0),
			.selector = sel,
			.max_text = max_content,
			.max_links = SCRAPE_LINKS_MAX,
			.max_images = SCRAPE_IMAGES_MAX,
		};
		rc = extract_html(html, html_len, &xo, &x, e);
		if (rc) {
			json_decref(d);
			goto out;
		}
		json_object_set_new(d, "title", x.title ? json_string_lossy(x.title) : json_null());
		json_object_set_new(d, "content", json_string_lossy(x.text));
		json_object_set_new(d, "content_truncated",
				    json_boolean(x.truncated || fr.truncated || dom_truncated));
		if (rq->include_links)
			json_object_set_new(d, "links", links_json(x.links, x.n_links, "text"));
		if (rq->include_images)
			json_object_set_new(d, "images", links_json(x.images, x.n_images, "alt"));
		json_object_set_new(d, "metadata", extract_meta_json(&x));
	} else {
		/* plain text, JSON, XML: the text as it came, cut on a character */
		char *t = json_utf8_sanitize(fr.body ? fr.body : "");
		size_t n = strlen(t);
		bool cut = n > max_content;

		if (cut) {
			n = max_content;
			while (n && ((unsigned char)t[n] & 0xC0) == 0x80)
				n--;
			t[n] = '\0';
		}
		json_object_set_new(d, "title", json_null());
		json_object_set_new(d, "content", json_string(t));
		json_object_set_new(d, "content_truncated", json_boolean(cut || fr.truncated));
		if (rq->include_links)
			json_object_set_new(d, "links", json_array());
		if (rq->include_images)
			json_object_set_new(d, "images", json_array());
		json_object_set_new(d, "metadata", json_object());
		free(t);
	}
	json_object_set_new(d, "status_code", json_integer(fr.status));
	json_object_set_new(d, "load_time", json_real((double)(now_us() - t0) / 1e6));
	json_object_set_new(d, "method", json_string(dom ? "chromium" : "http"));
	json_object_set_new(d, "content_type",
			    fr.content_type ? json_string_lossy(fr.content_type) : json_null());
	if (sel) {
		json_object_set_new(d, "selector", json_string_lossy(rq->selector));
		json_object_set_new(d, "selector_matched", json_boolean(x.selector_matched));
	}
	if (rq->include_html) {
		size_t n = html_len < max_content ? html_len : max_content;
		char *h = xstrndup(html, n);
		char *clean = json_utf8_sanitize(h);

		json_object_set_new(d, "html", json_string(clean));
		json_object_set_new(d, "html_truncated", json_boolean(n < html_len));
		free(clean);
		free(h);
	}
	*out = d;
	rc = ERR_OK;
out:
	extract_result_cleanup(&x);
	extract_selector_free(sel);
	fetch_once_cleanup(&fr);
	free(dom);
	free(host);
	free(final_host);
	return rc;
}
