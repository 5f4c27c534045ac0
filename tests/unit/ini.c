#include "ini.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(struct ini *ini, const char *text, struct tf_error *e)
{
	err_clear(e);
	return ini_parse(ini, text, strlen(text), "test.ini", e);
}

static const char *get(const struct ini *ini, const char *sec, const char *key)
{
	return ini_get(ini_section(ini, sec), key);
}

static void contains(const char *hay, const char *needle, const char *desc)
{
	if (!ok(hay && strstr(hay, needle) != NULL, "%s", desc))
		diag("wanted \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

int main(void)
{
	struct ini ini;
	struct tf_error e;
	char dir[] = "/tmp/tflock-ini-XXXXXX", path[256];
	FILE *f;

	plan_lazy();
	ini_init(&ini);

	/* basics */
	is_int(0,
	       parse(&ini,
	             "# a comment\n"
	             "; another\n"
	             "   # indented comment\n"
	             "\n"
	             "[default]\n"
	             "AWS_Access_Key_ID = AKIDEXAMPLE\n"
	             "aws_secret_access_key=wJalr/K7MDENG+bPxRfiCY=\n"
	             "region = us-west-2 # inline comment\n"
	             "output = json;semi\n"
	             "[ profile   dev ]\n"
	             "role_arn = arn:aws:iam::123456789012:role/dev\n"
	             "empty =\n",
	             &e),
	       "a typical config parses");
	is_int(2, (long long)ini.nsections, "two sections");
	is_string("AKIDEXAMPLE", get(&ini, "default", "aws_access_key_id"),
	          "keys are lowercased, values trimmed");
	is_string("AKIDEXAMPLE", get(&ini, "default", "AWS_ACCESS_KEY_ID"),
	          "lookups ignore key case");
	is_string("wJalr/K7MDENG+bPxRfiCY=", get(&ini, "default", "aws_secret_access_key"),
	          "'=' inside a value is kept, no spaces needed");
	is_string("us-west-2", get(&ini, "default", "region"), "'#' starts an inline comment");
	is_string("json", get(&ini, "default", "output"), "';' starts an inline comment");
	is_string("arn:aws:iam::123456789012:role/dev", get(&ini, "profile dev", "role_arn"),
	          "section name trimmed, inner spaces collapsed; ':' after '=' stays in the value");
	is_string("", get(&ini, "profile dev", "empty"), "an empty value is \"\"");
	ok(get(&ini, "profile dev", "missing") == NULL, "a missing key is NULL");
	ok(ini_section(&ini, "Default") == NULL, "section names are case-sensitive");
	ok(ini_section(&ini, "dev") == NULL, "\"profile dev\" is not \"dev\"");
	is_int(10, ini_section(&ini, "profile dev")->line, "a section remembers its line");

	/* quotes, escapes, legacy ':' separator, CRLF */
	is_int(0,
	       parse(&ini,
	             "[s]\r\n"
	             "a = \"quoted value\"\r\n"
	             "b = 'single'\r\n"
	             "c = \"\"\r\n"
	             "d = say \\\"hi\\\"\\nbye\r\n"
	             "e: colon value\r\n",
	             &e),
	       "CRLF file parses");
	is_string("quoted value", get(&ini, "s", "a"), "double quotes removed");
	is_string("single", get(&ini, "s", "b"), "single quotes removed");
	is_string("\"\"", get(&ini, "s", "c"), "a bare pair of quotes is kept (as the SDK)");
	is_string("say \"hi\"\nbye", get(&ini, "s", "d"), "\\\" and \\n are expanded");
	is_string("colon value", get(&ini, "s", "e"), "legacy ':' separator");

	/* sub-properties, continuations, duplicates, global properties */
	is_int(0,
	       parse(&ini,
	             "orphan = ignored\n"
	             "[s]\n"
	             "s3 =\n"
	             "  max_concurrent_requests = 20\n"
	             "  Addressing_Style = path\n"
	             "cmd = first\n"
	             "  second line\n"
	             "\tthird # kept\n"
	             "k = old\n"
	             "[t]\n"
	             "x = 1\n"
	             "[s]\n"
	             "k = new\n"
	             "[profile    spaced   name]\n"
	             "y = 2\n",
	             &e),
	       "nested and repeated content parses");
	ok(ini_section(&ini, "") == NULL && ini.nsections == 3,
	   "a property before any section is ignored; repeated sections merge");
	is_string("", get(&ini, "s", "s3"), "the parent of sub-properties stays empty");
	is_string("20", get(&ini, "s", "s3.max_concurrent_requests"), "sub-property stored as a.b");
	is_string("path", get(&ini, "s", "s3.addressing_style"), "sub-property keys lowercased");
	is_string("first\nsecond line\nthird # kept", get(&ini, "s", "cmd"),
	          "continuation lines are appended, comments in them kept");
	is_string("new", get(&ini, "s", "k"), "a later value wins across repeated sections");
	is_string("1", get(&ini, "t", "x"), "other sections unaffected");
	is_string("2", get(&ini, "profile spaced   name", "y"),
	          "only the first run of spaces is collapsed");

	/* errors */
	is_int(ERR_USAGE, parse(&ini, "[ok]\na = 1\ngarbage line\n", &e),
	       "a stray line is an error");
	contains(e.msg, "test.ini:3:", "the error names file and line");
	is_int(0, (long long)ini.nsections, "a failed parse leaves the ini empty");
	is_int(ERR_USAGE, parse(&ini, "[profile dev\nx = 1\n", &e),
	       "an unterminated section header is an error");
	contains(e.msg, "test.ini:1:", "... on line 1");
	is_int(ERR_USAGE, parse(&ini, "[]\n", &e), "an empty section name is an error");
	contains(e.msg, "empty section name", "... and says so");
	is_int(ERR_USAGE, parse(&ini, "[a] ; fine\n  \n[b]\nno separator here\n", &e),
	       "a property without '=' is an error");
	contains(e.msg, "test.ini:4:", "... on the right line");
	is_int(0, parse(&ini, "", &e), "an empty file is fine");
	is_int(0, (long long)ini.nsections, "... and has no sections");

	/* files */
	if (!mkdtemp(dir))
		bail("mkdtemp: cannot create a temporary directory");
	snprintf(path, sizeof(path), "%s/none", dir);
	err_clear(&e);
	is_int(ERR_NOT_FOUND, ini_load(&ini, path, &e), "a missing file is ERR_NOT_FOUND");
	err_clear(&e);
	is_int(ERR_SYSTEM, ini_load(&ini, dir, &e), "a directory is ERR_SYSTEM");
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	if (!f)
		bail("cannot write %s", path);
	fputs("[default]\nregion = eu-west-1\n", f);
	fclose(f);
	err_clear(&e);
	is_int(0, ini_load(&ini, path, &e), "a file loads");
	is_string("eu-west-1", get(&ini, "default", "region"), "... with its content");
	is_string(path, ini.path, "... and remembers its path");
	f = fopen(path, "w");
	if (!f)
		bail("cannot write %s", path);
	fputs("[default]\n\n\nbroken\n", f);
	fclose(f);
	err_clear(&e);
	is_int(ERR_USAGE, ini_load(&ini, path, &e), "a malformed file is ERR_USAGE");
	{
		char want[300];
		snprintf(want, sizeof(want), "%s:4:", path);
		contains(e.msg, want, "the message names the file path and line");
	}
	unlink(path);
	rmdir(dir);

	ini_free(&ini);
	ini_free(&ini);
	ini_free(NULL);
	ok(ini_section(NULL, "x") == NULL && ini_get(NULL, "x") == NULL,
	   "free twice, free NULL, lookups on NULL are safe");
	return 0;
}
