/* test_redact.c - secrets out of shown values, contacts masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/json.h"
#include "domain/redact.h"

static void test_secret_names_and_values(void **state)
{
	json_t *in =
		json_pack("{s:s,s:s,s:{s:s,s:[s,s]},s:s,s:b,s:n}", "password", "hunter2", "note",
			  "key amb_0011223344556677_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
			  "nested", "Authorization", "Bearer abc.def.ghi.jkl", "list",
			  "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", "plain", "description",
			  "Monitor TechCrunch for sk- things", "api_key_set", 1, "token", NULL);
	json_t *out = redact_json(in);
	char *t = json_dumps(out, JSON_COMPACT);
	(void)state;
	assert_null(strstr(t, "hunter2"));
	assert_null(strstr(t, "abcdefghijklmnop"));
	assert_null(strstr(t, "abc.def"));
	assert_null(strstr(t, "c2VjcmV0"));
	assert_non_null(strstr(t, "\"plain\""));
	assert_non_null(strstr(t, "for sk- things")); /* prose is not a secret */
	assert_non_null(strstr(t, "\"api_key_set\":true"));
	assert_non_null(strstr(t, "\"token\":null"));
	free(t);
	json_decref(out);
	json_decref(in);
}

static void test_redact_text_and_cut(void **state)
{
	char msg[] =
		"bad key amb_0011223344556677_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ here";
	char big[2000];
	(void)state;
	redact_text(msg);
	assert_string_equal(msg, "bad key [REDACTED] here");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	json_t *in = json_string(big), *out = redact_json(in);
	assert_int_equal(strlen(json_string_value(out)), REDACT_STRING_MAX);
	json_decref(in);
	json_decref(out);
}

static void test_mask_contacts(void **state)
{
	char buf[64];
	(void)state;
	redact_mask_phone("+14155550123", buf, sizeof buf);
	assert_string_equal(buf, "+1********23");
	redact_mask_email("alice@example.com", buf, sizeof buf);
	assert_string_equal(buf, "a***@example.com");
	json_t *in =
		json_pack("{s:s,s:s,s:[s,s],s:s}", "phone_number", "+1 (415) 555-0123", "email",
			  "bob@example.org", "to", "mailto:carol@example.net",
			  "twilio://AC1:tok@+15550001111/+15550002222", "text", "call me at noon");
	json_t *out = redact_mask_contacts(in);
	char *t = json_dumps(out, JSON_COMPACT);
	assert_null(strstr(t, "555-0123"));
	assert_null(strstr(t, "bob@"));
	assert_null(strstr(t, "carol@"));
	assert_non_null(strstr(t, "b***@example.org"));
	assert_non_null(strstr(t, "mailto:c***@example.net"));
	assert_non_null(strstr(t, "call me at noon"));
	free(t);
	json_decref(out);
	json_decref(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_names_and_values),
		cmocka_unit_test(test_redact_text_and_cut),
		cmocka_unit_test(test_mask_contacts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
