/*
 * record.c — what every record kind shares (record.h): replies, lists, freeing.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

void record_reply_init(struct record_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	buf_init(&rep->body);
}

void record_reply_free(struct record_reply *rep)
{
	if (!rep)
		return;
	buf_free(&rep->body);
	record_reply_init(rep);
}

void record_list_free(struct record_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->versions[i]);
	}
	free(l->names);
	free(l->versions);
	free(l->sizes);
	free(l->modified_ms);
	memset(l, 0, sizeof(*l));
}

void record_free(struct record *r)
{
	if (!r)
		return;
	if (r->ops && r->ops->free)
		r->ops->free(r);
	free(r->name);
	free(r);
}
