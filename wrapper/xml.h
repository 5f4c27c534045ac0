/*
 * xml — the one small XML scanner: find an element, decode its text.
 *
 * For the short replies of S3 (error bodies) and STS (credentials, identity).
 * It is a hand-written scanner, not an XML parser: an element is found by the
 * exact name of its start tag ("<Name>", "<Name attr=...>", or the empty
 * "<Name/>"), searching the whole range in document order (at any depth; the
 * first start tag wins), with XML comments skipped; its content runs to the
 * first "</Name>" after the start tag. No namespaces, no CDATA, no nesting of
 * an element inside one of the same name. The five predefined entities and
 * numeric character references (&#65; &#x41;) are decoded; anything else is
 * kept as text.
 *
 * Ranges are [p, end) and need not be NUL-terminated; any input is safe
 * (empty, binary, truncated, huge). xml_find() and xml_entity() allocate
 * nothing; xml_text() and xml_decode() return malloc'd strings the caller
 * frees (with secure_free_str() when the text was a secret).
 */
#ifndef TFLOCK_XML_H
#define TFLOCK_XML_H

#include <stddef.h>
#include <stdint.h>

/*
 * The first element called name in [p, end). Returns 1 when its start tag is
 * there: *content is just after the start tag, *content_end the start of its
 * closing tag, content itself for an empty "<name/>", or NULL when there is no
 * closing tag (a truncated body). Returns 0 when there is no such start tag
 * (or an unclosed comment or start tag hides the rest).
 */
int xml_find(const char *p, const char *end, const char *name, const char **content,
             const char **content_end);

/*
 * The entity or character reference at p (which points at '&'): its length in
 * bytes with *cp set, or 0 when p starts none. A reference to something that is
 * not a character (0, a surrogate, above U+10FFFF) decodes to '?'. At most 8
 * digits.
 */
size_t xml_entity(const char *p, const char *end, uint32_t *cp);

/* [p, end) with entities decoded to UTF-8 and every other byte kept as it is
 * (tags too). malloc'd, never NULL. */
char *xml_decode(const char *p, const char *end);

/* The content of the first element name in [p, end) (see xml_find), without
 * the white space around it, decoded (see xml_decode). malloc'd; NULL when
 * there is no such element or it is not closed. */
char *xml_text(const char *p, const char *end, const char *name);

#endif
