/*
 * lockinfo — the lock body: Terraform's LockInfo JSON plus tflock's "Tflock" part.
 *
 * Writing (lockinfo_to_json) produces exactly the bytes Terraform's Go code would
 * write for the seven LockInfo fields (PROTOCOL.md A2): compact, keys in Terraform's
 * order, strings escaped as Go's encoding/json escapes them by default (Go >= 1.22:
 * \" \\ \b \f \n \r \t, other controls as \u00xx, < > & as \u003c \u003e \u0026,
 * U+2028/U+2029 as \u2028/\u2029, each byte of invalid UTF-8 as \ufffd), then, when
 * has_tflock, one extra key "Tflock" (B1).
 *
 * Reading (lockinfo_parse) decides what the body is, the way Terraform's
 * json.Unmarshal into LockInfo would see it: Go's JSON grammar exactly (whitespace
 * only space/tab/CR/LF, no leading zeros, no raw control characters in strings,
 * nesting up to 10000), keys matched case-insensitively with Go's folding ("id" and
 * "iD" are ID; U+017F folds to S and U+212A Kelvin to K, so "Verſion" is Version;
 * dotless "ı" does not fold to I; a key holding \u0000 matches nothing), the last of
 * duplicate keys wins, null leaves a field unchanged, unknown keys are ignored,
 * string escapes decoded as Go does (lone surrogates become U+FFFD). cJSON is not
 * used because it differs from Go on several of these (it accepts 01, 1. and \v
 * as whitespace, accepts raw control characters in strings, truncates at \u0000,
 * rejects lone surrogates, stops at depth 1000). Checked against Go's own
 * json.Unmarshal (Go 1.19, whose decoder matches Terraform's for this) on the corpus
 * and on 90000 mutated and generated bodies: same verdict, same field bytes.
 *
 * The Tflock part is tflock's own: within it the last of duplicate keys wins per
 * field, and a later "Tflock" key replaces an earlier one entirely (Go would merge).
 *
 * Classes:
 *   LOCKINFO_TFLOCK    a body Terraform can use (ID a non-empty string, Created a
 *                      valid RFC 3339 time, every present LockInfo field a string)
 *                      with a Tflock part tflock understands: v == 1, lease a whole
 *                      number of seconds in [LOCKINFO_LEASE_MIN, LOCKINFO_LEASE_MAX],
 *                      seq and pid non-negative whole numbers, host/boot/ci/job/
 *                      pidns strings when present (bodies of older tflock
 *                      versions have no pidns and stay TFLOCK); and nothing a tflock writer never
 *                      produces (invalid UTF-8, \u0000 in a field, no Created).
 *   LOCKINFO_FOREIGN   a body Terraform can use but that tflock must not take over:
 *                      a plain Terraform/OpenTofu lock, an unknown v, a lease out of
 *                      range, a Tflock part with wrong types, or one of the "never
 *                      produced by tflock" cases above. err->msg says why, kind 0.
 *   LOCKINFO_MALFORMED Terraform itself could not use it: empty, not JSON, not an
 *                      object, truncated, a LockInfo field of the wrong type, ID
 *                      missing or empty, Created not RFC 3339, raw NUL bytes, more
 *                      than LOCKINFO_MAX_BODY bytes (tflock's own limit). err->msg
 *                      says what, err->kind is ERR_PARSE.
 * Note: invalid UTF-8 inside a JSON string does not stop Go (it decodes each bad
 * byte as U+FFFD), so it makes a body FOREIGN, not MALFORMED; the stored strings are
 * then what Terraform sees (U+FFFD in place of each bad byte).
 *
 * Memory: a struct lockinfo owns its strings (malloc'd). lockinfo_init() empties it
 * without allocating (strings NULL); lockinfo_free() frees them and re-initialises
 * (lockinfo_free(NULL) is a no-op). After lockinfo_parse() every string field is
 * non-NULL (possibly ""), whatever the class. Parsed strings are valid UTF-8 but may
 * hold control characters or terminal escapes: sanitise before display. A \u0000
 * (which Go keeps) is stored as U+FFFD, since a C string cannot hold it.
 */
#ifndef TFLOCK_LOCKINFO_H
#define TFLOCK_LOCKINFO_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"

#define LOCKINFO_VERSION 1        /* the Tflock protocol version we write and understand */
#define LOCKINFO_VERSION_PARKED 2 /* a parked lock (PROTOCOL B14.4): v 2 with a "park" */
#define LOCKINFO_PARK_MS_MAX (25L * 3600 * 1000) /* for_ms: 24 h and a margin */
#define LOCKINFO_LEASE_MIN 5L                    /* seconds */
#define LOCKINFO_LEASE_MAX 3600L                 /* seconds */
#define LOCKINFO_MAX_BODY 65536                  /* bytes; larger bodies are MALFORMED unread */
#define LOCKINFO_ID_LEN 36

/* The holder's CI job (PROTOCOL B14.1), keys "cip" "srv" "proj" "run" "att" "jid"
 * "eph": which CI ("github", "gitlab"), its server URL, the project (GitHub
 * owner/repo, GitLab project id), run or pipeline id, run attempt, numeric job id,
 * and eph 1 for an ephemeral hosted runner. Strings written only when non-empty,
 * eph only when 1; read as they are (a value of another type is absent): their
 * meaning is checked where they are used (cijob.h), never here. */
struct lockinfo_cijob {
	char *cip, *srv, *proj, *run, *att, *jid;
	int eph;
};

/* A parked lock's "park" (B14.4): parked is 1 only for a v 2 body whose park is
 * valid (until an RFC 3339 time, for_ms 1..LOCKINFO_PARK_MS_MAX, tie "run" or
 * "none"); a v 2 body without one is FOREIGN. Strings "" when absent. */
struct lockinfo_park {
	int parked;
	char *until; /* RFC 3339 UTC: the parker's clock + the parking time */
	long long for_ms;
	char *note, *by, *tie, *jname;
};

struct lockinfo_tflock {        /* tflock's extension, key "Tflock" */
	int v;                  /* protocol version; we write 1 */
	long lease;             /* seconds */
	unsigned long long seq; /* increases on every write attempt */
	long pid;
	char *host;
	char *boot_id;             /* /proc/sys/kernel/random/boot_id; key "boot" */
	char *ci;                  /* CI identity: job URL or "" */
	char *ci_job;              /* CI job id or ""; key "job" */
	char *pidns;               /* PID namespace, "pid:[inode]", or ""; key "pidns"; older
	                  tflock wrote none (parsed as "") */
	long lease_ms;             /* the lease the holder really keeps, in ms, when it differs from
	                  lease (TFLOCK_TIME_SCALE, tests); 0: lease seconds. Key
	                  "lease_ms", written only when non-zero; 1..LOCKINFO_LEASE_MS_MAX */
	struct lockinfo_cijob cj;  /* B14.1; strings "" when absent */
	struct lockinfo_park park; /* B14.4; written (as v 2) when park.parked */
};

#define LOCKINFO_LEASE_MS_MAX (LOCKINFO_LEASE_MAX * 1000L * 1000L)

struct lockinfo {
	char *id, *operation, *info, *who, *version, *created, *path;
	int has_tflock; /* parse: the (last) Tflock value was an object */
	struct lockinfo_tflock tf;
};

void lockinfo_init(struct lockinfo *li);
void lockinfo_free(struct lockinfo *li);
/* Frees cj's strings and zeroes it (the CI part of a body, or ci_identity's). */
void lockinfo_cijob_free(struct lockinfo_cijob *cj);
void lockinfo_park_free(struct lockinfo_park *p);
/* dst's old content is freed; it becomes a deep copy of src. */
void lockinfo_copy(struct lockinfo *dst, const struct lockinfo *src);

/*
 * Replace out's content with li's JSON body (NULL strings are written as "").
 * Returns 0, or ERR_INTERNAL (out left empty) when the body would be one Terraform
 * cannot read: id empty, or created not an RFC 3339 time. Tflock values are written
 * as given (the caller owns their ranges).
 */
int lockinfo_to_json(const struct lockinfo *li, struct buf *out);

enum lockinfo_class { LOCKINFO_TFLOCK = 0, LOCKINFO_FOREIGN = 1, LOCKINFO_MALFORMED = 2 };

/*
 * Classify data[0..len) (need not be NUL-terminated) and fill out with whatever
 * fields could be read, even for MALFORMED bodies (fields before a syntax error).
 * out must have been initialised (lockinfo_init) or filled before; its old content
 * is freed. err may be NULL; it is cleared for TFLOCK, and for FOREIGN/MALFORMED its
 * msg is one printable line (bytes from the body are shown escaped). Returns the
 * class; never a negative value.
 */
int lockinfo_parse(const char *data, size_t len, struct lockinfo *out, struct tf_error *err);

/* A fresh lock ID: 16 random bytes (OpenSSL RAND_bytes, getrandom() as a fallback;
 * aborts if neither works) as lowercase hex 8-4-4-4-12, no version bits. */
void lockinfo_new_id(char out[37]);

/* Go's RFC3339Nano in UTC: 2025-03-04T12:34:56.789012345Z, trailing zeros of the
 * fraction dropped, no fraction when it is 0. tv_nsec outside [0, 1e9) is normalised.
 * (rfc3339_format(), for the lock body's callers.) */
void lockinfo_format_created(const struct timespec *utc, char out[48]);

/*
 * Parse an RFC 3339 time exactly as Go's time.Time.UnmarshalJSON accepts it (the
 * bytes between the quotes, no unescaping): YYYY-MM-DDTHH:MM:SS, an optional
 * fraction ".d+" (any number of digits; digits past the 9th are dropped, as Go
 * does), then "Z" or "+HH:MM"/"-HH:MM" (HH < 24, MM < 60). Upper-case T and Z only,
 * real calendar dates (leap years), seconds 00-59. Stores the UTC instant in *out
 * (may be NULL). Returns 0, or -1 for anything else. (rfc3339_parse(), dialect
 * RFC3339_GO.)
 */
int lockinfo_parse_time(const char *s, struct timespec *out);

#endif
