/*
 * json — what tflock adds to cJSON for the files and replies it parses.
 *
 * json_delete_wiped() is the one way to drop a parsed tree that may hold a
 * secret (a backend state file's sse_customer_key, a credentials reply's keys
 * and tokens): every string in it is zeroed before cJSON frees it. It cannot
 * fail and allocates nothing; NULL is a no-op.
 */
#ifndef TFLOCK_JSON_H
#define TFLOCK_JSON_H

#include <cjson/cJSON.h>

/* Zero every string value of the tree j (member names are not secrets), then
 * cJSON_Delete() it. */
void json_delete_wiped(cJSON *j);

#endif
