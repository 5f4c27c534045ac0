/*
 * rfc3339 — the one RFC 3339 time parser and writer.
 *
 * rfc3339_parse() reads a date-time in one of two dialects:
 *   RFC3339_GO  exactly what Go's time.Time.UnmarshalJSON accepts (the bytes
 *               between the quotes of a lock body's "Created", no unescaping):
 *               YYYY-MM-DDTHH:MM:SS, an optional fraction ".d+" (any number of
 *               digits; digits past the 9th are dropped, as Go does), then "Z"
 *               or "+HH:MM"/"-HH:MM" (HH < 24, MM < 60). Upper-case T and Z
 *               only, real calendar dates (leap years), seconds 00-59.
 *   RFC3339_AWS what AWS services and tools write (STS, container and instance
 *               metadata, credential_process, the SSO token cache): the same,
 *               and also a "t" or " " between date and time, a "z" or "UTC"
 *               zone, a "+hhmm"/"-hhmm" offset, second 60, and a day 29-31 in
 *               any month, both counted on into the next minute or month as
 *               timegm() does.
 * A zone is required in both. It stores the UTC instant in *out (may be NULL)
 * and returns 0, or returns -1 (NULL, or anything else) and leaves *out alone.
 *
 * rfc3339_format() writes Go's RFC3339Nano in UTC: 2025-03-04T12:34:56.789012345Z,
 * trailing zeros of the fraction dropped, no fraction when it is 0; tv_nsec
 * outside [0, 1e9) is normalised. Pure; nothing is allocated.
 */
#ifndef TFLOCK_RFC3339_H
#define TFLOCK_RFC3339_H

#include <time.h>

enum rfc3339_dialect {
	RFC3339_GO = 0,
	RFC3339_AWS = 1,
};

#define RFC3339_MAX 48 /* the size of rfc3339_format()'s out, NUL included */

int rfc3339_parse(const char *s, enum rfc3339_dialect dialect, struct timespec *out);
void rfc3339_format(const struct timespec *utc, char out[RFC3339_MAX]);

#endif
