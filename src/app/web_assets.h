/*
 * web_assets.h - the dashboard files (the files of src/app/web: HTML, CSS, JS) embedded
 * in the binary at build time.
 *
 * cmake/embed_assets.cmake turns every file of src/app/web into a byte array
 * in a generated source (web_assets_data.c in the build directory), so the
 * pages work offline, from any working directory, with no build step for
 * the pages themselves: edit the file, rebuild, done.
 *
 * The data is static and read-only: callers borrow it for the process's
 * lifetime and never free it.
 */
#ifndef AMBIENT_APP_WEB_ASSETS_H
#define AMBIENT_APP_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded file, as the generated table holds it. */
struct web_asset {
	const char *name;          /* file name in src/app/web, e.g. "tasks.html" */
	const unsigned char *data; /* its bytes, followed by a NUL not counted in len */
	size_t len;
};

/* Find an embedded file by name ("tasks.html"; no directories).  On success
 * returns true and sets *content_type (a static string such as
 * "text/html; charset=utf-8"), *data and *len (any may be NULL). */
bool web_asset_find(const char *name, const char **content_type, const unsigned char **data,
		    size_t *len);

/* The content type for a file name, by its extension (static string;
 * "application/octet-stream" when unknown). */
const char *web_asset_content_type(const char *name);

/* Every embedded file, for listings and tests: *count gets the number. */
const struct web_asset *web_asset_list(size_t *count);

#endif
