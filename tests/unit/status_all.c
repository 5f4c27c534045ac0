/*
 * Unit tests for wrapper/status_all.c: which listed names are locks (the key
 * taxonomy of docs/PROTOCOL.md C, both for S3 keys and DynamoDB LockIDs), a
 * lock's state from its class, age and lease, and the listing's order. The
 * real gateway is exercised by tests/integration/status-all.sh.
 */
#include "lockinfo.h"
#include "status_all.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key_case {
	const char *name;
	int item, has_info;
	enum sa_key kind;
	const char *state; /* the state key P it belongs to */
};

static const struct key_case keys[] = {
	/* S3 keys */
	{ "env/prod.tfstate.tflock", 0, 0, SA_KEY_LOCK, "env/prod.tfstate" },
	{ "env/prod.tfstate", 0, 0, SA_KEY_OTHER, "" },
	{ "env/prod.tfstate.applied.tflock", 0, 0, SA_KEY_APPLIED, "env/prod.tfstate" },
	{ "env/prod.tfstate.1a2b3c4d.selftest.tflock", 0, 0, SA_KEY_SELFTEST, "env/prod.tfstate" },
	{ "env/prod.tfstate.queue.next.tflock", 0, 0, SA_KEY_QUEUE_NEXT, "env/prod.tfstate" },
	{ "env/prod.tfstate.queue.0000000000000042.tflock", 0, 0, SA_KEY_TICKET,
	  "env/prod.tfstate" },
	/* not exactly the other kinds: locks of the state before ".tflock" */
	{ "p.queue.000000000000042.tflock", 0, 0, SA_KEY_LOCK, "p.queue.000000000000042" },
	{ "p.queue.00000000000000042.tflock", 0, 0, SA_KEY_LOCK, "p.queue.00000000000000042" },
	{ "p.queue.000000000000004x.tflock", 0, 0, SA_KEY_LOCK, "p.queue.000000000000004x" },
	{ "p.1A2B3C4D.selftest.tflock", 0, 0, SA_KEY_LOCK, "p.1A2B3C4D.selftest" },
	{ "p.1a2b3c4.selftest.tflock", 0, 0, SA_KEY_LOCK, "p.1a2b3c4.selftest" },
	{ "p.1a2b3c4dd.selftest.tflock", 0, 0, SA_KEY_LOCK, "p.1a2b3c4dd.selftest" },
	{ "p.queue.Next.tflock", 0, 0, SA_KEY_LOCK, "p.queue.Next" },
	{ "p.applied2.tflock", 0, 0, SA_KEY_LOCK, "p.applied2" },
	{ "p.tflock.tflock", 0, 0, SA_KEY_LOCK, "p.tflock" },
	/* the suffixes with nothing before them: no P, so a lock of that name */
	{ ".applied.tflock", 0, 0, SA_KEY_LOCK, ".applied" },
	{ ".queue.next.tflock", 0, 0, SA_KEY_LOCK, ".queue.next" },
	{ ".queue.0000000000000001.tflock", 0, 0, SA_KEY_LOCK, ".queue.0000000000000001" },
	{ ".1a2b3c4d.selftest.tflock", 0, 0, SA_KEY_LOCK, ".1a2b3c4d.selftest" },
	{ ".tflock", 0, 0, SA_KEY_OTHER, "" },
	{ "tflock", 0, 0, SA_KEY_OTHER, "" },
	{ "p.TFLOCK", 0, 0, SA_KEY_OTHER, "" },
	{ "", 0, 0, SA_KEY_OTHER, "" },
	/* ambiguous by name: a state called "x.applied" has the lock name of x's
	 * marker; the name decides (status_all.h) */
	{ "x.applied.tflock", 0, 0, SA_KEY_APPLIED, "x" },
	/* the queue of a state whose own name looks like a ticket's */
	{ "a.queue.0000000000000001.queue.0000000000000002.tflock", 0, 0, SA_KEY_TICKET,
	  "a.queue.0000000000000001" },
	/* decoded keys: spaces, '+', unicode, a newline */
	{ "dir/a+b c\xc3\xa9.tfstate.tflock", 0, 0, SA_KEY_LOCK, "dir/a+b c\xc3\xa9.tfstate" },
	{ "x\ny.tflock", 0, 0, SA_KEY_LOCK, "x\ny" },
	/* DynamoDB LockIDs after "BUCKET/" */
	{ "env/prod.tfstate", 1, 1, SA_KEY_LOCK, "env/prod.tfstate" },
	{ "env/prod.tfstate", 1, 0, SA_KEY_LOCK, "env/prod.tfstate" },
	{ "env/prod.tfstate-md5", 1, 0, SA_KEY_DIGEST, "env/prod.tfstate" },
	{ "env/prod.tfstate-md5", 1, 1, SA_KEY_LOCK, "env/prod.tfstate-md5" },
	{ "env/prod.tfstate.1a2b3c4d.selftest.tflock", 1, 1, SA_KEY_SELFTEST, "env/prod.tfstate" },
	{ "env/prod.tfstate.applied.tflock", 1, 1, SA_KEY_LOCK, "env/prod.tfstate.applied.tflock" },
	{ "-md5", 1, 0, SA_KEY_LOCK, "-md5" },
	{ "", 1, 0, SA_KEY_OTHER, "" },
};

static void test_classify(void)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_case *k = &keys[i];
		size_t sl = 99;
		enum sa_key got = status_all_classify(k->name, k->item, k->has_info, &sl);
		char *state, shown[128];
		/* the name in the test's description, controls as '?' (one TAP line) */
		snprintf(shown, sizeof(shown), "%s", k->name);
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = '?';
		is_int(k->kind, got, "%s '%s'%s: kind", k->item ? "item" : "key", shown,
		       k->item && !k->has_info ? " (no Info)" : "");
		state = strndup(k->name, sl);
		is_string(k->state, state, "  its state key");
		free(state);
	}
}

static void test_state(void)
{
	is_int(SA_MALFORMED, status_all_state(LOCKINFO_MALFORMED, 0, 999999, 0), "malformed");
	is_int(SA_PLAIN, status_all_state(LOCKINFO_FOREIGN, 0, 999999, 0), "plain, however old");
	is_int(SA_PLAIN, status_all_state(LOCKINFO_FOREIGN, 0, -1, 0), "plain, age unknown");
	is_int(SA_LIVE, status_all_state(LOCKINFO_TFLOCK, 0, 0, 12000), "tflock, just written");
	is_int(SA_LIVE, status_all_state(LOCKINFO_TFLOCK, 0, 12000, 12000),
	       "tflock, exactly its lease: not yet");
	is_int(SA_LIKELY_STALE, status_all_state(LOCKINFO_TFLOCK, 0, 12001, 12000),
	       "tflock, past its lease: likely stale");
	is_int(SA_PARKED, status_all_state(LOCKINFO_TFLOCK, 1, 999999, 12000),
	       "parked: never likely stale, however old");
	is_int(SA_PLAIN, status_all_state(LOCKINFO_FOREIGN, 1, 0, 0),
	       "only a tflock lock is parked");
	is_int(SA_HELD_AGE_UNKNOWN, status_all_state(LOCKINFO_TFLOCK, 0, -1, 12000),
	       "tflock without a modification time (an item): no claim");
	is_string("likely stale", status_all_state_text(SA_LIKELY_STALE), "never just 'stale'");
	is_string("likely_stale", status_all_state_json(SA_LIKELY_STALE), "its JSON name");
	is_string("plain terraform", status_all_state_text(SA_PLAIN), "plain's text");
	is_string("held_age_unknown", status_all_state_json(SA_HELD_AGE_UNKNOWN), "unknown's JSON");
}

static int rank_cmp(const void *a, const void *b)
{
	return status_all_cmp(a, b);
}

static void test_order(void)
{
	/* given in a scrambled order; want the names in order a..i */
	struct sa_rank r[] = {
		{ SA_LIVE, 1000, 12000, "h" },
		{ SA_PLAIN, -1, 0, "f" },
		{ SA_LIKELY_STALE, 20000, 12000, "b" },
		{ SA_HELD_AGE_UNKNOWN, -1, 12000, "g" },
		{ SA_MALFORMED, 5, 0, "d" },
		{ SA_LIKELY_STALE, 50000, 45000, "c" }, /* older, but less overdue than b */
		{ SA_LIVE, 1000, 12000, "i" },          /* a tie: by name */
		{ SA_PLAIN, 86400000, 0, "e" },
		{ SA_LIKELY_STALE, 3600000, 120000, "a" },
	};
	const size_t n = sizeof(r) / sizeof(r[0]);
	char got[16] = "";
	qsort(r, n, sizeof(r[0]), rank_cmp);
	for (size_t i = 0; i < n; i++)
		got[i] = r[i].name[0];
	is_string("abcdefghi", got,
	          "stalest first: likely stale by how far past the lease, malformed, plain by "
	          "age (unknown last), age unknown, live; ties by name");
	is_int(0, status_all_cmp(&r[0], &r[0]), "a lock equals itself");
}

int main(void)
{
	plan_lazy();
	test_classify();
	test_state();
	test_order();
	return 0;
}
