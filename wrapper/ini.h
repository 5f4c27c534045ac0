/*
 * ini — the INI dialect of the AWS shared files (~/.aws/config and
 * ~/.aws/credentials), as the AWS SDKs read it.
 *
 * The dialect follows aws-sdk-go-v2's internal/ini (what Terraform reads),
 * one line at a time (LF or CR LF):
 *   # ... / ; ...     a comment line (leading spaces allowed)
 *   [ type  name ]    a section; the name is trimmed and a run of spaces between
 *                     its first two words becomes one space ("[profile  dev]"
 *                     is "profile dev"); case is kept
 *   key = value       a property (the line must not start with a space or tab).
 *                     The first '#' or ';' on the line starts a comment. The
 *                     separator is the first '=', or a ':' that comes before it
 *                     (legacy). The key is trimmed and lowercased; the value is
 *                     trimmed, one pair of surrounding quotes removed, and
 *                     \" \' \n expanded.
 *   <indented line>   after "key =" with an empty value: a sub-property,
 *                     stored as "key.sub" ("s3 =" / "  max_bandwidth = 1MB"); after a
 *                     non-empty value, an indented line without '=' is a
 *                     continuation, appended after a newline. Comments are not
 *                     stripped from indented lines.
 *   blank lines are ignored; so is a property before any section (as the SDK).
 * A section named again continues that section; a key set again replaces the
 * earlier value (the later line wins).
 *
 * Malformed input is an error (ERR_USAGE, msg "PATH:LINE: ..."): a line that
 * is none of the above, e.g. "garbage" or "[profile dev" (no ']' and no '=').
 *
 * Memory: struct ini owns every string. Values may be secrets (secret keys,
 * session tokens), so ini_free() wipes every byte it frees, and ini_load()
 * wipes the file contents it read. ini_free(NULL) is safe.
 */
#ifndef TFLOCK_INI_H
#define TFLOCK_INI_H

#include <stddef.h>

#include "error.h"

struct ini_prop {
	char *key;   /* lowercased */
	char *value; /* trimmed; "" when empty */
	unsigned line;
};

struct ini_section {
	char *name; /* as written between the brackets, trimmed */
	struct ini_prop *props;
	size_t nprops;
	unsigned line; /* where the section was first opened */
};

struct ini {
	char *path; /* for messages; "" when parsed from memory without a name */
	struct ini_section *sections;
	size_t nsections;
};

void ini_init(struct ini *ini);
void ini_free(struct ini *ini);
/* Parse len bytes of text; name is used in error messages. On failure ini is
 * left empty (freed). 0 or ERR_USAGE. */
int ini_parse(struct ini *ini, const char *text, size_t len, const char *name,
              struct tf_error *err);
/* Read and parse a file. ERR_NOT_FOUND when it does not exist (ini left
 * empty), ERR_SYSTEM when it cannot be read, ERR_USAGE when malformed. */
int ini_load(struct ini *ini, const char *path, struct tf_error *err);

/* Exact (case-sensitive) section lookup; NULL when absent. */
const struct ini_section *ini_section(const struct ini *ini, const char *name);
/* Property lookup (key compared case-insensitively); NULL when absent. */
const char *ini_get(const struct ini_section *s, const char *key);
const struct ini_prop *ini_prop(const struct ini_section *s, const char *key);

#endif
