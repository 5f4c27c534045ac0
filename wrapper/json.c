/*
 * json — what tflock adds to cJSON. See json.h.
 */
#include "json.h"

#include <string.h>

#include "buf.h"

static void wipe(cJSON *n)
{
	for (; n; n = n->next) {
		if (n->valuestring)
			secure_zero(n->valuestring, strlen(n->valuestring));
		wipe(n->child);
	}
}

void json_delete_wiped(cJSON *j)
{
	wipe(j);
	cJSON_Delete(j);
}
