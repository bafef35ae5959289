/*
 * test_weather.c - engine/weather: the pure parts (WMO codes, compass,
 * cache keys, parsing Open-Meteo's geocoding and forecast answers) and
 * weather_current end to end against an in-process Open-Meteo stand-in on
 * 127.0.0.1 (the project's http_server with two routes whose answers the
 * test scripts), with the cache in a temporary SQLite store and a fake
 * clock: fresh answer, cache hit without a request, expiry, unknown place,
 * qualified names, HTTP errors, nothing listening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "../test_util.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "engine/weather.h"
#include "store/store.h"
#include "transport/http_server.h"

/* ---- the stand-in ---------------------------------------------------------- */

static const char geo_berlin[] =
	"{\"results\":[{\"id\":2950159,\"name\":\"Berlin\",\"latitude\":52.52437,"
	"\"longitude\":13.41053,\"elevation\":74.0,\"feature_code\":\"PPLC\","
	"\"country_code\":\"DE\",\"admin1_id\":2950157,\"timezone\":\"Europe/Berlin\","
	"\"population\":3426354,\"country_id\":2921044,\"country\":\"Germany\","
	"\"admin1\":\"Land Berlin\"},{\"id\":5083330,\"name\":\"Berlin\",\"latitude\":44.46867,"
	"\"longitude\":-71.18508,\"elevation\":311.0,\"feature_code\":\"PPL\","
	"\"country_code\":\"US\",\"timezone\":\"America/New_York\",\"population\":9367,"
	"\"country\":\"United States\",\"admin1\":\"New Hampshire\"}],"
	"\"generationtime_ms\":0.92}";

static const char forecast_ok[] =
	"{\"latitude\":52.52,\"longitude\":13.419998,\"generationtime_ms\":0.05,"
	"\"utc_offset_seconds\":3600,\"timezone\":\"Europe/Berlin\",\"timezone_abbreviation\":"
	"\"CET\",\"elevation\":38.0,\"current_units\":{\"time\":\"iso8601\",\"interval\":"
	"\"seconds\",\"temperature_2m\":\"°C\",\"relative_humidity_2m\":\"%\","
	"\"apparent_temperature\":\"°C\",\"weather_code\":\"wmo code\",\"wind_speed_10m\":"
	"\"km/h\",\"wind_direction_10m\":\"°\"},\"current\":{\"time\":\"2024-01-15T14:00\","
	"\"interval\":900,\"temperature_2m\":3.4,\"relative_humidity_2m\":81,"
	"\"apparent_temperature\":-0.6,\"weather_code\":3,\"wind_speed_10m\":12.2,"
	"\"wind_direction_10m\":250}}";

struct stand_in {
	pthread_mutex_t mu;
	const char *geo_body, *fc_body;
	int geo_status, fc_status;
	atomic_int geo_calls, fc_calls;
	char last_geo_name[256], last_geo_count[16];
	char last_fc_current[512], last_fc_tz[32];
};

static struct stand_in S;

static void route_geo(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	const char *name = http_request_arg(req, "name"), *count = http_request_arg(req, "count");
	atomic_fetch_add(&S.geo_calls, 1);
	pthread_mutex_lock(&S.mu);
	snprintf(S.last_geo_name, sizeof S.last_geo_name, "%s", name ? name : "(none)");
	snprintf(S.last_geo_count, sizeof S.last_geo_count, "%s", count ? count : "(none)");
	http_response_json(res, S.geo_status, xstrdup(S.geo_body));
	pthread_mutex_unlock(&S.mu);
}

static void route_fc(void *data, const struct http_request *req, struct http_response *res)
{
	(void)data;
	const char *cur = http_request_arg(req, "current"), *tz = http_request_arg(req, "timezone");
	atomic_fetch_add(&S.fc_calls, 1);
	pthread_mutex_lock(&S.mu);
	snprintf(S.last_fc_current, sizeof S.last_fc_current, "%s", cur ? cur : "");
	snprintf(S.last_fc_tz, sizeof S.last_fc_tz, "%s", tz ? tz : "");
	http_response_json(res, S.fc_status, xstrdup(S.fc_body));
	pthread_mutex_unlock(&S.mu);
}

static const struct http_route routes[] = {
	{"GET", "/v1/search", route_geo, NULL},
	{"GET", "/v1/forecast", route_fc, NULL},
};

struct fx {
	struct http_server *h;
	char base[64];
	char *dir;
	struct store *store;
	struct clock clock;
	struct weather_config wc;
};

static void script(const char *geo, int geo_status, const char *fc, int fc_status)
{
	pthread_mutex_lock(&S.mu);
	S.geo_body = geo;
	S.geo_status = geo_status;
	S.fc_body = fc;
	S.fc_status = fc_status;
	pthread_mutex_unlock(&S.mu);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct http_server_options o = {.routes = routes, .nroutes = 2};
	struct err e = {0};
	char url[4200];

	pthread_mutex_init(&S.mu, NULL);
	script(geo_berlin, 200, forecast_ok, 200);
	atomic_store(&S.geo_calls, 0);
	atomic_store(&S.fc_calls, 0);
	if (http_server_start(NULL, &o, &f->h, &e)) {
		fprintf(stderr, "stand-in: %s\n", err_msg(&e));
		return -1;
	}
	snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", http_server_port(f->h));
	f->dir = test_tmpdir("weather");
	snprintf(url, sizeof url, "sqlite:%s/w.db", f->dir);
	if (store_open(url, NULL, &f->store, &e)) {
		fprintf(stderr, "store: %s\n", err_msg(&e));
		return -1;
	}
	clock_fake_init(&f->clock, 1700000000LL * 1000000);
	f->wc = (struct weather_config){
		.weather_url = f->base,
		.geocoding_url = f->base,
		.store = f->store,
		.clock = &f->clock,
		.timeout_ms = 5000,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_server_free(f->h);
	store_close(f->store);
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	pthread_mutex_destroy(&S.mu);
	return 0;
}

/* ---- pure parts ------------------------------------------------------------ */

static void test_codes_and_compass(void **state)
{
	(void)state;
	assert_string_equal(weather_code_text(0), "Clear sky");
	assert_string_equal(weather_code_text(2), "Partly cloudy");
	assert_string_equal(weather_code_text(3), "Overcast");
	assert_string_equal(weather_code_text(61), "Slight rain");
	assert_string_equal(weather_code_text(95), "Thunderstorm");
	assert_string_equal(weather_code_text(99), "Thunderstorm with heavy hail");
	assert_null(weather_code_text(4));
	assert_null(weather_code_text(-1));

	assert_string_equal(weather_compass(0), "N");
	assert_string_equal(weather_compass(22.4), "N");
	assert_string_equal(weather_compass(22.5), "NE");
	assert_string_equal(weather_compass(45), "NE");
	assert_string_equal(weather_compass(225), "SW");
	assert_string_equal(weather_compass(250), "W");
	assert_string_equal(weather_compass(359), "N");
	assert_string_equal(weather_compass(360 + 90), "E");
	assert_string_equal(weather_compass(-90), "W");
}

static void test_cache_key(void **state)
{
	char k[64];

	(void)state;
	assert_true(weather_cache_key("Paris", k, sizeof k));
	assert_string_equal(k, "weather/paris");
	assert_true(weather_cache_key("  New   York  ", k, sizeof k));
	assert_string_equal(k, "weather/new york");
	assert_true(weather_cache_key("Paris ,  France", k, sizeof k));
	assert_string_equal(k, "weather/paris,france");
	assert_true(weather_cache_key("PARIS,FRANCE", k, sizeof k));
	assert_string_equal(k, "weather/paris,france");
	assert_true(weather_cache_key("Zürich", k, sizeof k));
	assert_string_equal(k, "weather/zürich");
	assert_false(weather_cache_key("   ", k, sizeof k));
	assert_false(weather_cache_key("", k, sizeof k));
	assert_false(weather_cache_key("a very long city name that does not fit", k, 20));
}

static void test_parse_place(void **state)
{
	struct err e = {0};
	json_t *p = NULL;

	(void)state;
	assert_int_equal(weather_parse_place(geo_berlin, sizeof geo_berlin - 1, NULL, &p, &e), 0);
	assert_string_equal(json_get_str(p, "name"), "Berlin");
	assert_string_equal(json_get_str(p, "country"), "Germany");
	assert_string_equal(json_get_str(p, "country_code"), "DE");
	assert_string_equal(json_get_str(p, "timezone"), "Europe/Berlin");
	assert_true(json_number_value(json_object_get(p, "latitude")) > 52.5);
	json_decref(p);

	/* qualifiers: country, code, region; case-insensitive */
	assert_int_equal(
		weather_parse_place(geo_berlin, sizeof geo_berlin - 1, "new hampshire", &p, &e), 0);
	assert_string_equal(json_get_str(p, "country_code"), "US");
	json_decref(p);
	assert_int_equal(weather_parse_place(geo_berlin, sizeof geo_berlin - 1, "us", &p, &e), 0);
	assert_string_equal(json_get_str(p, "admin1"), "New Hampshire");
	json_decref(p);
	assert_int_equal(weather_parse_place(geo_berlin, sizeof geo_berlin - 1, "Germany", &p, &e),
			 0);
	assert_string_equal(json_get_str(p, "country_code"), "DE");
	json_decref(p);
	assert_int_equal(weather_parse_place(geo_berlin, sizeof geo_berlin - 1, "Narnia", &p, &e),
			 ERR_NOT_FOUND);
	assert_null(p);

	/* nothing found: Open-Meteo leaves "results" out */
	assert_int_equal(
		weather_parse_place("{\"generationtime_ms\":0.5}", (size_t)-1, NULL, &p, &e),
		ERR_NOT_FOUND);
	assert_int_equal(weather_parse_place("not json", (size_t)-1, NULL, &p, &e), ERR_IO);
	assert_int_equal(weather_parse_place("{\"results\": 5}", (size_t)-1, NULL, &p, &e), ERR_IO);
	/* results without coordinates are skipped */
	assert_int_equal(
		weather_parse_place("{\"results\": [{\"name\": \"X\"}]}", (size_t)-1, NULL, &p, &e),
		ERR_NOT_FOUND);
}

static void test_parse_current(void **state)
{
	struct err e = {0};
	json_t *w = NULL;

	(void)state;
	assert_int_equal(weather_parse_current(forecast_ok, sizeof forecast_ok - 1, &w, &e), 0);
	assert_string_equal(json_get_str(w, "temperature"), "3.4°C");
	assert_string_equal(json_get_str(w, "condition"), "Overcast");
	assert_string_equal(json_get_str(w, "humidity"), "81%");
	assert_string_equal(json_get_str(w, "wind"), "12.2 km/h W");
	assert_true(json_number_value(json_object_get(w, "feels_like_c")) < 0);
	assert_int_equal(json_get_int(w, "humidity_percent", 0), 81);
	assert_int_equal(json_get_int(w, "wind_direction_deg", 0), 250);
	assert_int_equal(json_get_int(w, "weather_code", -1), 3);
	assert_string_equal(json_get_str(w, "observed_at"), "2024-01-15T14:00");
	assert_string_equal(json_get_str(w, "timezone"), "Europe/Berlin");
	json_decref(w);

	/* an unknown code is said so, not guessed */
	assert_int_equal(weather_parse_current(
				 "{\"current\": {\"temperature_2m\": 20, \"weather_code\": 4}}",
				 (size_t)-1, &w, &e),
			 0);
	assert_string_equal(json_get_str(w, "condition"), "Unknown (WMO code 4)");
	assert_string_equal(json_get_str(w, "temperature"), "20.0°C");
	assert_null(json_object_get(w, "humidity"));
	json_decref(w);

	assert_int_equal(
		weather_parse_current("{\"error\": true, \"reason\": \"bad\"}", (size_t)-1, &w, &e),
		ERR_IO);
	assert_non_null(strstr(err_msg(&e), "bad"));
	assert_int_equal(
		weather_parse_current("{\"current\": {\"weather_code\": 1}}", (size_t)-1, &w, &e),
		ERR_IO);
	assert_int_equal(weather_parse_current("[", (size_t)-1, &w, &e), ERR_IO);
}

/* ---- against the stand-in --------------------------------------------------- */

static void test_fresh_then_cached_then_expired(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;

	assert_int_equal(weather_current(&f->wc, "Berlin", &w, &e), 0);
	assert_string_equal(json_get_str(w, "city"), "Berlin");
	assert_false(json_is_true(json_object_get(w, "cached")));
	assert_non_null(json_get_str(w, "retrieved_at"));
	assert_null(json_object_get(w, "cached_at"));
	assert_string_equal(json_get_str(json_object_get(w, "location"), "country"), "Germany");
	assert_string_equal(json_get_str(w, "condition"), "Overcast");
	assert_string_equal(json_get_str(w, "source"), WEATHER_SOURCE);
	json_decref(w);
	assert_int_equal(atomic_load(&S.geo_calls), 1);
	assert_int_equal(atomic_load(&S.fc_calls), 1);
	/* the request Open-Meteo documents */
	assert_string_equal(S.last_geo_name, "Berlin");
	assert_string_equal(S.last_geo_count, "1");
	assert_string_equal(S.last_fc_current,
			    "temperature_2m,relative_humidity_2m,apparent_temperature,"
			    "weather_code,wind_speed_10m,wind_direction_10m");
	assert_string_equal(S.last_fc_tz, "auto");

	/* 30 minutes later, spelled differently: from the cache, no request */
	clock_fake_advance(&f->clock, 1800LL * 1000000);
	assert_int_equal(weather_current(&f->wc, "  berlin ", &w, &e), 0);
	assert_true(json_is_true(json_object_get(w, "cached")));
	assert_string_equal(json_get_str(w, "city"), "  berlin ");
	assert_non_null(json_get_str(w, "cached_at"));
	assert_null(json_object_get(w, "retrieved_at"));
	assert_int_equal(json_get_int(w, "cache_age_s", -1), 1800);
	assert_string_equal(json_get_str(w, "temperature"), "3.4°C");
	json_decref(w);
	assert_int_equal(atomic_load(&S.geo_calls), 1);
	assert_int_equal(atomic_load(&S.fc_calls), 1);

	/* another handle on the same store (a restart, another node) sees it */
	struct weather_config other = f->wc;
	assert_int_equal(weather_current(&other, "Berlin", &w, &e), 0);
	assert_true(json_is_true(json_object_get(w, "cached")));
	json_decref(w);

	/* past the hour: fetched again */
	clock_fake_advance(&f->clock, 1801LL * 1000000);
	assert_int_equal(weather_current(&f->wc, "Berlin", &w, &e), 0);
	assert_false(json_is_true(json_object_get(w, "cached")));
	json_decref(w);
	assert_int_equal(atomic_load(&S.geo_calls), 2);
	assert_int_equal(atomic_load(&S.fc_calls), 2);

	/* no cache at all */
	struct weather_config nocache = f->wc;
	nocache.cache_ttl_s = -1;
	assert_int_equal(weather_current(&nocache, "Berlin", &w, &e), 0);
	assert_false(json_is_true(json_object_get(w, "cached")));
	json_decref(w);
	assert_int_equal(atomic_load(&S.fc_calls), 3);
}

static void test_qualified(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;

	assert_int_equal(weather_current(&f->wc, "Berlin, New Hampshire", &w, &e), 0);
	assert_string_equal(json_get_str(json_object_get(w, "location"), "admin1"),
			    "New Hampshire");
	json_decref(w);
	/* the name alone is searched, with room for the qualifier to choose */
	assert_string_equal(S.last_geo_name, "Berlin");
	assert_string_equal(S.last_geo_count, "20");

	assert_int_equal(weather_current(&f->wc, "Berlin, Narnia", &w, &e), ERR_NOT_FOUND);
	assert_null(w);
	assert_non_null(strstr(err_msg(&e), "no place called 'Berlin' in 'Narnia'"));
	assert_int_equal(weather_current(&f->wc, ", France", &w, &e), ERR_INVALID);
}

static void test_unknown_city(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;

	script("{\"generationtime_ms\":0.3}", 200, forecast_ok, 200);
	assert_int_equal(weather_current(&f->wc, "Atlantis", &w, &e), ERR_NOT_FOUND);
	assert_null(w);
	assert_string_equal(err_msg(&e),
			    "no place called 'Atlantis' found by Open-Meteo geocoding; check the "
			    "spelling or add the country, e.g. 'Paris, France'");
	assert_int_equal(atomic_load(&S.fc_calls), 0);
	/* failures are not cached */
	script(geo_berlin, 200, forecast_ok, 200);
	assert_int_equal(weather_current(&f->wc, "Atlantis", &w, &e), 0);
	json_decref(w);

	assert_int_equal(weather_current(&f->wc, "", &w, &e), ERR_INVALID);
	assert_int_equal(weather_current(&f->wc, "   ", &w, &e), ERR_INVALID);
	char long_city[300];
	memset(long_city, 'a', sizeof long_city - 1);
	long_city[sizeof long_city - 1] = '\0';
	assert_int_equal(weather_current(&f->wc, long_city, &w, &e), ERR_INVALID);
}

static void test_api_errors(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;

	script(geo_berlin, 200,
	       "{\"error\":true,\"reason\":\"Cannot initialize WeatherVariable from invalid "
	       "String value tempeture_2m for key current\"}",
	       400);
	assert_int_equal(weather_current(&f->wc, "Berlin", &w, &e), ERR_IO);
	assert_null(w);
	assert_non_null(strstr(err_msg(&e), "HTTP 400"));
	assert_non_null(strstr(err_msg(&e), "invalid String value"));
	assert_non_null(strstr(err_msg(&e), "no weather data was invented"));

	/* 200 but not a forecast */
	script(geo_berlin, 200, "{\"hello\": 1}", 200);
	assert_int_equal(weather_current(&f->wc, "Berlin", &w, &e), ERR_IO);
	assert_non_null(strstr(err_msg(&e), "unexpected answer"));
	/* a geocoding server error (retried once, then reported) */
	script("{\"error\":true,\"reason\":\"down for maintenance\"}", 503, forecast_ok, 200);
	assert_int_equal(weather_current(&f->wc, "Berlin", &w, &e), ERR_IO);
	assert_non_null(strstr(err_msg(&e), "down for maintenance"));
}

static void test_nothing_listening(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	char dead[64];

	/* a port that was free a moment ago (bound, then closed) */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(dead, sizeof dead, "http://127.0.0.1:%d/", ntohs(a.sin_port));
	close(fd);

	struct weather_config wc = f->wc;
	wc.geocoding_url = dead;
	assert_int_equal(weather_current(&wc, "Berlin", &w, &e), ERR_IO);
	assert_null(w);
	assert_non_null(strstr(err_msg(&e), "cannot reach the Open-Meteo geocoding API"));
	assert_non_null(strstr(err_msg(&e), "No weather data was invented"));
	assert_non_null(strstr(err_msg(&e), "--geocoding-api-url"));

	wc = f->wc;
	wc.weather_url = dead;
	assert_int_equal(weather_current(&wc, "Berlin", &w, &e), ERR_IO);
	assert_non_null(strstr(err_msg(&e), "cannot reach the Open-Meteo forecast API"));
	assert_non_null(strstr(err_msg(&e), "--weather-api-url"));
}

static void test_base_url_forms(void **state)
{
	struct fx *f = *state;
	struct err e = {0};
	json_t *w = NULL;
	char with_v1[80], with_slash[80];

	snprintf(with_v1, sizeof with_v1, "%s/v1/", f->base);
	snprintf(with_slash, sizeof with_slash, "%s/", f->base);
	struct weather_config wc = f->wc;
	wc.geocoding_url = with_v1;
	wc.weather_url = with_slash;
	wc.cache_ttl_s = -1;
	assert_int_equal(weather_current(&wc, "Berlin", &w, &e), 0);
	json_decref(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes_and_compass),
		cmocka_unit_test(test_cache_key),
		cmocka_unit_test(test_parse_place),
		cmocka_unit_test(test_parse_current),
		cmocka_unit_test_setup_teardown(test_fresh_then_cached_then_expired, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qualified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_city, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_listening, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_url_forms, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
