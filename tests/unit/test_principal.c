/* test_principal.c - API key text, scopes, roles and the key document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/json.h"
#include "domain/principal.h"

static void test_key_roundtrip(void **state)
{
	unsigned char id[8] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}, secret[32];
	char key[PRINCIPAL_KEY_LEN + 1], kid[PRINCIPAL_KEY_ID_LEN + 1];
	(void)state;
	for (int i = 0; i < 32; i++)
		secret[i] = (unsigned char)(i * 37 + 11);
	principal_key_format(id, secret, key);
	assert_int_equal(strlen(key), PRINCIPAL_KEY_LEN);
	assert_memory_equal(key, "amb_deadbeef00010203_", 21);
	assert_int_equal(principal_key_parse(key, kid, NULL), ERR_OK);
	assert_string_equal(kid, "deadbeef00010203");
}

static void test_malformed_keys(void **state)
{
	static const char *const bad[] = {
		"",
		"amb_",
		"Bearer amb_x",
		"amb_DEADBEEF00010203_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"amb_deadbeef00010203-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"amb_deadbeef00010203_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
		"amb_deadbeef00010203_aaaa",
		"xyz_deadbeef00010203_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"amb_deadbeef00010203_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		NULL};
	char kid[PRINCIPAL_KEY_ID_LEN + 1];
	struct err e = {0};
	(void)state;
	for (int i = 0; bad[i]; i++) {
		assert_int_equal(principal_key_parse(bad[i], kid, &e), ERR_INVALID);
		/* the message never repeats what was presented */
		assert_null(strstr(e.msg, "aaaa"));
		assert_non_null(strstr(e.msg, "ambient keys create"));
	}
	assert_int_equal(principal_key_parse(NULL, kid, &e), ERR_INVALID);
}

static void test_scopes(void **state)
{
	struct principal p = {0};
	char canon[PRINCIPAL_SCOPES_MAX];
	struct err e = {0};
	(void)state;
	assert_int_equal(principal_scopes_check(" tasks , memories:read", canon, &e), ERR_OK);
	assert_string_equal(canon, "tasks,memories:read");
	assert_int_equal(principal_scopes_check("tasks,root", canon, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "root"));
	assert_int_equal(principal_scopes_check("tasks:delete", canon, &e), ERR_INVALID);
	assert_int_equal(principal_scopes_check("*:read", canon, &e), ERR_INVALID);
	assert_int_equal(principal_scopes_check("", canon, &e), ERR_INVALID);

	snprintf(p.scopes, sizeof p.scopes, "tasks,memories:read");
	assert_true(principal_has_scope(&p, "tasks:write"));
	assert_true(principal_has_scope(&p, "tasks:read"));
	assert_true(principal_has_scope(&p, "memories:read"));
	assert_false(principal_has_scope(&p, "memories:write"));
	assert_false(principal_has_scope(&p, "notify:write"));
	assert_false(principal_has_scope(&p, "task:read")); /* no prefix matches */
	snprintf(p.scopes, sizeof p.scopes, "*");
	assert_true(principal_has_scope(&p, "admin:write"));
}

static void test_users_and_roles(void **state)
{
	enum principal_role r;
	(void)state;
	assert_int_equal(principal_user_check("alice@example.com", NULL), ERR_OK);
	assert_int_equal(principal_user_check("", NULL), ERR_INVALID);
	assert_int_equal(principal_user_check("a b", NULL), ERR_INVALID);
	assert_int_equal(principal_user_check("a/../b", NULL), ERR_INVALID);
	assert_int_equal(principal_role_parse("admin", &r, NULL), ERR_OK);
	assert_int_equal(r, PRINCIPAL_ROLE_ADMIN);
	assert_int_equal(principal_role_parse("root", &r, NULL), ERR_INVALID);
}

static void test_key_document(void **state)
{
	json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key_id", "0011223344556677", "user_id",
				 "alice", "role", "user", "scopes", "tasks", "hash", "sha256:00");
	struct principal p;
	struct err e = {0};
	(void)state;
	json_t *doc = principal_key_fold(NULL, PRINCIPAL_EV_KEY_CREATED, data, "T1", &e);
	assert_non_null(doc);
	assert_null(principal_key_fold(doc, PRINCIPAL_EV_KEY_CREATED, data, "T2", &e));
	assert_int_equal(principal_from_doc(doc, &p, &e), ERR_OK);
	assert_string_equal(p.user, "alice");
	assert_true(p.authenticated);
	assert_int_equal(p.role, PRINCIPAL_ROLE_USER);
	json_t *rev = principal_key_fold(doc, PRINCIPAL_EV_KEY_REVOKED, data, "T3", &e);
	assert_int_equal(principal_from_doc(rev, &p, &e), ERR_PERM);
	assert_string_equal(json_get_str(rev, "revoked_at"), "T3");
	json_decref(rev);
	json_decref(doc);
	json_decref(data);
	principal_local(&p, NULL);
	assert_string_equal(p.user, "default");
	assert_false(p.authenticated);
	assert_int_equal(p.role, PRINCIPAL_ROLE_ADMIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_roundtrip), cmocka_unit_test(test_malformed_keys),
		cmocka_unit_test(test_scopes),        cmocka_unit_test(test_users_and_roles),
		cmocka_unit_test(test_key_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
