/* test_extract.c - HTML to visible text, metadata, links, selectors, caps.
 *
 * Fixtures live in tests/data/extract/, found next to this file (CMake
 * compiles with absolute paths, so __FILE__ locates them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/extract.h"
#include "domain/match.h"

static char *read_data(const char *name, size_t *len)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 0;
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%.*s%s../data/extract/%s", dir, __FILE__, slash ? "/" : "",
		 name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = match_utf8_decode(s + i, n - i, &cp);

		if (cp == 0xFFFD && l == 1)
			return false;
		i += l;
	}
	return true;
}

/* Text of an HTML string with default options (and a selector). */
static char *text_of(const char *html, const char *selector)
{
	struct extract_opts o = {.selector_text = selector, .flags = EXTRACT_NO_TITLE_LINE};
	struct extract_result r;
	struct err e = {0};
	char *t;

	if (extract_html(html, strlen(html), &o, &r, &e) != ERR_OK)
		fail_msg("extract failed: %s", e.msg);
	assert_true(valid_utf8(r.text, r.text_len));
	assert_int_equal(strlen(r.text), r.text_len);
	t = strdup(r.text);
	extract_result_cleanup(&r);
	return t;
}

#define LIT(s) s, sizeof(s) - 1

#define TEXT_IS(html, sel, want)                                                                   \
	do {                                                                                       \
		char *got_ = text_of(html, sel);                                                   \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
	} while (0)

static void test_news_page(void **state)
{
	size_t len;
	char *html = read_data("news.html", &len);
	struct extract_opts o = {.url = "https://news.example.com/tech/index.html",
				 .flags = EXTRACT_LINKS | EXTRACT_IMAGES | EXTRACT_META};
	struct extract_result r;

	(void)state;
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "Tech News & Views — Today\n"
				    "Home | Tech | Business\n"
				    "Today’s top stories\n"
				    "Chip makers bet big on AI accelerators\n"
				    "Shares rose 5 % after the announcement. Analysts expect more "
				    "to come.\n"
				    "Machine learning finds new antibiotics\n"
				    "Researchers used a model trained on 100,000 molecules.\n"
				    "Coin Price\n"
				    "Bitcoin $67,123.45\n"
				    "line one\n"
				    "line two\n"
				    "Updated at 10:32 UTC\n"
				    "© 2025 Example News\n"
				    "All rights reserved.");
	assert_int_equal(r.text_len, strlen(r.text));
	assert_null(strstr(r.text, "tracking"));
	assert_null(strstr(r.text, "Hidden"));
	assert_null(strstr(r.text, "Buy our"));
	assert_null(strstr(r.text, "Template"));
	assert_null(strstr(r.text, "JavaScript"));
	assert_null(strstr(r.text, "NewsArticle"));
	assert_true(r.selector_matched);
	assert_false(r.truncated);
	assert_string_equal(r.title, "Tech News & Views — Today");
	assert_string_equal(r.description, "The latest technology news, analysis & opinion.");
	assert_string_equal(r.canonical, "https://news.example.com/tech/");
	assert_string_equal(r.lang, "en-GB");
	assert_string_equal(extract_meta_get(&r, "og:title"), "Tech News & Views");
	assert_string_equal(extract_meta_get(&r, "OG:Description"), "Daily tech headlines");
	assert_string_equal(extract_meta_get(&r, "og:image"),
			    "https://news.example.com/img/share.png");
	assert_string_equal(extract_meta_get(&r, "twitter:card"), "summary_large_image");
	assert_null(extract_meta_get(&r, "viewport"));
	assert_int_equal(r.n_links, 5);
	assert_string_equal(r.links[0].url, "https://news.example.com/");
	assert_string_equal(r.links[0].text, "Home");
	assert_string_equal(r.links[3].url,
			    "https://news.example.com/2025/06/20/chip-makers-bet-on-ai");
	assert_string_equal(r.links[3].text, "Chip makers bet big on AI accelerators");
	assert_string_equal(r.links[4].url,
			    "https://other.example.org/machine-learning?utm_source=x#top");
	assert_int_equal(r.n_images, 1);
	assert_string_equal(r.images[0].url, "https://news.example.com/tech/img/molecule.jpg");
	assert_string_equal(r.images[0].text, "A molecule");
	extract_result_cleanup(&r);

	/* without the flags: text and title only */
	o.flags = 0;
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_int_equal(r.n_links + r.n_images + r.n_meta, 0);
	assert_null(r.description);
	assert_non_null(r.title);
	extract_result_cleanup(&r);
	free(html);
}

static void test_blocks_and_whitespace(void **state)
{
	(void)state;
	TEXT_IS("<p>a   b\n\tc</p><p>d</p>", NULL, "a b c\nd");
	TEXT_IS("<div>one<br>two<br/><br>three</div>", NULL, "one\ntwo\nthree");
	TEXT_IS("<span>in</span><span>line</span> <b>bold</b>", NULL, "inline bold");
	TEXT_IS("<ul><li>a</li><li> b </li></ul>", NULL, "a\nb");
	TEXT_IS("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>", NULL,
		"a b\nc d");
	TEXT_IS("<pre>  x\n    y\n\nz</pre>after", NULL, "x\ny\nz\nafter");
	TEXT_IS("<h1>Title</h1>text<hr>more", NULL, "Title\ntext\nmore");
	TEXT_IS("a&nbsp;&nbsp;b\xc2\xa0\xc2\xa0"
		"c",
		NULL, "a b c");
	TEXT_IS("", NULL, "");
	TEXT_IS("   \n\t ", NULL, "");
	TEXT_IS("<p></p><div> </div>", NULL, "");
	TEXT_IS("plain text, no tags", NULL, "plain text, no tags");
	TEXT_IS("<!-- comment --><p>x<!-- y -->z</p>", NULL, "xz");
}

static void test_invisible(void **state)
{
	(void)state;
	TEXT_IS("<script>a()</script><style>p{}</style><noscript>n</noscript>"
		"<template>t</template><svg><text>s</text></svg><iframe>i</iframe>ok",
		NULL, "ok");
	TEXT_IS("<div hidden>h</div><p style=\"color:red; DISPLAY : none\">d</p>"
		"<p style=\"visibility:hidden\">v</p><p style=\"display:block\">shown</p>",
		NULL, "shown");
	TEXT_IS("<head><title>T</title><style>x</style></head><body>b</body>", NULL, "b");
}

static void test_title_line(void **state)
{
	struct extract_result r;
	const char *html = "<title> My\n Page </title><p>body</p>";

	(void)state;
	assert_int_equal(extract_html(html, strlen(html), NULL, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "My Page\nbody");
	assert_string_equal(r.title, "My Page");
	extract_result_cleanup(&r);
	html = "<title>Only title</title>";
	assert_int_equal(extract_html(html, strlen(html), NULL, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "Only title");
	extract_result_cleanup(&r);
	html = "<title></title><p>x</p>";
	assert_int_equal(extract_html(html, strlen(html), NULL, &r, NULL), ERR_OK);
	assert_null(r.title);
	assert_string_equal(r.text, "x");
	extract_result_cleanup(&r);
}

static void test_entities(void **state)
{
	(void)state;
	TEXT_IS("&amp; &lt;b&gt; &quot;q&quot; &#39;s&#39; &eacute;t&eacute; &#x1F600; &hellip; "
		"&euro;&#8364;",
		NULL, "& <b> \"q\" 's' été 😀 … €€");
	TEXT_IS("x &#0; &#xD800; &#x110000; y", NULL, "x y");
	TEXT_IS("<p title=\"&amp;\">R&amp;D</p>", NULL, "R&D");
	/* a soft hyphen and a BOM are invisible */
	TEXT_IS("Intel&shy;ligenz\xef\xbb\xbf!", NULL, "Intelligenz!");
}

static void test_charsets(void **state)
{
	struct extract_result r;
	struct extract_opts o = {.flags = EXTRACT_NO_TITLE_LINE};
	size_t len;
	char *html;

	(void)state;
	html = read_data("latin1.html", &len);
	assert_int_equal(extract_html(html, len, NULL, &r, NULL), ERR_OK);
	assert_string_equal(r.title, "Café München");
	assert_string_equal(r.text, "Café München\nKünstliche Intelligenz für Straßen © 2025");
	extract_result_cleanup(&r);
	free(html);

	html = read_data("cp1252.html", &len);
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "“Smart quotes” – and € euro");
	extract_result_cleanup(&r);
	free(html);

	html = read_data("shift_jis.html", &len);
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "人工知能のニュース");
	assert_string_equal(r.title, "ニュース");
	extract_result_cleanup(&r);
	free(html);

	html = read_data("utf16.html", &len);
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "UTF-16 page ü");
	extract_result_cleanup(&r);
	free(html);

	/* the HTTP header's charset */
	o.encoding = "ISO-8859-1";
	assert_int_equal(extract_html(LIT("<p>caf\xe9</p>"), &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "café");
	extract_result_cleanup(&r);
	/* an unknown charset name falls back to detection */
	o.encoding = "x-no-such-charset";
	assert_int_equal(extract_html(LIT("<p>caf\xc3\xa9</p>"), &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "café");
	extract_result_cleanup(&r);
	/* undeclared and not UTF-8: Latin-1, and the output is valid UTF-8 */
	o.encoding = NULL;
	assert_int_equal(extract_html(LIT("<p>caf\xe9 \xff na\xefve</p>"), &o, &r, NULL), ERR_OK);
	assert_true(valid_utf8(r.text, r.text_len));
	assert_string_equal(r.text, "café ÿ naïve");
	extract_result_cleanup(&r);
	/* UTF-8 with a BOM */
	assert_int_equal(extract_html(LIT("\xef\xbb\xbf<p>\xc3\xbc</p>"), &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "ü");
	extract_result_cleanup(&r);
}

static void test_broken_html(void **state)
{
	size_t len;
	char *html = read_data("broken.html", &len);
	struct extract_opts o = {.url = "https://example.com/dir/page",
				 .flags = EXTRACT_LINKS | EXTRACT_NO_TITLE_LINE};
	struct extract_result r;

	(void)state;
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_true(valid_utf8(r.text, r.text_len));
	assert_non_null(strstr(r.text, "First paragraph bold both italic?\n"));
	assert_non_null(strstr(r.text, "Second paragraph with an unquoted link\n"));
	assert_non_null(strstr(r.text, "cell one cell two\none\ntwo\nthree\n"));
	assert_non_null(strstr(r.text, "<tag> and 😀"));
	assert_null(strstr(r.text, "hidden by comment"));
	assert_string_equal(r.title, "Broken page");
	assert_int_equal(r.n_links, 1);
	assert_string_equal(r.links[0].url, "https://example.com/x?a=1&b=2");
	extract_result_cleanup(&r);
	free(html);

	TEXT_IS("<p>unclosed <b>tags <i>everywhere", NULL, "unclosed tags everywhere");
	TEXT_IS("</div></p></body>text after stray end tags", NULL, "text after stray end tags");
	TEXT_IS("<script>never closed <p>hidden", NULL, "");
	TEXT_IS("<<<>>><p <p>>x", NULL, ">>>\n>x");
	TEXT_IS("<div\x00 class=x>nul\x00byte</div>", NULL, "");
	{
		const char bin[] = "<p>a\0b</p>";
		struct extract_result r2;

		assert_int_equal(extract_html(bin, sizeof(bin) - 1, NULL, &r2, NULL), ERR_OK);
		assert_true(valid_utf8(r2.text, r2.text_len));
		assert_int_equal(strlen(r2.text), r2.text_len);
		extract_result_cleanup(&r2);
	}
}

static void test_selectors(void **state)
{
	size_t len;
	char *html = read_data("news.html", &len);
	struct extract_opts o = {.url = "https://news.example.com/", .flags = EXTRACT_LINKS};
	struct extract_result r;
	struct err e = {0};

	(void)state;
	o.selector_text = "article.story > h2";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Chip makers bet big on AI accelerators\n"
				    "Machine learning finds new antibiotics");
	assert_true(r.selector_matched);
	/* links come from the selected part only */
	assert_int_equal(r.n_links, 2);
	assert_string_equal(r.title, "Tech News & Views — Today");
	extract_result_cleanup(&r);

	o.selector_text = "main .summary";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(
		r.text, "Shares rose 5 % after the announcement. Analysts expect more to come.\n"
			"Researchers used a model trained on 100,000 molecules.");
	extract_result_cleanup(&r);

	o.selector_text = "#content table tr + tr td:nth-child(2)";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "':nth-child(2)' is not supported"));
	extract_result_cleanup(&r);

	o.selector_text = "#content table tr + tr";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Bitcoin $67,123.45");
	extract_result_cleanup(&r);

	o.selector_text = "article[data-id='2'] p, h1";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Today’s top stories\n"
				    "Researchers used a model trained on 100,000 molecules.");
	extract_result_cleanup(&r);

	o.selector_text = "//tr/*[2]";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Price\n$67,123.45");
	extract_result_cleanup(&r);

	o.selector_text = "(//h2)[last()]";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Machine learning finds new antibiotics");
	extract_result_cleanup(&r);

	o.selector_text = "count(//article)";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "2");
	extract_result_cleanup(&r);

	o.selector_text = "normalize-space(//h1)";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Today’s top stories");
	extract_result_cleanup(&r);

	o.selector_text = "//a/@href";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_true(strncmp(r.text, "/\n/tech/\n/business/\n", 20) == 0);
	extract_result_cleanup(&r);

	/* the head can be selected explicitly */
	o.selector_text = "title";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_string_equal(r.text, "Tech News & Views — Today");
	extract_result_cleanup(&r);

	o.selector_text = ".nothing-like-this";
	assert_int_equal(extract_html(html, len, &o, &r, &e), ERR_OK);
	assert_false(r.selector_matched);
	assert_string_equal(r.text, "");
	extract_result_cleanup(&r);
	free(html);

	/* nested matches are not repeated */
	TEXT_IS("<div>a<div>b<div>c</div></div></div><div>d</div>", "div", "a\nb\nc\nd");
	TEXT_IS("<div>a<p>b</p></div>", "div, p", "a\nb");
	TEXT_IS("<ul><li>1</li><li>2</li><li>3</li></ul>", "li + li", "2\n3");
	TEXT_IS("<h2>h</h2><p>1</p><div>x</div><p>2</p>", "h2 ~ p", "1\n2");
	TEXT_IS("<h2>h</h2><p>1</p><div>x</div><p>2</p>", "h2 + p", "1");
	TEXT_IS("<h2>h</h2><div>x</div><p>2</p>", "h2 + p", "");
	TEXT_IS("<p class='a b'>1</p><p class='ab'>2</p><p class='b a c'>3</p>", ".a.b", "1\n3");
	TEXT_IS("<p class=' a\tb '>1</p>", "p.b", "1");
	TEXT_IS("<a href='https://x'>1</a><a href='http://y.pdf'>2</a><a>3</a>", "a[href^='https']",
		"1");
	TEXT_IS("<a href='https://x'>1</a><a href='http://y.pdf'>2</a><a>3</a>",
		"a[href$=\".pdf\"]", "2");
	TEXT_IS("<a href='https://x'>1</a><a href='http://y.pdf'>2</a><a>3</a>", "a[href*=y]", "2");
	TEXT_IS("<p lang='en-US'>1</p><p lang='en'>2</p><p lang='eng'>3</p>", "[lang|=en]", "1\n2");
	TEXT_IS("<p data-x='a b c'>1</p><p data-x='abc'>2</p>", "[data-x~=b]", "1");
	TEXT_IS("<p data-x=\"it's &quot;q&quot;\">1</p>", "p[data-x='it\\'s \"q\"']", "1");
	TEXT_IS("<DIV ID=Main><P>1</P></DIV>", "DIV#Main > P", "1");
	TEXT_IS("<div id='a:b'>1</div>", "#a\\:b", "1");
	TEXT_IS("<section><div><p>1</p></div><p>2</p></section>", "section > p", "2");
	TEXT_IS("<section><div><p>1</p></div><p>2</p></section>", "section p", "1\n2");
	TEXT_IS("<p>x</p>", "*", "x");
}

static void test_selector_translation(void **state)
{
	struct err e = {0};
	struct extract_selector *s;
	char *x;

	(void)state;
	x = extract_css_to_xpath("main article", &e);
	assert_string_equal(x, "//main//article");
	free(x);
	x = extract_css_to_xpath("ul > li.item#x[data-a='1']", &e);
	assert_string_equal(x, "//ul/li[contains(concat(' ',normalize-space(@class),' '),"
			       "concat(' ','item',' '))][@id='x'][@data-a='1']");
	free(x);
	x = extract_css_to_xpath("a , b", &e);
	assert_string_equal(x, "//a | //b");
	free(x);
	x = extract_css_to_xpath("[title=\"it's\"]", &e);
	assert_string_equal(x, "//*[@title=\"it's\"]");
	free(x);
	x = extract_css_to_xpath("[title='a\"b\\'c']", &e);
	assert_string_equal(x, "//*[@title=concat('a\"b',\"'\",'c')]");
	free(x);
	x = extract_css_to_xpath("[title=\"'a'\"]", &e);
	assert_string_equal(x, "//*[@title=\"'a'\"]");
	free(x);

	/* errors name the problem */
	const char *bad[] = {"",        "   ",   "div,",   ",div",   "a >",     "p::before",
			     "a:hover", "[x",    "[x=]",   "[x='y]", "[x=y i]", "div#",
			     "div..a",  "a | b", "a >> b", "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		x = extract_css_to_xpath(bad[i], &e);
		if (x)
			fail_msg("\"%s\" was accepted as %s", bad[i], x);
		assert_int_equal(e.code, ERR_INVALID);
		assert_true(strncmp(e.msg, "selector: ", 10) == 0);
	}
	s = extract_selector_new("//div[", &e);
	assert_null(s);
	assert_string_equal(e.msg, "selector: the XPath \"//div[\" does not compile: invalid "
				   "expression");
	s = extract_selector_new("  .story h2 a", &e);
	assert_non_null(s);
	assert_string_equal(extract_selector_xpath(s),
			    "//*[contains(concat(' ',normalize-space(@class),' '),"
			    "concat(' ','story',' '))]//h2//a");
	{
		const char *html = "<div class=story><h2><a>x</a></h2></div>";
		struct extract_opts o = {.selector = s};
		struct extract_result r;

		assert_int_equal(extract_html(html, strlen(html), &o, &r, NULL), ERR_OK);
		assert_string_equal(r.text, "x");
		extract_result_cleanup(&r);
	}
	extract_selector_free(s);
	extract_selector_free(NULL);
}

static void test_xpath_limits(void **state)
{
	/* a quadratic XPath on a big page stops at the operation limit */
	size_t n = 20000, len = 0;
	char *html = malloc(n * 10 + 1);
	struct extract_opts o = {.selector_text = "//p[count(//p) > count(preceding::p)]"};
	struct extract_result r;

	(void)state;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(html + len, "<p>%zu</p>", i % 1000);
	assert_int_equal(extract_html(html, len, &o, &r, NULL), ERR_OK);
	assert_true(r.truncated);
	assert_false(r.selector_matched);
	extract_result_cleanup(&r);
	free(html);
}

static void test_ignore_text(void **state)
{
	const char *html = "<h1>Prices</h1><p>Updated at 10:32</p><p>BTC 67000</p>"
			   "<p>Visitors: 1234</p><p>LAST UPDATED AT noon</p><p>ETH 3000</p>";
	const char *ign[] = {"updated at", "/^visitors: [0-9]+$/"};
	struct extract_opts o = {.ignore_text = ign, .n_ignore = 2};
	struct extract_result r;
	struct err e = {0};
	const char *bad[] = {"/([/"};

	(void)state;
	assert_int_equal(extract_html(html, strlen(html), &o, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "Prices\nBTC 67000\nETH 3000");
	assert_int_equal(r.lines_ignored, 3);
	extract_result_cleanup(&r);

	o.ignore_text = bad;
	o.n_ignore = 1;
	assert_int_equal(extract_html(html, strlen(html), &o, &r, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "ignore_text[0]"));
	extract_result_cleanup(&r);
}

static void test_urls(void **state)
{
	struct {
		const char *base, *href, *want;
	} cases[] = {
		{"https://a.example/dir/page.html", "x.html", "https://a.example/dir/x.html"},
		{"https://a.example/dir/page.html", "../up", "https://a.example/up"},
		{"https://a.example/dir/page.html", "/root?q=1", "https://a.example/root?q=1"},
		{"https://a.example/dir/", "//cdn.example/i.png", "https://cdn.example/i.png"},
		{"https://a.example", "b", "https://a.example/b"},
		{"https://a.example/", "  spaced path.html\n",
		 "https://a.example/spaced%20path.html"},
		{"https://a.example/", "/caf\xc3\xa9", "https://a.example/caf%C3%A9"},
		{"https://a.example/", "/100%", "https://a.example/100%25"},
		{"https://a.example/", "/a%20b", "https://a.example/a%20b"},
		{"https://a.example/", "HTTP://B.example/X", "http://B.example/X"},
		{"https://a.example/p", "?page=2", "https://a.example/p?page=2"},
		{"https://a.example/", "#top", NULL},
		{"https://a.example/", "javascript:alert(1)", NULL},
		{"https://a.example/", "mailto:a@b.c", NULL},
		{"https://a.example/", "data:text/html,hi", NULL},
		{"https://a.example/", "ftp://f.example/x", NULL},
		{"https://a.example/", "", NULL},
		{"https://a.example/", "http://", NULL},
		{NULL, "relative", NULL},
		{NULL, "https://abs.example/x", "https://abs.example/x"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *u = extract_resolve_url(cases[i].base, cases[i].href);

		if (!cases[i].want) {
			if (u)
				fail_msg("%s + %s gave %s, want none", cases[i].base, cases[i].href,
					 u);
		} else {
			if (!u || strcmp(u, cases[i].want) != 0)
				fail_msg("%s + %s gave %s, want %s", cases[i].base, cases[i].href,
					 u ? u : "none", cases[i].want);
		}
		free(u);
	}
	{
		char *href = malloc(EXTRACT_URL_MAX + 10);

		memset(href, 'a', EXTRACT_URL_MAX + 9);
		href[EXTRACT_URL_MAX + 9] = '\0';
		assert_null(extract_resolve_url("https://a.example/", href));
		free(href);
	}
	/* <base href> applies to every link */
	{
		const char *html = "<head><base href='https://cdn.example/base/'></head>"
				   "<a href='a'>A</a><a href='a'>dup</a><a href='b'><img "
				   "alt='B img'></a><a href='b'>B</a><a href='#x'>frag</a>";
		struct extract_opts o = {.url = "https://site.example/", .flags = EXTRACT_LINKS};
		struct extract_result r;

		assert_int_equal(extract_html(html, strlen(html), &o, &r, NULL), ERR_OK);
		assert_int_equal(r.n_links, 2);
		assert_string_equal(r.links[0].url, "https://cdn.example/base/a");
		assert_string_equal(r.links[0].text, "A");
		assert_string_equal(r.links[1].url, "https://cdn.example/base/b");
		assert_string_equal(r.links[1].text, "B");
		extract_result_cleanup(&r);
	}
}

static void test_caps(void **state)
{
	struct extract_result r;
	struct extract_opts o = {.max_text = 100, .flags = EXTRACT_NO_TITLE_LINE};
	size_t n = 6u << 20, len = 0;
	char *big = malloc(n + 64);

	(void)state;
	/* input over EXTRACT_INPUT_MAX: parsed up to the cap */
	memcpy(big, "<p>", 3);
	memset(big + 3, 'x', n - 3);
	assert_int_equal(extract_html(big, n, NULL, &r, NULL), ERR_OK);
	assert_true(r.truncated);
	extract_result_cleanup(&r);

	/* text cap, cut on a character */
	len = 0;
	for (int i = 0; i < 100; i++)
		len += (size_t)sprintf(big + len, "<p>é word %d</p>", i);
	assert_int_equal(extract_html(big, len, &o, &r, NULL), ERR_OK);
	assert_true(r.truncated);
	assert_true(r.text_len <= 100);
	assert_true(valid_utf8(r.text, r.text_len));
	extract_result_cleanup(&r);

	/* link cap */
	len = 0;
	for (int i = 0; i < 3000; i++)
		len += (size_t)sprintf(big + len, "<a href='/l%d'>%d</a>", i, i);
	o = (struct extract_opts){.url = "https://a.example/", .flags = EXTRACT_LINKS};
	assert_int_equal(extract_html(big, len, &o, &r, NULL), ERR_OK);
	assert_int_equal(r.n_links, EXTRACT_LINKS_MAX);
	assert_true(r.truncated);
	extract_result_cleanup(&r);
	o.max_links = 10;
	assert_int_equal(extract_html(big, len, &o, &r, NULL), ERR_OK);
	assert_int_equal(r.n_links, 10);
	extract_result_cleanup(&r);

	/* deep nesting: no recursion, content past the depth cap skipped */
	len = 0;
	for (int i = 0; i < 100000; i++)
		len += (size_t)sprintf(big + len, "<div>%c", i == 10 ? 'A' : ' ');
	len += (size_t)sprintf(big + len, "deep");
	assert_int_equal(extract_html(big, len, NULL, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "A");
	assert_true(r.truncated);
	extract_result_cleanup(&r);

	/* many nodes */
	len = 0;
	for (int i = 0; i < 400000; i++)
		len += (size_t)sprintf(big + len, "<b>x</b><i></i>");
	assert_int_equal(extract_html(big, len, NULL, &r, NULL), ERR_OK);
	assert_true(r.truncated);
	assert_true(r.text_len < 400000);
	extract_result_cleanup(&r);
	free(big);

	/* NULL and empty input */
	assert_int_equal(extract_html(NULL, 10, NULL, &r, NULL), ERR_OK);
	assert_string_equal(r.text, "");
	extract_result_cleanup(&r);
	extract_result_cleanup(NULL);
}

static void test_fragment_text(void **state)
{
	char *t;

	(void)state;
	t = extract_fragment_text("<p>Hello <b>world</b></p><p>again &amp; again</p>", 49, 100);
	assert_string_equal(t, "Hello world again & again");
	free(t);
	t = extract_fragment_text("  plain\n text  ", 15, 100);
	assert_string_equal(t, "plain text");
	free(t);
	t = extract_fragment_text("<script>x</script>visible", 25, 100);
	assert_string_equal(t, "visible");
	free(t);
	t = extract_fragment_text("ééééé", 10, 7);
	assert_string_equal(t, "éé…");
	free(t);
	t = extract_fragment_text("one two three four", 18, 10);
	assert_string_equal(t, "one two…");
	free(t);
	t = extract_fragment_text(NULL, 0, 10);
	assert_string_equal(t, "");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_news_page),
		cmocka_unit_test(test_blocks_and_whitespace),
		cmocka_unit_test(test_invisible),
		cmocka_unit_test(test_title_line),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_broken_html),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_selector_translation),
		cmocka_unit_test(test_xpath_limits),
		cmocka_unit_test(test_ignore_text),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_fragment_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
