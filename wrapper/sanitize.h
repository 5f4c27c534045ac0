/*
 * sanitize — the one escaping function for text that came from outside tflock.
 *
 * Foreign text is anything tflock did not write itself: lock bodies (ID,
 * Operation, Info, Who, Version, Created, Path, the Tflock part), S3/STS error
 * messages, backend values, CI variables, git data (branches, subjects, file
 * names). Anyone who can write the bucket can write a lock body, so such text may
 * hold terminal escapes (ESC [2J, OSC titles, BEL), a CR that overwrites a line,
 * bidi overrides that make text read other than it is, invalid UTF-8, or a
 * newline followed by a CI runner's command ("::add-mask::", "::stop-commands::",
 * GitLab's "section_start:"). It is escaped where it leaves tflock — at the sink
 * (log.c's line writer, `status`, report.c's writers) — never earlier, and once.
 *
 * The base flavour, for a terminal or a log line (sanitize_text):
 *  - utf8_is_control() code points (C0 incl. \n \r \t, DEL, C1, bidi controls,
 *    U+2028/U+2029) become visible escapes: \n \r \t for those three, \xNN for
 *    the other ASCII controls (\x1b, \x07, \x7f), \uNNNN for the rest (\u009b,
 *    \u202e); each byte of invalid UTF-8 becomes \xNN (\xff). So the output holds
 *    no control byte at all, and no line break: it stays on its line.
 *  - the '[' of "##[" becomes \x5b (GitHub's runner honours the legacy
 *    "##[command]" form anywhere in a line); the bytes already in b count, so
 *    "#" followed by foreign "#[" is caught too.
 *  - a value whose start, after whitespace (as .NET's Trim sees it), is "::"
 *    gets its first ':' as \x3a: wherever a sink puts it at the start of a line,
 *    GitHub cannot read it as a workflow command. GitLab's section markers need
 *    ESC and CR ("\e[0Ksection_start:...\r\e[0K"), which never pass.
 *  - a backslash is kept as it is, not doubled. Decided so because human output
 *    is not meant to be decoded (it is also cut to a length): a literal "\x1b" in
 *    a lock body reads the same as an escaped ESC, and nothing depends on telling
 *    them apart; the exact strings are in `status --json` and the JSON report.
 *    In exchange the escaping is idempotent (sanitize_text of its own output with
 *    no limit changes nothing), so log.c can run every whole line through it as
 *    the last line of defence without escaping a field twice.
 *  - max > 0 limits the output to max visible characters (code points, an
 *    escape counting as its length); a longer value is cut between two input
 *    characters (never inside an escape or a UTF-8 sequence) and ends in "…".
 *
 * Other flavours build on the base flavour, so a control is shown the same way
 * everywhere:
 *  sanitize_workflow()  a GitHub workflow command ("::warning title=P::M"): the
 *                       base flavour, then % CR LF as %25 %0D %0A, in a property
 *                       also : , as %3A %2C. One line, one command.
 *  sanitize_markdown()  GitHub's step summary (Markdown with inline HTML): the
 *                       base flavour, then a backslash before each of
 *                       \ ` * _ [ ] < > | ~ & $ so that no value can open a tag,
 *                       an entity, a link, emphasis, math or a table cell.
 *  sanitize_heredoc()   one entry of a GitHub file command ($GITHUB_OUTPUT,
 *                       $GITHUB_ENV): "NAME<<ghadelimiter_TOKEN", the value in the
 *                       base flavour (one line), the delimiter. A newline in a value
 *                       can never end the entry and set another variable.
 *  JSON                 buf_add_json_string(b, s, 0) in buf.c (report, status
 *                       --json): exact, \u-escaped, decodes back to the original.
 *  sanitize_strip()     what tflock writes into a lock body (Info, Who, ...), which
 *                       other people's plain terraform shows raw: every
 *                       utf8_is_control() code point is removed, in place.
 *
 * Memory: the functions append to the caller's struct buf or write into the
 * caller's array; they keep nothing. NULL input is "". Pure: no clock, no
 * randomness, no environment (the heredoc token comes from the caller).
 */
#ifndef TFLOCK_SANITIZE_H
#define TFLOCK_SANITIZE_H

#include <stddef.h>

#include "buf.h"

/* Visible characters shown of one field in human output (ID, Who, Operation...). */
#define SANITIZE_FIELD_MAX 256
/* ... of a free-text field (Info, a reason), a sentence by design. */
#define SANITIZE_TEXT_MAX 1024

/* The base flavour: append s to b for a terminal or a log; max 0 is no limit. */
void sanitize_text(struct buf *b, const char *s, size_t max);

/* sanitize_text() into out[size] (always NUL-terminated when size > 0). When the
 * result does not fit, it is cut at a character boundary and ends in "…". */
void sanitize_to(char *out, size_t size, const char *s, size_t max);

/* A GitHub workflow command's message (property 0) or property value (1). */
void sanitize_workflow(struct buf *b, const char *s, int property);

/* Text for a GitHub step summary (Markdown); max as for sanitize_text(). */
void sanitize_markdown(struct buf *b, const char *s, size_t max);

/* "NAME<<ghadelimiter_TOKEN\nVALUE\nghadelimiter_TOKEN\n" appended to b, VALUE in
 * the base flavour. token: letters and digits, from the caller's random source.
 * Returns 0, or -1 (b unchanged) when the delimiter occurs in the name or in the
 * escaped value: call again with a new token. */
int sanitize_heredoc(struct buf *b, const char *name, const char *value, const char *token);

/* Remove every utf8_is_control() code point from s, in place (s may be NULL).
 * Invalid UTF-8 is kept: the lock-body writer turns it into U+FFFD as Go does. */
void sanitize_strip(char *s);
/* sanitize_strip() on each argument; the list ends at the first NULL. */
void sanitize_strip_all(char *s, ...) __attribute__((sentinel));

#endif
