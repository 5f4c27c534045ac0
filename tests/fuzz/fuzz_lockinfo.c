/*
 * libFuzzer harness for wrapper/lockinfo.
 *
 * Build and run (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iwrapper -Itests -include config.h \
 *     tests/fuzz/fuzz_lockinfo.c wrapper/lockinfo.c wrapper/buf.c wrapper/error.c -lcrypto \
 *     -o fuzz_lockinfo
 *   mkdir -p /tmp/li-new && ./fuzz_lockinfo -max_len=65600 /tmp/li-new \
 *     tests/fuzz/corpus/lockinfo tests/corpus/lockinfo
 * (the first directory receives new inputs; keep the seed directories read-only).
 * With -DFUZZ_STANDALONE (any compiler, no libFuzzer) it replays the files named
 * on the command line, for valgrind or a plain sanitizer build.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks properties:
 *   - the class is one of the three, every string is set, valid UTF-8, err->msg is
 *     one printable line (non-empty exactly when the class is not TFLOCK);
 *   - a TFLOCK body written back by lockinfo_to_json() parses as TFLOCK with the
 *     same fields (what we read, we can write, and read again unchanged);
 *   - the input as a time string: when lockinfo_parse_time() accepts it, printing
 *     that instant and parsing it again gives the same instant.
 */
#include "lockinfo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		size_t k = c < 0x80                 ? 1
		           : c >= 0xC2 && c <= 0xDF ? 2
		           : c >= 0xE0 && c <= 0xEF ? 3
		           : c >= 0xF0 && c <= 0xF4 ? 4
		                                    : 0;
		if (!k)
			return 0;
		for (size_t i = 1; i < k; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
		    (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
			return 0;
		p += k;
	}
	return 1;
}

static int strings_ok(const struct lockinfo *li)
{
	const char *s[] = { li->id,         li->operation, li->info,     li->who,
		            li->version,    li->created,   li->path,     li->tf.host,
		            li->tf.boot_id, li->tf.ci,     li->tf.ci_job };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!s[i] || !valid_utf8(s[i]))
			return 0;
	return 1;
}

static int same(const struct lockinfo *a, const struct lockinfo *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->operation, b->operation) &&
	       !strcmp(a->info, b->info) && !strcmp(a->who, b->who) &&
	       !strcmp(a->version, b->version) && !strcmp(a->created, b->created) &&
	       !strcmp(a->path, b->path) && a->has_tflock == b->has_tflock && a->tf.v == b->tf.v &&
	       a->tf.lease == b->tf.lease && a->tf.seq == b->tf.seq && a->tf.pid == b->tf.pid &&
	       !strcmp(a->tf.host, b->tf.host) && !strcmp(a->tf.boot_id, b->tf.boot_id) &&
	       !strcmp(a->tf.ci, b->tf.ci) && !strcmp(a->tf.ci_job, b->tf.ci_job);
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_lockinfo: property violated: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lockinfo li, back;
	struct tf_error err;
	struct buf out;
	int cls;

	lockinfo_init(&li);
	lockinfo_init(&back);
	buf_init(&out);

	cls = lockinfo_parse((const char *)data, size, &li, &err);
	check(cls == LOCKINFO_TFLOCK || cls == LOCKINFO_FOREIGN || cls == LOCKINFO_MALFORMED,
	      "class in range");
	check(strings_ok(&li), "every string set and valid UTF-8");
	for (const char *p = err.msg; *p; p++)
		check((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F, "message printable");
	check((cls == LOCKINFO_TFLOCK) == (err.msg[0] == '\0'), "message iff not TFLOCK");

	if (cls == LOCKINFO_TFLOCK) {
		check(lockinfo_to_json(&li, &out) == 0, "a TFLOCK body can be written");
		check(lockinfo_parse(out.data, out.len, &back, &err) == LOCKINFO_TFLOCK,
		      "written TFLOCK body reads as TFLOCK");
		check(same(&li, &back), "written TFLOCK body reads back unchanged");
	}

	if (size < 64) {
		char s[64];
		struct timespec ts, ts2;
		char txt[48];
		memcpy(s, data, size);
		s[size] = '\0';
		if (lockinfo_parse_time(s, &ts) == 0) {
			check(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L, "nsec in range");
			lockinfo_format_created(&ts, txt);
			check(lockinfo_parse_time(txt, &ts2) == 0 && ts2.tv_sec == ts.tv_sec &&
			              ts2.tv_nsec == ts.tv_nsec,
			      "time reprinted reads back the same");
		}
	}

	lockinfo_free(&li);
	lockinfo_free(&back);
	buf_free(&out);
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		struct buf b;
		char chunk[8192];
		size_t n;
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		buf_init(&b);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
		/* an exact-size copy, so reading past the end is caught */
		uint8_t *exact = malloc(b.len ? b.len : 1);
		if (b.len)
			memcpy(exact, b.data, b.len);
		LLVMFuzzerTestOneInput(exact, b.len);
		free(exact);
		buf_free(&b);
	}
	printf("fuzz_lockinfo: %d inputs replayed\n", argc - 1);
	return 0;
}
#endif
