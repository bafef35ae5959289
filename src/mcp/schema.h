/*
 * schema.h - a JSON Schema validator for the subset MCP tool input schemas
 * use, so a server can reject wrong tool arguments with a message a model can
 * act on ("argument \"config.hour\": expected integer, got string (\"8\")").
 *
 * Keywords: type (a name or an array of names; "integer" accepts a real
 * with no fraction, "number" accepts integers), enum, const, properties,
 * patternProperties, required, additionalProperties (false or a schema),
 * minProperties, maxProperties, items (a schema, or a draft-4 array of
 * schemas), prefixItems, minItems, maxItems, uniqueItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (a number, or the draft-4 boolean),
 * multipleOf, minLength, maxLength (in code points), pattern (ECMA-262
 * patterns mapped onto POSIX extended regular expressions: \d \w \s,
 * (?:...) and the usual escapes work; a pattern that cannot be mapped or
 * compiled is ignored), allOf, anyOf, oneOf, not, and $ref to a JSON pointer
 * in the root schema ("#/$defs/NAME", "#/definitions/NAME", "#").  Boolean
 * schemas true/false are accepted anywhere a schema is.  Unknown keywords
 * (format, title, description, default, $schema, ...) are ignored, as are
 * keywords whose value has the wrong type.  Schema nesting (including $ref
 * chains) is capped at MCP_SCHEMA_MAX_DEPTH.
 *
 * Both functions borrow their arguments and keep no state, so they may be
 * called from any number of threads at once.
 */
#ifndef AMBIENT_MCP_SCHEMA_H
#define AMBIENT_MCP_SCHEMA_H

#include <jansson.h>

#include "common/err.h"

#define MCP_SCHEMA_MAX_DEPTH 64

/*
 * Validate `instance` (tool arguments; NULL means no arguments and is
 * treated as {}) against `schema` (NULL accepts anything).  Returns 0, or
 * ERR_INVALID with the first problem found in *e, its location written as a
 * dotted path with array indices ("config.urls[2]"):
 *   missing required argument "task_type"
 *   argument "task_type": must be one of "web_monitor", "schedule"; got "web"
 * A schema that is itself broken (a $ref that does not resolve) gives
 * ERR_INTERNAL.
 */
int mcp_schema_validate(const json_t *schema, const json_t *instance, struct err *e);

/*
 * Check that `schema` can serve as a tool's input schema: an object whose
 * "type", when present, is "object", whose "properties" (if any) is an
 * object of schemas and whose "required" (if any) is an array of strings.
 * Returns 0 or ERR_INVALID with a message.
 */
int mcp_schema_check(const json_t *schema, struct err *e);

#endif
