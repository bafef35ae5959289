/* test_mcp_schema.c - the JSON Schema subset used for tool arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/json.h"
#include "mcp/schema.h"

static json_t *J(const char *text)
{
	struct err e;
	json_t *j = json_parse(text, (size_t)-1, &e);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, e.msg);
	return j;
}

/* Validate; return the code and leave the message in *e. */
static int run(const char *schema, const char *instance, struct err *e)
{
	json_t *s = J(schema), *i = instance ? J(instance) : NULL;
	int rc;

	err_clear(e);
	rc = mcp_schema_validate(s, i, e);
	json_decref(s);
	json_decref(i);
	return rc;
}

#define OK(schema, instance)                                                                       \
	do {                                                                                       \
		struct err e_;                                                                     \
		int rc_ = run(schema, instance, &e_);                                              \
		if (rc_)                                                                           \
			fail_msg("%s on %s: unexpected error: %s", instance, schema, e_.msg);      \
	} while (0)

/* Expect ERR_INVALID with exactly this message. */
#define BAD(schema, instance, message)                                                             \
	do {                                                                                       \
		struct err e_;                                                                     \
		int rc_ = run(schema, instance, &e_);                                              \
		if (rc_ != ERR_INVALID || strcmp(e_.msg, message) != 0)                            \
			fail_msg("%s on %s:\n  got  %d \"%s\"\n  want \"%s\"", instance, schema,   \
				 rc_, e_.msg, message);                                            \
	} while (0)

static void test_type(void **state)
{
	(void)state;
	OK("{\"type\":\"string\"}", "\"x\"");
	OK("{\"type\":\"integer\"}", "3");
	OK("{\"type\":\"integer\"}", "3.0"); /* no fraction: an integer */
	OK("{\"type\":\"number\"}", "3");
	OK("{\"type\":\"number\"}", "3.5");
	OK("{\"type\":\"boolean\"}", "false");
	OK("{\"type\":\"null\"}", "null");
	OK("{\"type\":\"array\"}", "[]");
	OK("{\"type\":\"object\"}", "{}");
	OK("{\"type\":[\"string\",\"null\"]}", "null");
	OK("{\"type\":\"no-such-type\"}", "1"); /* unknown names constrain nothing */
	OK("{\"type\":42}", "1");

	BAD("{\"type\":\"integer\"}", "\"8\"", "arguments: expected integer, got string (\"8\")");
	BAD("{\"type\":\"integer\"}", "8.5", "arguments: expected integer, got number (8.5)");
	BAD("{\"type\":\"number\"}", "true", "arguments: expected number, got boolean (true)");
	BAD("{\"type\":\"string\"}", "null", "arguments: expected string, got null");
	BAD("{\"type\":\"string\"}", "[1]", "arguments: expected string, got array");
	BAD("{\"type\":\"array\"}", "{}", "arguments: expected array, got object");
	BAD("{\"type\":[\"string\",\"integer\",\"null\"]}", "1.5",
	    "arguments: expected string, integer or null, got number (1.5)");
	BAD("{\"type\":[\"integer\",\"number\"]}", "\"x\"",
	    "arguments: expected number, got string (\"x\")");
}

static const char *task_schema =
	"{\"type\":\"object\",\"properties\":{"
	"\"task_type\":{\"type\":\"string\",\"enum\":[\"web_monitor\",\"schedule\","
	"\"news_digest\",\"threshold_watch\"]},"
	"\"description\":{\"type\":\"string\",\"minLength\":1},"
	"\"config\":{\"type\":\"object\",\"properties\":{"
	"\"hour\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":23},"
	"\"urls\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"^https?://\"}},"
	"\"url\":{\"type\":\"string\"}},"
	"\"required\":[\"url\"]}},"
	"\"required\":[\"task_type\",\"description\"]}";

static void test_messages_from_the_brief(void **state)
{
	(void)state;
	OK(task_schema, "{\"task_type\":\"schedule\",\"description\":\"d\"}");
	OK(task_schema, "{\"task_type\":\"schedule\",\"description\":\"d\",\"config\":{\"url\":"
			"\"u\",\"hour\":8,\"urls\":[\"http://a\",\"https://b\"]}}");
	BAD(task_schema,
	    "{\"task_type\":\"schedule\",\"description\":\"d\",\"config\":{\"url\":"
	    "\"u\",\"hour\":\"8\"}}",
	    "argument \"config.hour\": expected integer, got string (\"8\")");
	BAD(task_schema, "{\"description\":\"d\"}", "missing required argument \"task_type\"");
	BAD(task_schema, "{\"task_type\":\"web\",\"description\":\"d\"}",
	    "argument \"task_type\": must be one of \"web_monitor\", \"schedule\", "
	    "\"news_digest\", \"threshold_watch\"; got \"web\"");
	BAD(task_schema, "{\"task_type\":\"schedule\",\"description\":\"d\",\"config\":{}}",
	    "missing required argument \"config.url\"");
	BAD(task_schema,
	    "{\"task_type\":\"schedule\",\"description\":\"d\",\"config\":{\"url\":"
	    "\"u\",\"urls\":[\"http://a\",\"https://b\",\"ftp://c\"]}}",
	    "argument \"config.urls[2]\": must match the pattern \"^https?://\"; got \"ftp://c\"");
	BAD(task_schema,
	    "{\"task_type\":\"schedule\",\"description\":\"d\",\"config\":{\"url\":"
	    "\"u\",\"hour\":24}}",
	    "argument \"config.hour\": must be <= 23; got 24");
	BAD(task_schema, "{\"task_type\":\"schedule\",\"description\":\"\"}",
	    "argument \"description\": must be at least 1 character long; got 0");
	BAD(task_schema, "[]", "arguments: expected object, got array");
	/* No arguments at all is an empty object. */
	BAD(task_schema, NULL, "missing required argument \"task_type\"");
	OK("{\"type\":\"object\"}", NULL);
}

static void test_properties_and_additional(void **state)
{
	(void)state;
	const char *closed = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
			     "\"b\":{}},\"additionalProperties\":false}";

	OK(closed, "{\"a\":1,\"b\":[null]}");
	OK(closed, "{}");
	BAD(closed, "{\"a\":1,\"c\":2}", "unknown argument \"c\"; allowed here: \"a\", \"b\"");
	BAD("{\"properties\":{\"x\":{\"additionalProperties\":false}}}", "{\"x\":{\"q\":1}}",
	    "unknown argument \"x.q\"; no other arguments are allowed here");
	/* A misspelt name is reported before the "missing" one it explains. */
	BAD("{\"properties\":{\"task_type\":{}},\"required\":[\"task_type\"],"
	    "\"additionalProperties\":false}",
	    "{\"task_typ\":\"x\"}", "unknown argument \"task_typ\"; allowed here: \"task_type\"");

	/* additionalProperties as a schema. */
	OK("{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"string\"}}",
	   "{\"a\":1,\"b\":\"x\"}");
	BAD("{\"properties\":{\"a\":{}},\"additionalProperties\":{\"type\":\"string\"}}",
	    "{\"a\":1,\"b\":2}", "argument \"b\": expected string, got integer (2)");
	OK("{\"additionalProperties\":true}", "{\"z\":1}");

	/* patternProperties count as known names. */
	OK("{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},\"additionalProperties\":"
	   "false}",
	   "{\"x-a\":1}");
	BAD("{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},\"additionalProperties\":"
	    "false}",
	    "{\"x-a\":\"s\"}", "argument \"x-a\": expected integer, got string (\"s\")");
	BAD("{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},\"additionalProperties\":"
	    "false}",
	    "{\"y\":1}", "unknown argument \"y\"; no other arguments are allowed here");

	/* Properties of non-objects are ignored; odd names are quoted. */
	OK("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "5");
	BAD("{\"properties\":{\"a b\":{\"properties\":{\"c\":{\"type\":\"string\"}}}}}",
	    "{\"a b\":{\"c\":1}}", "argument \"[\"a b\"].c\": expected string, got integer (1)");

	BAD("{\"minProperties\":2}", "{\"a\":1}", "arguments: must have at least 2 members; got 1");
	BAD("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}",
	    "arguments: must have at most 1 member; got 2");
}

static void test_required(void **state)
{
	(void)state;
	OK("{\"required\":[\"a\"]}", "{\"a\":null}");
	OK("{\"required\":[\"a\"]}", "[]"); /* only applies to objects */
	OK("{\"required\":\"a\"}", "{}");   /* malformed keyword: ignored */
	BAD("{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", "missing required argument \"b\"");
	BAD("{\"properties\":{\"o\":{\"properties\":{\"p\":{\"required\":[\"q\"]}}}}}",
	    "{\"o\":{\"p\":{}}}", "missing required argument \"o.p.q\"");
}

static void test_items(void **state)
{
	(void)state;
	const char *s = "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
			"\"n\":{\"type\":\"integer\"}}},\"minItems\":1,\"maxItems\":3}";

	OK(s, "[{\"n\":1},{}]");
	BAD(s, "[]", "arguments: must have at least 1 item; got 0");
	BAD(s, "[{},{},{},{}]", "arguments: must have at most 3 items; got 4");
	BAD(s, "[{},{\"n\":\"x\"}]", "argument \"[1].n\": expected integer, got string (\"x\")");
	BAD("{\"properties\":{\"m\":{\"items\":{\"items\":{\"type\":\"null\"}}}}}",
	    "{\"m\":[[null],[null,null,0]]}",
	    "argument \"m[1][2]\": expected null, got integer (0)");

	/* Positional forms. */
	OK("{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
	   "[\"a\",1]");
	BAD("{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
	    "[\"a\",1,2]", "argument \"[2]\": not allowed here");
	BAD("{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "[\"a\",\"b\"]",
	    "argument \"[1]\": expected integer, got string (\"b\")");
	OK("{\"items\":[{\"type\":\"string\"}]}", "[\"a\",1]");
	BAD("{\"items\":[{\"type\":\"string\"}]}", "[1]",
	    "argument \"[0]\": expected string, got integer (1)");
}

static void test_unique_items(void **state)
{
	(void)state;
	const char *s = "{\"properties\":{\"urls\":{\"uniqueItems\":true}}}";
	json_t *schema, *big;
	struct err e;
	size_t i;

	OK(s, "{\"urls\":[1,2,\"1\",[1],{\"a\":1},{\"a\":2},true,false,null]}");
	OK("{\"uniqueItems\":false}", "[1,1]");
	BAD(s, "{\"urls\":[\"a\",\"b\",\"c\",\"b\",\"a\"]}",
	    "argument \"urls\": items must be unique, but items 1 and 3 are equal (\"b\")");
	BAD(s, "{\"urls\":[1,1.0]}",
	    "argument \"urls\": items must be unique, but items 0 and 1 are equal (1.0)");
	BAD(s, "{\"urls\":[{\"a\":1,\"b\":[2]},{\"b\":[2.0],\"a\":1}]}",
	    "argument \"urls\": items must be unique, but items 0 and 1 are equal "
	    "({\"b\":[2.0],\"a\":1})");

	/* Large arrays are checked in n log n, not n^2. */
	schema = J("{\"uniqueItems\":true}");
	big = json_array();
	for (i = 0; i < 200000; i++)
		json_array_append_new(big, json_integer((json_int_t)i));
	err_clear(&e);
	assert_int_equal(mcp_schema_validate(schema, big, &e), 0);
	json_array_append_new(big, json_integer(123456));
	assert_int_equal(mcp_schema_validate(schema, big, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "items 123456 and 200000 are equal"));
	json_decref(big);
	json_decref(schema);
}

static void test_enum_and_const(void **state)
{
	(void)state;
	OK("{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "1.0");
	OK("{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "{\"k\":[1]}");
	OK("{\"enum\":[1,\"a\",null,{\"k\":[1]}]}", "null");
	BAD("{\"enum\":[1,\"a\",null]}", "\"b\"",
	    "arguments: must be one of 1, \"a\", null; got \"b\"");
	BAD("{\"enum\":[\"only\"]}", "\"b\"", "arguments: must be \"only\"; got \"b\"");
	BAD("{\"enum\":[]}", "1", "arguments: no value is allowed here (the enum is empty)");
	OK("{\"const\":\"x\"}", "\"x\"");
	OK("{\"const\":null}", "null");
	OK("{\"const\":{\"a\":[1,2]}}", "{\"a\":[1,2.0]}");
	BAD("{\"const\":\"x\"}", "\"y\"", "arguments: must be \"x\"; got \"y\"");
	BAD("{\"const\":null}", "0", "arguments: must be null; got 0");
	BAD("{\"const\":[1,2]}", "[2,1]", "arguments: must be [1,2]; got [2,1]");
}

static void test_numbers(void **state)
{
	(void)state;
	OK("{\"minimum\":0,\"maximum\":10}", "0");
	OK("{\"minimum\":0,\"maximum\":10}", "10");
	OK("{\"minimum\":0,\"maximum\":10}", "\"not a number\"");
	BAD("{\"minimum\":0}", "-1", "arguments: must be >= 0; got -1");
	BAD("{\"minimum\":0.5}", "0.25", "arguments: must be >= 0.5; got 0.25");
	BAD("{\"maximum\":10}", "10.5", "arguments: must be <= 10; got 10.5");
	BAD("{\"exclusiveMinimum\":0}", "0", "arguments: must be > 0; got 0");
	OK("{\"exclusiveMinimum\":0}", "0.001");
	BAD("{\"exclusiveMaximum\":1}", "1.0", "arguments: must be < 1; got 1");
	OK("{\"exclusiveMaximum\":1}", "0");
	/* Draft 4's boolean forms. */
	BAD("{\"minimum\":5,\"exclusiveMinimum\":true}", "5", "arguments: must be > 5; got 5");
	OK("{\"minimum\":5,\"exclusiveMinimum\":false}", "5");
	BAD("{\"maximum\":5,\"exclusiveMaximum\":true}", "5", "arguments: must be < 5; got 5");
	/* Exact at the edges of 64-bit integers. */
	OK("{\"maximum\":9223372036854775807}", "9223372036854775807");
	BAD("{\"maximum\":9223372036854775806}", "9223372036854775807",
	    "arguments: must be <= 9223372036854775806; got 9223372036854775807");
	BAD("{\"minimum\":1e300}", "5", "arguments: must be >= 1e+300; got 5");

	OK("{\"multipleOf\":5}", "15");
	OK("{\"multipleOf\":0.1}", "0.3");
	OK("{\"multipleOf\":0}", "3"); /* invalid divisor: ignored */
	BAD("{\"multipleOf\":5}", "12", "arguments: must be a multiple of 5; got 12");
	BAD("{\"multipleOf\":0.5}", "1.2", "arguments: must be a multiple of 0.5; got 1.2");
	OK("{\"multipleOf\":2}", "-9223372036854775808");
}

static void test_strings(void **state)
{
	(void)state;
	OK("{\"minLength\":2,\"maxLength\":3}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\""); /* 3 code points */
	BAD("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"",
	    "arguments: must be at most 2 characters long; got 3");
	BAD("{\"minLength\":2}", "\"\xf0\x9f\x98\x80\"",
	    "arguments: must be at least 2 characters long; got 1");
	OK("{\"minLength\":2.0}", "\"ab\"");
	OK("{\"minLength\":-1}", "\"\"");
	OK("{\"format\":\"email\"}", "\"not an email\""); /* format is ignored */

	OK("{\"pattern\":\"^[a-z]+$\"}", "\"abc\"");
	BAD("{\"pattern\":\"^[a-z]+$\"}", "\"abC\"",
	    "arguments: must match the pattern \"^[a-z]+$\"; got \"abC\"");
	OK("{\"pattern\":\"b\"}", "\"abc\""); /* not anchored */
	/* ECMA-262 escapes and groups mapped onto POSIX. */
	OK("{\"pattern\":\"^\\\\d{2}:\\\\d{2}$\"}", "\"08:30\"");
	BAD("{\"pattern\":\"^\\\\d{2}:\\\\d{2}$\"}", "\"8:30\"",
	    "arguments: must match the pattern \"^\\\\d{2}:\\\\d{2}$\"; got \"8:30\"");
	OK("{\"pattern\":\"^\\\\w+@\\\\w+\\\\.com$\"}", "\"a_b@c.com\"");
	BAD("{\"pattern\":\"^\\\\w+@\\\\w+\\\\.com$\"}", "\"a_b@cxcom\"",
	    "arguments: must match the pattern \"^\\\\w+@\\\\w+\\\\.com$\"; got \"a_b@cxcom\"");
	OK("{\"pattern\":\"^\\\\S+\\\\s\\\\S+$\"}", "\"a b\"");
	BAD("{\"pattern\":\"^\\\\S+$\"}", "\"a b\"",
	    "arguments: must match the pattern \"^\\\\S+$\"; got \"a b\"");
	OK("{\"pattern\":\"^(?:ab)+?$\"}", "\"abab\"");
	OK("{\"pattern\":\"^[\\\\d.\\\\-]+$\"}", "\"1.2-3\"");
	BAD("{\"pattern\":\"^[\\\\d.\\\\-]+$\"}", "\"1,2\"",
	    "arguments: must match the pattern \"^[\\\\d.\\\\-]+$\"; got \"1,2\"");
	OK("{\"pattern\":\"^[^\\\\]x]$\"}", "\"a\"");
	BAD("{\"pattern\":\"^[^\\\\]x]$\"}", "\"]\"",
	    "arguments: must match the pattern \"^[^\\\\]x]$\"; got \"]\"");
	OK("{\"pattern\":\"^a\\\\/b$\"}", "\"a/b\"");
	OK("{\"pattern\":\"^\\\\$\\\\d+$\"}", "\"$12\"");
	/* Patterns POSIX cannot express are ignored rather than rejecting
	 * every call. */
	OK("{\"pattern\":\"^(?=a)b\"}", "\"zzz\"");
	OK("{\"pattern\":\"\\\\u00e9\"}", "\"zzz\"");
	OK("{\"pattern\":\"(\"}", "\"zzz\"");
	OK("{\"pattern\":\"[]\"}", "\"zzz\"");
	OK("{\"pattern\":\"(a)\\\\1\"}", "\"zzz\""); /* back references */
	OK("{\"pattern\":\"a++\"}", "\"zzz\"");      /* nothing to repeat */
	OK("{\"pattern\":\"^*a\"}", "\"zzz\"");
	/* Patterns that would expand to huge automata are not compiled. */
	OK("{\"pattern\":\"((a{100}){100}){100}\"}", "\"zzz\"");
	OK("{\"pattern\":\"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))\"}",
	   "\"zzz\"");
	/* Braces: counted repeats, escaped and literal ones. */
	OK("{\"pattern\":\"^a{2,3}$\"}", "\"aaa\"");
	BAD("{\"pattern\":\"^a{2,3}$\"}", "\"aaaa\"",
	    "arguments: must match the pattern \"^a{2,3}$\"; got \"aaaa\"");
	OK("{\"pattern\":\"^a{2,}$\"}", "\"aaaaaa\"");
	BAD("{\"pattern\":\"^a{2,}$\"}", "\"a\"",
	    "arguments: must match the pattern \"^a{2,}$\"; got \"a\"");
	OK("{\"pattern\":\"^\\\\{x\\\\}$\"}", "\"{x}\"");
	BAD("{\"pattern\":\"^\\\\{x\\\\}$\"}", "\"x\"",
	    "arguments: must match the pattern \"^\\\\{x\\\\}$\"; got \"x\"");
	OK("{\"pattern\":\"^{x}$\"}", "\"{x}\"");
	BAD("{\"pattern\":\"^{x}$\"}", "\"x\"",
	    "arguments: must match the pattern \"^{x}$\"; got \"x\"");
	OK("{\"pattern\":\"^(ab|cd){2}$\"}", "\"abcd\"");
	BAD("{\"pattern\":\"^(ab|cd){2}$\"}", "\"abc\"",
	    "arguments: must match the pattern \"^(ab|cd){2}$\"; got \"abc\"");
}

static void test_combinators(void **state)
{
	(void)state;
	const char *nullable = "{\"properties\":{\"x\":{\"anyOf\":[{\"type\":\"string\"},"
			       "{\"type\":\"null\"}]}}}";

	OK(nullable, "{\"x\":null}");
	OK(nullable, "{\"x\":\"s\"}");
	/* All alternatives failed on the type: one merged message. */
	BAD(nullable, "{\"x\":5}", "argument \"x\": expected string or null, got integer (5)");

	/* Only one alternative had the right type: its own message. */
	BAD("{\"anyOf\":[{\"type\":\"string\",\"maxLength\":2},{\"type\":\"integer\"}]}", "\"abc\"",
	    "arguments: must be at most 2 characters long; got 3");
	BAD("{\"anyOf\":[{\"type\":\"object\",\"required\":[\"url\"]},{\"type\":\"string\"}]}",
	    "{}", "missing required argument \"url\"");

	/* const alternatives (the titled-enum idiom) merge into one list. */
	BAD("{\"oneOf\":[{\"const\":\"a\",\"title\":\"A\"},{\"const\":\"b\",\"title\":\"B\"}]}",
	    "\"c\"", "arguments: must be one of \"a\", \"b\"; got \"c\"");

	/* Otherwise a summary of the alternatives with the right type. */
	BAD("{\"anyOf\":[{\"type\":\"object\",\"required\":[\"a\"]},{\"type\":\"object\","
	    "\"required\":[\"b\"]},{\"type\":\"string\"}]}",
	    "{}",
	    "arguments: does not match any of the 3 alternatives (anyOf): (1) missing required "
	    "argument \"a\"; (2) missing required argument \"b\"");

	/* oneOf: exactly one. */
	OK("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "1");
	BAD("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"},{\"type\":\"string\"}]}", "1",
	    "arguments: matches alternatives 1 and 2 of oneOf, but must match exactly one");
	BAD("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "[]",
	    "arguments: expected string or integer, got array");

	/* allOf: every one, first error reported. */
	OK("{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":1}]}", "3");
	BAD("{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":1}]}", "0",
	    "arguments: must be >= 1; got 0");

	/* not */
	OK("{\"not\":{\"type\":\"string\"}}", "1");
	BAD("{\"not\":{\"type\":\"string\"}}", "\"s\"",
	    "arguments: must not match the schema under \"not\"");

	/* Nested combinators keep the path. */
	BAD("{\"properties\":{\"cfg\":{\"anyOf\":[{\"type\":\"object\",\"properties\":{"
	    "\"n\":{\"type\":\"integer\"}}},{\"type\":\"string\"}]}}}",
	    "{\"cfg\":{\"n\":\"x\"}}", "argument \"cfg.n\": expected integer, got string (\"x\")");
	/* Empty lists constrain nothing. */
	OK("{\"anyOf\":[],\"oneOf\":[],\"allOf\":[]}", "1");
}

static void test_boolean_schemas(void **state)
{
	(void)state;
	OK("true", "{\"a\":1}");
	BAD("false", "{}", "arguments: not allowed here");
	BAD("{\"properties\":{\"secret\":false}}", "{\"secret\":1}",
	    "argument \"secret\": not allowed here");
	OK("{\"properties\":{\"secret\":false}}", "{}");
	assert_int_equal(mcp_schema_validate(NULL, NULL, NULL), 0);
}

static void test_refs(void **state)
{
	(void)state;
	const char *s = "{\"$defs\":{\"hour\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":23}},"
			"\"definitions\":{\"name\":{\"type\":\"string\"}},"
			"\"properties\":{\"h\":{\"$ref\":\"#/$defs/hour\"},"
			"\"n\":{\"$ref\":\"#/definitions/name\"}}}";

	OK(s, "{\"h\":5,\"n\":\"x\"}");
	BAD(s, "{\"h\":24}", "argument \"h\": must be <= 23; got 24");
	BAD(s, "{\"n\":1}", "argument \"n\": expected string, got integer (1)");

	/* A recursive schema: a tree of nodes. */
	{
		const char *tree = "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{"
				   "\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\","
				   "\"items\":{\"$ref\":\"#/$defs/node\"}}}}},"
				   "\"$ref\":\"#/$defs/node\"}";
		OK(tree, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4}]}]}");
		BAD(tree, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":\"4\"}]}]}",
		    "argument \"kids[1].kids[0].v\": expected integer, got string (\"4\")");
	}

	/* Escaped pointer tokens, and "#". */
	OK("{\"$defs\":{\"a/b\":{\"type\":\"string\"}},\"properties\":{\"x\":{\"$ref\":"
	   "\"#/$defs/a~1b\"}}}",
	   "{\"x\":\"s\"}");
	BAD("{\"$defs\":{\"a/b\":{\"type\":\"string\"}},\"properties\":{\"x\":{\"$ref\":"
	    "\"#/$defs/a~1b\"}}}",
	    "{\"x\":1}", "argument \"x\": expected string, got integer (1)");
	BAD("{\"type\":\"object\",\"properties\":{\"child\":{\"$ref\":\"#\"}}}", "{\"child\":3}",
	    "argument \"child\": expected object, got integer (3)");

	/* A ref loop stops at the depth cap. */
	{
		struct err e;
		int rc = run("{\"$ref\":\"#\"}", "{}", &e);

		assert_int_equal(rc, ERR_INVALID);
		assert_non_null(strstr(e.msg, "deeper than 64 levels"));
		rc = run("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/"
			 "a\"}},"
			 "\"$ref\":\"#/$defs/a\"}",
			 "1", &e);
		assert_int_equal(rc, ERR_INVALID);
		assert_non_null(strstr(e.msg, "deeper than 64 levels"));

		/* A ref that does not resolve is the server's bug. */
		rc = run("{\"properties\":{\"x\":{\"$ref\":\"#/$defs/missing\"}}}", "{\"x\":1}",
			 &e);
		assert_int_equal(rc, ERR_INTERNAL);
		assert_non_null(strstr(e.msg, "$ref \"#/$defs/missing\" does not resolve"));
		rc = run("{\"anyOf\":[{\"$ref\":\"#/nope\"},{\"type\":\"string\"}]}", "1", &e);
		assert_int_equal(rc, ERR_INTERNAL);
	}
	/* Remote refs are not followed. */
	OK("{\"$ref\":\"https://example.com/schema.json\"}", "1");
}

static void test_deep_instances(void **state)
{
	(void)state;
	/* 200 levels of arrays against a recursive schema: capped, no crash. */
	char text[1024];
	struct err e;
	size_t i;

	for (i = 0; i < 200; i++)
		text[i] = '[';
	for (i = 0; i < 200; i++)
		text[200 + i] = ']';
	text[400] = '\0';
	assert_int_equal(
		run("{\"$defs\":{\"a\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/a\"}}},"
		    "\"$ref\":\"#/$defs/a\"}",
		    text, &e),
		ERR_INVALID);
	assert_non_null(strstr(e.msg, "nested too deeply"));
	/* Without a schema for the items, depth does not matter. */
	OK("{\"type\":\"array\",\"uniqueItems\":true}", text);
}

static void test_long_messages_stay_valid(void **state)
{
	(void)state;
	/* Long non-ASCII names and values: messages are cut on code point
	 * boundaries (so they can go into JSON) and stay within the buffer. */
	char schema[4096], instance[4096], name[700];
	struct err e;
	size_t i, n = 0;
	json_t *s;

	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(name + n, sizeof name - n, "\xc3\xa9x");
	snprintf(schema, sizeof schema,
		 "{\"properties\":{\"%s\":{\"properties\":{\"%s\":{\"enum\":[\"%s\",\"%s\","
		 "\"%s\"]}}}}}",
		 name, name, name, name, name);
	snprintf(instance, sizeof instance, "{\"%s\":{\"%s\":\"%s!\"}}", name, name, name);
	assert_int_equal(run(schema, instance, &e), ERR_INVALID);
	assert_true(strlen(e.msg) < ERR_MSG_MAX);
	s = json_string(e.msg);
	assert_non_null(s); /* valid UTF-8 */
	json_decref(s);
	assert_non_null(strstr(e.msg, "must be one of"));
}

static void test_schema_check(void **state)
{
	(void)state;
	struct err e;
	json_t *j;
	static const struct {
		const char *schema;
		const char *message; /* NULL: accepted */
	} cases[] = {
		{"{}", NULL},
		{"{\"type\":\"object\"}", NULL},
		{"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":true},"
		 "\"required\":[\"a\"],\"$defs\":{}}",
		 NULL},
		{"true", "must be a JSON object, not boolean"},
		{"[]", "must be a JSON object, not array"},
		{"{\"type\":\"string\"}", "must have \"type\": \"object\""},
		{"{\"type\":[\"object\",\"null\"]}", "must have \"type\": \"object\""},
		{"{\"properties\":[]}", "\"properties\" of an input schema must be an object"},
		{"{\"properties\":{\"a\":1}}",
		 "property \"a\" of an input schema must be a schema"},
		{"{\"required\":\"a\"}", "\"required\" of an input schema must be an array"},
		{"{\"required\":[\"a\",2]}", "item 1 is integer"},
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		j = J(cases[i].schema);
		err_clear(&e);
		if (!cases[i].message) {
			assert_int_equal(mcp_schema_check(j, &e), 0);
		} else {
			assert_int_equal(mcp_schema_check(j, &e), ERR_INVALID);
			if (!strstr(e.msg, cases[i].message))
				fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].schema, e.msg,
					 cases[i].message);
		}
		json_decref(j);
	}
	assert_int_equal(mcp_schema_check(NULL, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "not nothing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_messages_from_the_brief),
		cmocka_unit_test(test_properties_and_additional),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_unique_items),
		cmocka_unit_test(test_enum_and_const),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_combinators),
		cmocka_unit_test(test_boolean_schemas),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_deep_instances),
		cmocka_unit_test(test_long_messages_stay_valid),
		cmocka_unit_test(test_schema_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
