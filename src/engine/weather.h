/*
 * weather.h - current weather from Open-Meteo (open-meteo.com: free, no API
 * key, CC BY 4.0 data), for the get_weather tool.
 *
 * Two requests, both to operator-configured base URLs (so they are trusted:
 * no SSRF guard, like OPENAI_API_BASE):
 *   1. geocoding: GET {geocoding_url}/v1/search?name=NAME&count=N&language=en
 *      &format=json  -> {"results": [{name, latitude, longitude, country,
 *      country_code, admin1, timezone, ...}]} ("results" is absent when
 *      nothing matched);
 *   2. forecast: GET {weather_url}/v1/forecast?latitude=..&longitude=..
 *      &current=temperature_2m,relative_humidity_2m,apparent_temperature,
 *      weather_code,wind_speed_10m,wind_direction_10m&timezone=auto
 *      -> {"current_units": {...}, "current": {time, temperature_2m, ...}}.
 * A city may carry a qualifier after a comma ("Paris, France", "Portland,
 * Oregon", "Paris, US"): the name before the comma is searched (20 results)
 * and the first result whose country, country code or region (admin1/admin2)
 * equals the qualifier (case-insensitively) is taken.
 *
 * Cache: a successful answer is kept for cache_ttl_s (one hour) as soft
 * state in the event store under "weather/<normalised city>" (lower case,
 * blanks collapsed), so it survives restarts and is shared by every node on
 * the store.  A cached answer says cached: true and cached_at (when it was
 * fetched); a fresh one cached: false and retrieved_at.  Failures are not
 * cached.
 *
 * Never invented: when a place is unknown or Open-Meteo cannot be reached,
 * the call fails with a message saying so (and how to fix it); there is no
 * fallback data.
 *
 * Threads: any thread, any number at once (the store is thread-safe).
 */
#ifndef AMBIENT_ENGINE_WEATHER_H
#define AMBIENT_ENGINE_WEATHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/clock.h"
#include "common/err.h"
#include "store/store.h"

#define WEATHER_API_URL "https://api.open-meteo.com"
#define WEATHER_GEOCODING_URL "https://geocoding-api.open-meteo.com"
#define WEATHER_CACHE_TTL_S 3600
#define WEATHER_TIMEOUT_MS 15000
#define WEATHER_CITY_MAX 200 /* bytes of a city argument */
#define WEATHER_KEY_PREFIX "weather/"
#define WEATHER_SOURCE "Open-Meteo (open-meteo.com), data CC BY 4.0"

/* Borrowed pointers; zero fields take the defaults. */
struct weather_config {
	const char *weather_url;   /* NULL: WEATHER_API_URL (a trailing "/" or "/v1" is
				    * ignored) */
	const char *geocoding_url; /* NULL: WEATHER_GEOCODING_URL */
	struct store *store;       /* the cache; NULL: no cache */
	struct clock *clock;       /* for the cache's age; NULL: the system clock */
	int cache_ttl_s;           /* 0: WEATHER_CACHE_TTL_S; < 0: no cache */
	int timeout_ms;            /* per request; 0: WEATHER_TIMEOUT_MS */
	const char *user_agent;    /* NULL: the fetcher's */
};

/*
 * The current weather at `city`.  On success *out is a new object:
 *   {city (as asked), location {name, country, country_code, admin1,
 *    latitude, longitude, timezone, elevation}, temperature "15.2°C",
 *    condition "Partly cloudy", humidity "45%", wind "12.2 km/h SW",
 *    temperature_c, feels_like_c, humidity_percent, wind_speed_kmh,
 *    wind_direction_deg, weather_code, observed_at (local time at the place,
 *    as Open-Meteo gives it), timezone, source, cached, retrieved_at |
 *    cached_at (UTC ISO-8601), cache_age_s (when cached)}
 * Errors (the message says what to do):
 *   ERR_INVALID    empty or too long a city
 *   ERR_NOT_FOUND  no such place ("no place called 'X' found by Open-Meteo
 *                  geocoding; check the spelling or add the country, e.g.
 *                  'Paris, France'")
 *   ERR_IO / ERR_TIMEOUT  Open-Meteo unreachable, an HTTP error, or an
 *                  answer that is not what Open-Meteo sends
 */
int weather_current(const struct weather_config *c, const char *city, json_t **out, struct err *e);

/* ---- pure parts (exported for the tests) ------------------------------- */

/* WMO weather interpretation code (as Open-Meteo uses it) in words: 0 "Clear
 * sky", 3 "Overcast", 61 "Slight rain", 95 "Thunderstorm", ...; NULL for a
 * code WMO does not define there. */
const char *weather_code_text(int code);

/* Eight-point compass direction a wind blows FROM: 0 "N", 45 "NE", ...
 * (any degrees, wrapped). */
const char *weather_compass(double degrees);

/* The cache key of a city: "weather/" + the city trimmed, ASCII letters in
 * lower case, runs of blanks as one space, no blanks around commas.  false
 * when it does not fit in size bytes or the city is blank. */
bool weather_cache_key(const char *city, char *out, size_t size);

/* Pick the place from a geocoding answer: the first result (matching the
 * qualifier, when not NULL/"").  *place = {name, country, country_code,
 * admin1, latitude, longitude, timezone, elevation} (absent fields left
 * out).  ERR_NOT_FOUND when nothing (matching) was found; ERR_IO when the
 * text is not a geocoding answer. */
int weather_parse_place(const char *json, size_t len, const char *qualifier, json_t **place,
			struct err *e);

/* The weather fields of a forecast answer (temperature ... observed_at,
 * timezone, as in weather_current's result).  ERR_IO when the answer has no
 * usable "current" block. */
int weather_parse_current(const char *json, size_t len, json_t **out, struct err *e);

#endif
