/*
 * jsonget FILE [PATH] — validate a JSON document and print one value.
 * PATH is dot-separated keys and array indexes ("child.exit_code",
 * "holders_seen.0.who"). Strings print raw, other values as JSON.
 * Exit 0 ok, 1 not valid JSON, 2 no such path, 3 usage or I/O error.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	FILE *f;
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	cJSON *root, *cur;
	char chunk[4096];

	if (argc < 2 || argc > 3) {
		fputs("usage: jsonget FILE [PATH]\n", stderr);
		return 3;
	}
	f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
	if (!f) {
		perror(argv[1]);
		return 3;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			char *grown;
			cap = (len + n + 1) * 2;
			grown = realloc(data, cap);
			if (!grown) {
				free(data);
				return 3;
			}
			data = grown;
		}
		memcpy(data + len, chunk, n);
		len += n;
	}
	if (f != stdin)
		fclose(f);
	root = cJSON_ParseWithLength(data ? data : "", len);
	if (!root) {
		fputs("jsonget: not valid JSON\n", stderr);
		free(data);
		return 1;
	}
	cur = root;
	if (argc == 3) {
		char *path = strdup(argv[2]), *tok, *save = NULL;
		if (!path) {
			fputs("jsonget: out of memory\n", stderr);
			return 3;
		}
		for (tok = strtok_r(path, ".", &save); tok && cur;
		     tok = strtok_r(NULL, ".", &save)) {
			if (cJSON_IsArray(cur) && isdigit((unsigned char)tok[0]))
				cur = cJSON_GetArrayItem(cur, atoi(tok));
			else
				cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
		}
		free(path);
		if (!cur) {
			/* freed first: under ASan a leak would turn this exit into
			 * LeakSanitizer's 1, which reads as "not valid JSON" */
			fprintf(stderr, "jsonget: no %s\n", argv[2]);
			cJSON_Delete(root);
			free(data);
			return 2;
		}
	}
	if (cJSON_IsString(cur)) {
		puts(cur->valuestring);
	} else {
		char *s = cJSON_PrintUnformatted(cur);
		puts(s);
		free(s);
	}
	cJSON_Delete(root);
	free(data);
	return 0;
}
