/*
 * fuzz_html.c - libFuzzer target for page extraction and keyword matching:
 * every input is an HTML page fed to extract_html (whole page with links,
 * images and meta; with a CSS selector; with an XPath selector; with
 * ignore_text), whose text then goes through keyword matching, the line
 * diff and the hash; the raw bytes go through matching too (invalid
 * UTF-8), and the input's first line is tried as a CSS selector.  It must
 * never crash, leak or hang, and the text must always be valid UTF-8.
 *
 * Built two ways: with clang -fsanitize=fuzzer (cmake -DAMBIENT_FUZZ=ON)
 * to fuzz, and with a small main() (replay.c) that runs the corpus under
 * CTest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/diff.h"
#include "domain/extract.h"
#include "domain/match.h"

static void check_utf8(const char *s, size_t n)
{
	if (strlen(s) != n)
		abort();
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = match_utf8_decode(s + i, n - i, &cp);

		if (cp == 0xFFFD && l == 1)
			abort();
		i += l;
	}
}

static void check_result(const struct extract_result *r)
{
	check_utf8(r->text, r->text_len);
	if (r->title)
		check_utf8(r->title, strlen(r->title));
	for (size_t i = 0; i < r->n_links; i++) {
		check_utf8(r->links[i].text, strlen(r->links[i].text));
		if (strncmp(r->links[i].url, "http", 4) != 0)
			abort();
	}
	for (size_t i = 0; i < r->n_meta; i++)
		check_utf8(r->meta[i].content, strlen(r->meta[i].content));
}

static void matching(const struct match_set *set, const char *t, size_t n)
{
	struct match_result m;

	match_find(set, t, n, MATCH_ANY, 5, &m);
	for (size_t i = 0; i < m.n_snippets; i++) {
		check_utf8(m.snippets[i].text, strlen(m.snippets[i].text));
		if (m.snippets[i].start > m.snippets[i].end || m.snippets[i].end > n)
			abort();
	}
	match_result_cleanup(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kws[] = {"AI",
					  "machine learning",
					  "Künstliche Intelligenz",
					  "ИИ",
					  "straße",
					  "C++",
					  "人工智能",
					  "a.i."};
	static const char *const ign[] = {"updated", "/[0-9]+ (views|comments)/"};
	const char *html = (const char *)data;
	struct match_set *set = match_set_new(kws, sizeof(kws) / sizeof(kws[0]), 0);
	struct extract_opts o = {.url = "https://fuzz.example/dir/page.html",
				 .flags = EXTRACT_LINKS | EXTRACT_IMAGES | EXTRACT_META};
	struct extract_result r, r2;
	struct diff_result d;
	char hash[DIFF_HASH_HEX_LEN + 1];

	/* the whole page */
	extract_html(html, size, &o, &r, NULL);
	check_result(&r);
	matching(set, r.text, r.text_len);
	diff_hash(r.text, r.text_len, hash);

	/* a CSS selector, ignore_text and a charset header */
	o = (struct extract_opts){.url = "http://fuzz.example/",
				  .encoding = "windows-1252",
				  .flags = EXTRACT_LINKS,
				  .selector_text =
					  "main article > h2 a, .story p, #content [data-id]",
				  .ignore_text = ign,
				  .n_ignore = 2};
	extract_html(html, size, &o, &r2, NULL);
	check_result(&r2);
	diff_lines(r.text, r.text_len, r2.text, r2.text_len, NULL, &d);
	diff_result_cleanup(&d);
	extract_result_cleanup(&r2);

	/* an XPath selector */
	o = (struct extract_opts){.selector_text = "//div[p]/text() | //title | //a/@href"};
	extract_html(html, size, &o, &r2, NULL);
	check_result(&r2);
	extract_result_cleanup(&r2);

	/* the raw bytes: invalid UTF-8 for the matcher and the diff */
	matching(set, html, size);
	diff_lines(html, size, r.text, r.text_len, &(struct diff_opts){.max_edits = 64}, &d);
	diff_result_cleanup(&d);
	extract_result_cleanup(&r);

	/* the first line as a selector */
	{
		size_t n = 0;
		char sel[257];
		struct extract_selector *s;

		while (n < size && n < 256 && data[n] != '\n')
			n++;
		memcpy(sel, data, n);
		sel[n] = '\0';
		s = extract_selector_new(sel, NULL);
		if (s && size < 4096) {
			o = (struct extract_opts){.selector = s};
			extract_html(html, size, &o, &r2, NULL);
			check_result(&r2);
			extract_result_cleanup(&r2);
		}
		extract_selector_free(s);
		free(extract_css_to_xpath(sel, NULL));
	}
	{
		char *t = extract_fragment_text(html, size, 100);

		check_utf8(t, strlen(t));
		free(t);
	}
	match_set_free(set);
	return 0;
}
