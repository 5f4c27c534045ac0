/*
 * libFuzzer harness for wrapper/s3err.
 *
 * Build and run (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iwrapper -Itests -include config.h \
 *     tests/fuzz/fuzz_s3err.c wrapper/s3err.c -o fuzz_s3err
 *   mkdir -p /tmp/s3-new && ./fuzz_s3err -max_len=70000 /tmp/s3-new tests/fuzz/corpus/s3err
 * (the first directory receives new inputs; keep the seed directory read-only).
 * With -DFUZZ_STANDALONE (any compiler, no libFuzzer) it replays the files named
 * on the command line.
 *
 * Properties checked besides memory safety: every field NUL-terminated, valid UTF-8,
 * free of control characters and of leading/trailing spaces; the return value is 0
 * exactly when a code was found; s3err_describe() always gives one clean line, for
 * several statuses and buffer sizes (including 0 and 1).
 */
#include "s3err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_s3err: property violated: %s\n", what);
		abort();
	}
}

static void clean(const char *s, size_t size, int edges)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, size);
	check(n < size, "NUL-terminated");
	if (edges && n)
		check(s[0] != ' ' && s[n - 1] != ' ', "no leading or trailing space");
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t k = c < 0x80                 ? 1
		           : c >= 0xC2 && c <= 0xDF ? 2
		           : c >= 0xE0 && c <= 0xEF ? 3
		           : c >= 0xF0 && c <= 0xF4 ? 4
		                                    : 0;
		check(k && i + k <= n, "valid UTF-8 lead byte");
		for (size_t j = 1; j < k; j++)
			check((p[i + j] & 0xC0) == 0x80, "valid UTF-8 continuation");
		check(c >= 0x20 && c != 0x7F, "no C0 control or DEL");
		check(!(c == 0xC2 && p[i + 1] < 0xA0), "no C1 control");
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 0, 301, 403, 404, 412, 418, 500, 503, -1 };
	static const size_t sizes[] = { 0, 1, 2, 16, 80, 512 };
	struct s3err e;
	char line[512];
	int rc;

	rc = s3err_parse((const char *)data, size, &e);
	clean(e.code, sizeof(e.code), 1);
	clean(e.message, sizeof(e.message), 1);
	clean(e.request_id, sizeof(e.request_id), 1);
	clean(e.region, sizeof(e.region), 1);
	clean(e.endpoint, sizeof(e.endpoint), 1);
	check((rc == 0) == (e.code[0] != '\0'), "0 exactly when a code was found");

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			memset(line, 'Z', sizeof(line));
			const char *r =
			        s3err_describe(statuses[i], i % 2 ? &e : NULL, line, sizes[k]);
			check(r == line, "describe returns buf");
			if (sizes[k] == 0) {
				check(line[0] == 'Z', "size 0 writes nothing");
				continue;
			}
			clean(line, sizes[k], 0);
			check(sizes[k] == 1 || line[0] != '\0', "describe says something");
		}

	/* describe must also survive fields a caller filled without NUL */
	memcpy(e.code, data, size < sizeof(e.code) ? size : sizeof(e.code));
	memcpy(e.region, data, size < sizeof(e.region) ? size : sizeof(e.region));
	s3err_describe(403, &e, line, sizeof(line));
	clean(line, sizeof(line), 0);
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, n;
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		do {
			if (len == cap) {
				cap = cap ? cap * 2 : 4096;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact)
			abort();
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
		free(buf);
	}
	printf("fuzz_s3err: %d inputs replayed\n", argc - 1);
	return 0;
}
#endif
