/*
 * scrape.h - read one web page for the scrape_webpage tool: title, visible
 * text, links, images, meta and OpenGraph data, status code and load time,
 * optionally after running its JavaScript in headless Chromium.
 *
 * The page is fetched with the engine's fetcher (engine/fetch_once.h), so
 * the SSRF guard (engine/netguard.h: --allow-net / AMBIENT_ALLOW_NET) judges
 * every address connected to, redirects included; bodies are capped
 * (max_body, larger pages are cut and marked truncated).  The text, links,
 * images and metadata come from domain/extract.h (a CSS or XPath selector
 * narrows the text, links and images).
 *
 * Rate limit: at most per_minute requests per host name in any 60 seconds
 * (a sliding window, in this process, over all callers), to be polite to the
 * sites: a request over the limit fails with ERR_BUSY and says when the next
 * one is possible.  (The MCP guard's per-user limits come on top.)
 *
 * render_javascript: the page is first fetched as above (which checks every
 * hop against the guard and gives the status code and the final URL), then
 * loaded again by `chromium --headless --dump-dom FINAL_URL` with the final
 * host pinned to the address the fetch connected to and every other name
 * unresolvable:
 *     --host-resolver-rules="MAP <host> <checked address>, MAP * ~NOTFOUND"
 * (the rules apply to IP literals too), so the page's subresources,
 * scripts' fetch() calls and redirects can reach no other host, and the host
 * cannot be re-resolved to another address (DNS rebinding).  WebRTC is kept
 * off non-proxied UDP.  Residual risk, documented in docs/tools.md: other
 * ports of the page's own (already allowed) address are reachable by the
 * page's scripts, and a page can send requests (not read answers) to them.
 * Chromium runs with a fresh temporary profile, no first-run, extensions,
 * sync or background networking, JavaScript timers fast-forwarded by
 * --virtual-time-budget, under a deadline (the whole process group is
 * killed when it passes) and an output cap; as root it needs --no-sandbox,
 * which is added only then.  Chromium is found at the configured path, else
 * as chromium, chromium-browser, google-chrome, google-chrome-stable or
 * headless_shell on PATH; when there is none the call fails with ERR_NOT_FOUND
 * saying so (never a silent fallback to the static page).
 *
 * Threads: scrape_page may be called from any number of threads at once.
 */
#ifndef AMBIENT_ENGINE_SCRAPE_H
#define AMBIENT_ENGINE_SCRAPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/err.h"

#define SCRAPE_PER_MINUTE 30
#define SCRAPE_TIMEOUT_MS 30000
#define SCRAPE_MAX_BODY (5u << 20)
#define SCRAPE_CONTENT_DEFAULT 20000 /* bytes of text returned */
#define SCRAPE_CONTENT_MAX 200000
#define SCRAPE_LINKS_MAX 300
#define SCRAPE_IMAGES_MAX 100
#define SCRAPE_CHROMIUM_ENV "AMBIENT_CHROMIUM"
#define SCRAPE_VIRTUAL_TIME_MS 5000

struct netguard;

struct scrape_options {
	const struct netguard *guard; /* borrowed, must outlive the scraper; NULL: a guard of
				       * the scraper's own that allows public addresses only */
	int per_minute;               /* per host name; 0: SCRAPE_PER_MINUTE; < 0: no limit */
	const char *chromium;         /* path or command name; NULL or "": search PATH (see
				       * above).  Copied. */
	int timeout_ms;               /* fetch, and the Chromium run; 0: SCRAPE_TIMEOUT_MS */
	size_t max_body;              /* bytes of HTML read; 0: SCRAPE_MAX_BODY */
	const char *user_agent;       /* NULL: the fetcher's.  Copied. */
	struct clock *clock;          /* the rate window (monotonic); NULL: the system's */
};

struct scrape_request {
	const char *url; /* http:// or https:// */
	const char *selector;
	bool include_links, include_images, include_html, render_javascript;
	size_t max_content; /* bytes of text (and of html); 0: SCRAPE_CONTENT_DEFAULT */
};

struct scraper;

/* CONSTRUCTOR.  Never fails today (ERR_INVALID reserved for bad options). */
int scraper_new(const struct scrape_options *o, struct scraper **out, struct err *e);
/* DESTRUCTOR.  NULL is fine. */
void scraper_free(struct scraper *s);

/*
 * Read the page.  On success *out is a new object
 *   {url, final_url, title, content, content_truncated, links [{url, text}]?,
 *    images [{url, alt}]?, metadata {...extract_meta_json}, status_code,
 *    load_time (seconds), method ("http" | "chromium"), content_type,
 *    selector?, selector_matched?, html?}
 * Errors, each with what to do: ERR_INVALID (bad URL, selector, or not a
 * page: an image, a PDF ...), ERR_PERM (refused by the SSRF guard, or HTTP
 * 401/403), ERR_BUSY (the per-host rate limit, or HTTP 429), ERR_NOT_FOUND
 * (DNS, HTTP 404/410, or Chromium missing for render_javascript),
 * ERR_TIMEOUT, ERR_IO (other network and HTTP failures, Chromium failing).
 */
int scrape_page(struct scraper *s, const struct scrape_request *rq, json_t **out, struct err *e);

/* ---- parts, exported for the tests ------------------------------------- */

/* Count one request to host (case-insensitive) against the limit.  ERR_OK,
 * or ERR_BUSY with *retry_after_ms (may be NULL) until a slot frees. */
int scrape_rate_take(struct scraper *s, const char *host, int64_t *retry_after_ms);

/* The Chromium this scraper would run: the configured one, or the first of
 * the default names on PATH.  Writes the path and returns true, or false
 * (out gets the list of what was looked for, for messages). */
bool scrape_find_chromium(const struct scraper *s, char *out, size_t size);

#endif
