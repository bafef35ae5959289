/* test_authz.c - authorization requests: ids, states over time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "common/json.h"
#include "domain/authz.h"

static void test_request_id(void **state)
{
	char a[AUTHZ_ID_LEN + 1], b[AUTHZ_ID_LEN + 1], c[AUTHZ_ID_LEN + 1], d[AUTHZ_ID_LEN + 1];
	json_t *x = json_pack("{s:s,s:s}", "task_id", "t1", "user_id", "alice");
	json_t *y = json_pack("{s:s}", "task_id", "t1");
	json_t *z = json_pack("{s:s}", "task_id", "t2");
	(void)state;
	authz_request_id("alice", "delete_background_task", x, a);
	authz_request_id("alice", "delete_background_task", y, b);
	authz_request_id("alice", "delete_background_task", z, c);
	authz_request_id("bob", "delete_background_task", y, d);
	assert_string_equal(a, b); /* user_id does not change the call */
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_int_equal(authz_id_check(a, NULL), ERR_OK);
	assert_int_equal(authz_id_check("xyz", NULL), ERR_INVALID);
	json_decref(x);
	json_decref(y);
	json_decref(z);
}

static void test_states(void **state)
{
	int64_t t0 = 1000000000000;
	json_t *req =
		json_pack("{s:s,s:I,s:I}", "request_id", "r", "requested_at_us", (json_int_t)t0,
			  "expires_at_us", (json_int_t)(t0 + AUTHZ_REQUEST_TTL_US));
	json_t *ok = json_pack("{s:s,s:I}", "approved_by", "ops", "valid_until_us",
			       (json_int_t)(t0 + 60 + AUTHZ_APPROVAL_TTL_US));
	(void)state;
	assert_int_equal(authz_state_at(NULL, t0), AUTHZ_NONE);
	json_t *doc = authz_fold(NULL, AUTHZ_EV_REQUESTED, req, NULL);
	assert_int_equal(authz_state_at(doc, t0 + 1), AUTHZ_PENDING);
	assert_int_equal(authz_state_at(doc, t0 + AUTHZ_REQUEST_TTL_US), AUTHZ_EXPIRED);
	json_t *appr = authz_fold(doc, AUTHZ_EV_APPROVED, ok, NULL);
	assert_int_equal(authz_state_at(appr, t0 + 120), AUTHZ_APPROVED);
	assert_int_equal(authz_state_at(appr, t0 + 60 + AUTHZ_APPROVAL_TTL_US), AUTHZ_NONE);
	json_t *view = authz_view(appr, t0 + 120);
	assert_string_equal(json_get_str(view, "status"), "approved");
	assert_non_null(json_get_str(view, "valid_until"));
	json_t *den = authz_fold(doc, AUTHZ_EV_DENIED, ok, NULL);
	assert_int_equal(authz_state_at(den, t0 + 1), AUTHZ_DENIED);
	assert_null(authz_fold(NULL, AUTHZ_EV_APPROVED, ok, NULL));
	json_decref(view);
	json_decref(den);
	json_decref(appr);
	json_decref(doc);
	json_decref(req);
	json_decref(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
