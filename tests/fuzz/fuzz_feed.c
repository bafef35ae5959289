/*
 * fuzz_feed.c - libFuzzer target for news sources and metric readings:
 * every input is parsed as an RSS/Atom feed (then classified, keyed and
 * de-duplicated), scanned as an HTML page for feeds and headlines, read
 * as a date (its first line), and read as a threshold_watch response (JSON
 * by path, text by regex, numbers).  It must never crash, leak or hang.
 *
 * Built two ways: with clang -fsanitize=fuzzer (cmake -DAMBIENT_FUZZ=ON)
 * to fuzz, and with a small main() (replay.c) that runs the corpus under
 * CTest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/feed.h"
#include "domain/metric.h"

static struct feed_classifier *classifier(void)
{
	static struct feed_classifier *c;
	static const char *const wanted[] = {"technology", "climate", "AI"};

	if (!c)
		c = feed_classifier_new(NULL, 0, wanted, 3);
	return c;
}

static void keys(const struct feed *f)
{
	char key[FEED_KEY_LEN + 1];

	for (size_t i = 0; i < f->n_items; i++) {
		feed_item_key(&f->items[i], key);
		if (strlen(key) != FEED_KEY_LEN)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct feed_opts o = {.url = "https://fuzz.example/feed.xml", .max_items = 50};
	struct feed f;
	struct feed_page p;

	feed_sniff(s, size);
	if (feed_parse(s, size, &o, &f, NULL) == ERR_OK) {
		feed_classify_items(classifier(), &f);
		keys(&f);
		feed_dedupe(&f);
	}
	feed_cleanup(&f);

	feed_scan_html(s, size, &o, &p);
	keys(&p.headlines);
	feed_page_cleanup(&p);

	{
		char line[128];
		size_t n = 0;
		int64_t us;
		double v;

		while (n < size && n < sizeof(line) - 1 && data[n] != '\n')
			n++;
		memcpy(line, data, n);
		line[n] = '\0';
		feed_parse_date(line, &us);
		free(feed_normalize_url(line));
		metric_path_check(line, NULL);
		metric_parse_number(s, size, &v);
		metric_from_json(s, size, "data[0].price", &v, NULL);
		metric_from_json(s, size, "/bitcoin/usd", &v, NULL);
		if (size < 65536)
			metric_from_text(s, size, "[Pp]rice:? *([0-9.,]+)", &v, NULL);
	}
	return 0;
}
