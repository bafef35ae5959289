/*
 * demo_site.h - the local news site of `ambient demo`: stand-ins for the
 * pages the seed's tasks read, on 127.0.0.1, whose content the demo moves
 * forward in stages.
 *
 *   GET /                          an index of the pages below
 *   GET SEED_SITE_NEWS_PATH        "TechCrunch": an HTML front page of articles
 *   GET SEED_SITE_FEED_PATH        its RSS 2.0 feed
 *   GET SEED_SITE_HN_PATH          "Hacker News": an HTML list of links
 *   GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd
 *                                  CoinGecko's simple price API:
 *                                  {"bitcoin": {"usd": 48250.0}}
 *
 * (the paths are in cli/seed_tasks.h, which builds the tasks that read them).
 * At stage 0 the pages hold ordinary tech news without the monitor's
 * keywords and bitcoin is below the seed's 50,000 threshold; each later
 * stage publishes new stories (one about AI, then one about machine
 * learning) and moves the price above the threshold.  Articles carry the
 * time they were published by the (demo) clock.
 *
 * Threads: served by libmicrohttpd threads; every function may be called from
 * any thread.
 */
#ifndef AMBIENT_CLI_DEMO_SITE_H
#define AMBIENT_CLI_DEMO_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct demo_site;

/* What a stage changes, for the demo to tell. */
struct demo_site_stage {
	const char *news; /* the headline published on "TechCrunch", or NULL */
	const char *hn;   /* the headline published on "Hacker News", or NULL */
	double price;     /* bitcoin in USD from this stage on */
};

/* Number of stages (0 .. DEMO_SITE_STAGES - 1). */
#define DEMO_SITE_STAGES 3

/* What stage n publishes; NULL when n is out of range. */
const struct demo_site_stage *demo_site_stage(int n);

/* CONSTRUCTOR: listen on 127.0.0.1 (port 0: any free port) at stage 0.
 * ERR_IO when the port cannot be bound. */
int demo_site_start(int port, struct demo_site **out, struct err *e);

/* "http://127.0.0.1:PORT" (no trailing slash); borrowed until free. */
const char *demo_site_url(const struct demo_site *s);

/* Publish stage n (and every stage before it) with publication time at_us
 * (0: now by the clock); never goes back. */
void demo_site_advance(struct demo_site *s, int n, int64_t at_us);

/* The current price of one bitcoin in USD. */
double demo_site_price(struct demo_site *s);

/* How many GET requests a path (without the query) has answered, e.g. to
 * know that a monitor has read the page once. */
long demo_site_hits(struct demo_site *s, const char *path);

/* DESTRUCTOR: stop serving and free.  NULL is fine. */
void demo_site_free(struct demo_site *s);

#endif
