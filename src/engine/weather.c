/*
 * weather.c - Open-Meteo geocoding + current weather, cached in the store's
 * soft state (see weather.h).
 */
#include "weather.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "engine/fetch_once.h"

#define GEO_COUNT_PLAIN 1
#define GEO_COUNT_QUALIFIED 20
#define ANSWER_MAX (1u << 20) /* Open-Meteo's answers are a few KB */
#define CURRENT_FIELDS                                                                             \
	"temperature_2m,relative_humidity_2m,apparent_temperature,weather_code,wind_speed_10m,"    \
	"wind_direction_10m"

/* ---- WMO weather interpretation codes (Open-Meteo's documentation) ------- */

static const struct {
	int code;
	const char *text;
} wmo_codes[] = {
	{0, "Clear sky"},
	{1, "Mainly clear"},
	{2, "Partly cloudy"},
	{3, "Overcast"},
	{45, "Fog"},
	{48, "Depositing rime fog"},
	{51, "Light drizzle"},
	{53, "Moderate drizzle"},
	{55, "Dense drizzle"},
	{56, "Light freezing drizzle"},
	{57, "Dense freezing drizzle"},
	{61, "Slight rain"},
	{63, "Moderate rain"},
	{65, "Heavy rain"},
	{66, "Light freezing rain"},
	{67, "Heavy freezing rain"},
	{71, "Slight snow fall"},
	{73, "Moderate snow fall"},
	{75, "Heavy snow fall"},
	{77, "Snow grains"},
	{80, "Slight rain showers"},
	{81, "Moderate rain showers"},
	{82, "Violent rain showers"},
	{85, "Slight snow showers"},
	{86, "Heavy snow showers"},
	{95, "Thunderstorm"},
	{96, "Thunderstorm with slight hail"},
	{99, "Thunderstorm with heavy hail"},
};

const char *weather_code_text(int code)
{
	for (size_t i = 0; i < sizeof wmo_codes / sizeof wmo_codes[0]; i++)
		if (wmo_codes[i].code == code)
			return wmo_codes[i].text;
	return NULL;
}

const char *weather_compass(double degrees)
{
	static const char *const names[] = {"N", "NE", "E", "SE", "S", "SW", "W", "NW"};
	double d;

	if (!isfinite(degrees))
		return "?";
	d = fmod(degrees, 360.0);
	if (d < 0)
		d += 360.0;
	return names[(int)floor((d + 22.5) / 45.0) % 8];
}

/* ---- the cache key -------------------------------------------------------- */

bool weather_cache_key(const char *city, char *out, size_t size)
{
	size_t pre = strlen(WEATHER_KEY_PREFIX), n = pre;
	bool blank = false;

	if (!city || size <= pre)
		return false;
	memcpy(out, WEATHER_KEY_PREFIX, pre);
	for (const unsigned char *p = (const unsigned char *)city; *p; p++) {
		unsigned char ch = *p;

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			blank = true;
			continue;
		}
		if (ch == ',') {
			blank = false; /* no blank before a comma */
		} else if (blank && n > pre && out[n - 1] != ',') {
			if (n + 1 >= size)
				return false;
			out[n++] = ' ';
		}
		blank = false;
		if (n + 1 >= size)
			return false;
		out[n++] = (char)(ch < 0x80 ? tolower(ch) : ch);
	}
	out[n] = '\0';
	return n > pre;
}

/* ---- parsing answers -------------------------------------------------------- */

static bool same_text(const char *a, const char *b)
{
	return a && b && *a && strcasecmp(a, b) == 0;
}

static bool place_matches(const json_t *r, const char *q)
{
	return same_text(json_get_str(r, "country"), q) ||
	       same_text(json_get_str(r, "country_code"), q) ||
	       same_text(json_get_str(r, "admin1"), q) || same_text(json_get_str(r, "admin2"), q);
}

static void copy_field(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	if (v && !json_is_null(v))
		json_object_set(dst, key, v);
}

int weather_parse_place(const char *json, size_t len, const char *qualifier, json_t **place,
			struct err *e)
{
	struct err je = {0};
	json_t *j = json_parse(json, len, &je), *results, *r;
	size_t i;

	*place = NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, ERR_IO, "the geocoding answer is not a JSON object%s%s",
			       je.code ? ": " : "", je.code ? err_msg(&je) : "");
	}
	results = json_object_get(j, "results");
	if (results && !json_is_array(results)) {
		json_decref(j);
		return err_set(e, ERR_IO, "the geocoding answer's \"results\" is not an array");
	}
	json_array_foreach(results, i, r) {
		json_t *lat = json_object_get(r, "latitude"),
		       *lon = json_object_get(r, "longitude");

		if (!json_is_number(lat) || !json_is_number(lon))
			continue;
		if (qualifier && *qualifier && !place_matches(r, qualifier))
			continue;
		*place = json_object();
		copy_field(*place, r, "name");
		copy_field(*place, r, "country");
		copy_field(*place, r, "country_code");
		copy_field(*place, r, "admin1");
		json_object_set(*place, "latitude", lat);
		json_object_set(*place, "longitude", lon);
		copy_field(*place, r, "timezone");
		copy_field(*place, r, "elevation");
		json_decref(j);
		return ERR_OK;
	}
	json_decref(j);
	return err_set(e, ERR_NOT_FOUND, "no matching place in the geocoding answer");
}

static bool get_number(const json_t *o, const char *key, double *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return isfinite(*v);
}

int weather_parse_current(const char *json, size_t len, json_t **out, struct err *e)
{
	struct err je = {0};
	json_t *j = json_parse(json, len, &je), *cur, *units, *o;
	double temp, hum = NAN, code, wind, dir, feels;
	const char *tu, *wu, *reason;
	char s[96];

	*out = NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, ERR_IO, "the forecast answer is not a JSON object%s%s",
			       je.code ? ": " : "", je.code ? err_msg(&je) : "");
	}
	reason = json_get_str(j, "reason");
	cur = json_object_get(j, "current");
	if (!json_is_object(cur)) {
		int rc = err_set(e, ERR_IO, "the forecast answer has no \"current\" block%s%.200s",
				 reason ? ": " : "", reason ? reason : "");
		json_decref(j);
		return rc;
	}
	if (!get_number(cur, "temperature_2m", &temp) || !get_number(cur, "weather_code", &code)) {
		json_decref(j);
		return err_set(e, ERR_IO,
			       "the forecast answer's \"current\" block has no "
			       "temperature_2m or weather_code");
	}
	units = json_object_get(j, "current_units");
	tu = json_get_str(units, "temperature_2m");
	wu = json_get_str(units, "wind_speed_10m");
	if (!tu)
		tu = "°C";
	if (!wu)
		wu = "km/h";

	o = json_object();
	snprintf(s, sizeof s, "%.1f%s", temp, tu);
	json_object_set_new(o, "temperature", json_string_lossy(s));
	const char *words = weather_code_text((int)code);
	if (words) {
		json_object_set_new(o, "condition", json_string(words));
	} else {
		snprintf(s, sizeof s, "Unknown (WMO code %d)", (int)code);
		json_object_set_new(o, "condition", json_string(s));
	}
	if (get_number(cur, "relative_humidity_2m", &hum)) {
		snprintf(s, sizeof s, "%.0f%%", hum);
		json_object_set_new(o, "humidity", json_string(s));
	}
	bool have_wind = get_number(cur, "wind_speed_10m", &wind);
	bool have_dir = get_number(cur, "wind_direction_10m", &dir);
	if (have_wind) {
		snprintf(s, sizeof s, "%.1f %.20s%s%s", wind, wu, have_dir ? " " : "",
			 have_dir ? weather_compass(dir) : "");
		json_object_set_new(o, "wind", json_string_lossy(s));
	}
	json_object_set_new(o, "temperature_c", json_real(temp));
	if (get_number(cur, "apparent_temperature", &feels))
		json_object_set_new(o, "feels_like_c", json_real(feels));
	if (json_object_get(o, "humidity"))
		json_object_set_new(o, "humidity_percent", json_integer((json_int_t)lround(hum)));
	if (have_wind)
		json_object_set_new(o, "wind_speed_kmh", json_real(wind));
	if (have_dir)
		json_object_set_new(o, "wind_direction_deg", json_integer((json_int_t)lround(dir)));
	json_object_set_new(o, "weather_code", json_integer((json_int_t)code));
	copy_field(o, cur, "time");
	if (json_object_get(o, "time")) {
		json_object_set(o, "observed_at", json_object_get(o, "time"));
		json_object_del(o, "time");
	}
	copy_field(o, j, "timezone");
	json_decref(j);
	*out = o;
	return ERR_OK;
}

/* ---- requests --------------------------------------------------------------- */

/* base without trailing "/" or "/v1" (heap). */
static char *base_url(const char *configured, const char *def)
{
	const char *b = configured && *configured ? configured : def;
	size_t n = strlen(b);

	while (n && b[n - 1] == '/')
		n--;
	if (n >= 3 && strncmp(b + n - 3, "/v1", 3) == 0)
		n -= 3;
	while (n && b[n - 1] == '/')
		n--;
	return xstrndup(b, n);
}

static void url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_append(b, p, 1);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_append(b, enc, 3);
		}
	}
}

/* GET url; on success *body (heap).  `what` names the service in messages,
 * `flag` the setting that moves it. */
static int get_json(const struct weather_config *c, const char *url, const char *what,
		    const char *flag, char **body, size_t *len, struct err *e)
{
	struct fetch_options fo = {
		.user_agent = c->user_agent,
		.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : WEATHER_TIMEOUT_MS,
		.connect_timeout_ms = 10000,
		.max_body = ANSWER_MAX,
		.max_redirects = 3,
		.retry = {.max_attempts = 2, .base_delay_ms = 250, .max_retry_after_ms = 5000},
	};
	struct fetch_request rq = {
		.url = url,
		.headers = (const char *const[]){"Accept: application/json", NULL},
		.trusted = true, /* the operator's setting, like OPENAI_API_BASE */
	};
	struct fetch_once_result r;
	struct err fe = {0};
	int rc = fetch_once(&fo, &rq, &r, &fe);

	*body = NULL;
	if (rc == ERR_OK) {
		*body = r.body ? r.body : xstrdup("");
		*len = r.body ? r.body_len : 0;
		r.body = NULL;
		fetch_once_cleanup(&r);
		return ERR_OK;
	}
	if (r.failure == FETCH_FAIL_HTTP) {
		/* Open-Meteo's errors: {"error": true, "reason": "..."} */
		json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
		const char *reason = json_get_str(j, "reason");

		rc = err_set(e, ERR_IO,
			     "%s answered HTTP %ld%s%.300s (%s); no weather data was "
			     "invented",
			     what, r.status, reason ? ": " : "", reason ? reason : "", url);
		json_decref(j);
	} else {
		rc = err_set(e, r.code == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_IO,
			     "cannot reach %s: %s. No weather data was invented: check the "
			     "network connection (or %s)",
			     what, err_msg(&fe), flag);
	}
	fetch_once_cleanup(&r);
	return rc;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (s[i] && isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static int geocode(const struct weather_config *c, const char *city, json_t **place, struct err *e)
{
	char name[WEATHER_CITY_MAX + 1], *qual = NULL, *comma, *base, *body = NULL;
	struct buf url;
	size_t len = 0;
	int rc;

	snprintf(name, sizeof name, "%s", city);
	comma = strchr(name, ',');
	if (comma) {
		*comma = '\0';
		qual = comma + 1;
		trim(qual);
		/* "Paris, Île-de-France, France": the last part is the most telling */
		char *last = strrchr(qual, ',');
		if (last) {
			qual = last + 1;
			trim(qual);
		}
	}
	trim(name);
	if (!*name)
		return err_set(e, ERR_INVALID,
			       "city '%s' has no place name before the comma; write e.g. 'Paris' "
			       "or 'Paris, France'",
			       city);

	base = base_url(c->geocoding_url, WEATHER_GEOCODING_URL);
	buf_init(&url, 4096);
	buf_printf(&url, "%s/v1/search?name=", base);
	url_escape(&url, name);
	buf_printf(&url, "&count=%d&language=en&format=json",
		   qual && *qual ? GEO_COUNT_QUALIFIED : GEO_COUNT_PLAIN);
	rc = get_json(c, buf_str(&url), "the Open-Meteo geocoding API",
		      "--geocoding-api-url / AMBIENT_GEOCODING_API_URL", &body, &len, e);
	free(base);
	if (rc == ERR_OK) {
		struct err pe = {0};

		rc = weather_parse_place(body, len, qual, place, &pe);
		if (rc == ERR_NOT_FOUND && qual && *qual)
			err_set(e, ERR_NOT_FOUND,
				"no place called '%s' in '%s' found by Open-Meteo geocoding; check "
				"the spelling of both (the country or region goes after the comma, "
				"e.g. 'Paris, France' or 'Portland, Oregon')",
				name, qual);
		else if (rc == ERR_NOT_FOUND)
			err_set(e, ERR_NOT_FOUND,
				"no place called '%s' found by Open-Meteo geocoding; check the "
				"spelling or add the country, e.g. 'Paris, France'",
				name);
		else if (rc)
			err_set(e, ERR_IO,
				"the Open-Meteo geocoding API (%s) sent an unexpected answer: %s",
				buf_str(&url), err_msg(&pe));
	}
	free(body);
	buf_cleanup(&url);
	return rc;
}

static int forecast(const struct weather_config *c, const json_t *place, json_t **w, struct err *e)
{
	char *base = base_url(c->weather_url, WEATHER_API_URL), *body = NULL;
	struct buf url;
	size_t len = 0;
	int rc;

	buf_init(&url, 4096);
	buf_printf(&url,
		   "%s/v1/forecast?latitude=%.5f&longitude=%.5f&current=" CURRENT_FIELDS
		   "&timezone=auto",
		   base, json_number_value(json_object_get(place, "latitude")),
		   json_number_value(json_object_get(place, "longitude")));
	free(base);
	rc = get_json(c, buf_str(&url), "the Open-Meteo forecast API",
		      "--weather-api-url / AMBIENT_WEATHER_API_URL", &body, &len, e);
	if (rc == ERR_OK) {
		struct err pe = {0};

		rc = weather_parse_current(body, len, w, &pe);
		if (rc)
			err_set(e, ERR_IO,
				"the Open-Meteo forecast API (%s) sent an unexpected answer: %s",
				buf_str(&url), err_msg(&pe));
	}
	free(body);
	buf_cleanup(&url);
	return rc;
}

/* ---- the cache ------------------------------------------------------------------ */

static int ttl_s(const struct weather_config *c)
{
	return c->cache_ttl_s ? c->cache_ttl_s : WEATHER_CACHE_TTL_S;
}

/* A fresh cached answer for key (new reference), or NULL. */
static json_t *cache_get(const struct weather_config *c, const char *key, int64_t now_us)
{
	struct err e = {0};
	json_t *doc = NULL, *w, *out;
	json_int_t at;

	if (!c->store || ttl_s(c) < 0)
		return NULL;
	int rc = store_soft_get(c->store, key, &doc, &e);
	if (rc) {
		if (rc != ERR_NOT_FOUND)
			log_warn("weather cache: %s", err_msg(&e));
		return NULL;
	}
	w = json_object_get(doc, "weather");
	at = json_integer_value(json_object_get(doc, "retrieved_at_us"));
	if (!json_is_object(w) || at <= 0 || now_us < at ||
	    now_us - at >= (int64_t)ttl_s(c) * 1000000) {
		json_decref(doc);
		return NULL;
	}
	out = json_deep_copy(w);
	json_object_set_new(out, "cached", json_true());
	json_object_set(out, "cached_at", json_object_get(doc, "retrieved_at"));
	json_object_set_new(out, "cache_age_s",
			    json_integer((json_int_t)((now_us - at) / 1000000)));
	json_decref(doc);
	return out;
}

static void cache_put(const struct weather_config *c, const char *key, const json_t *w,
		      int64_t now_us, const char *iso)
{
	struct err e = {0};
	json_t *doc;

	if (!c->store || ttl_s(c) < 0)
		return;
	doc = json_pack("{s:i, s:O, s:I, s:s}", "v", 1, "weather", w, "retrieved_at_us",
			(json_int_t)now_us, "retrieved_at", iso);
	struct store_soft_item it = {key, doc};
	if (store_soft_put(c->store, &it, 1, &e))
		log_warn("weather cache: %s", err_msg(&e));
	json_decref(doc);
}

/* ---- the call --------------------------------------------------------------------- */

int weather_current(const struct weather_config *c, const char *city, json_t **out, struct err *e)
{
	struct weather_config def = {0};
	char key[sizeof WEATHER_KEY_PREFIX + WEATHER_CITY_MAX * 2], iso[CLOCK_ISO_MAX];
	json_t *place = NULL, *w = NULL;
	int64_t now;
	int rc;

	*out = NULL;
	if (!c)
		c = &def;
	if (!city || strlen(city) > WEATHER_CITY_MAX)
		return err_set(e, ERR_INVALID,
			       "city must be a place name of at most %d bytes, "
			       "e.g. 'Paris' or 'Paris, France'",
			       WEATHER_CITY_MAX);
	if (!weather_cache_key(city, key, sizeof key) ||
	    strspn(key + strlen(WEATHER_KEY_PREFIX), ", ") ==
		    strlen(key + strlen(WEATHER_KEY_PREFIX)))
		return err_set(e, ERR_INVALID,
			       "city is empty: give a place name, e.g. 'Paris' or 'Paris, France'");

	now = clock_wall_us(c->clock ? c->clock : clock_system());
	if ((*out = cache_get(c, key, now))) {
		json_object_set_new(*out, "city", json_string_lossy(city));
		return ERR_OK;
	}
	if ((rc = geocode(c, city, &place, e)))
		return rc;
	if ((rc = forecast(c, place, &w, e))) {
		json_decref(place);
		return rc;
	}
	clock_format_utc(now, iso);
	/* field order: city, location, the readings, source, cache fields */
	*out = json_object();
	json_object_set_new(*out, "city", json_string_lossy(city));
	json_object_set_new(*out, "location", place);
	json_object_update(*out, w);
	json_decref(w);
	json_object_set_new(*out, "source", json_string(WEATHER_SOURCE));
	cache_put(c, key, *out, now, iso);
	json_object_set_new(*out, "cached", json_false());
	json_object_set_new(*out, "retrieved_at", json_string(iso));
	return ERR_OK;
}
