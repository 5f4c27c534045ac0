#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct tf_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

int err_set(struct tf_error *e, int kind, const char *fmt, ...)
{
	va_list ap;
	if (!e)
		return kind;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return kind;
}

void err_prefix(struct tf_error *e, const char *fmt, ...)
{
	char pre[256], old[ERR_MSG_SIZE];
	va_list ap;
	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	{
		size_t pl = strlen(pre), ol = strlen(old), cap = sizeof(e->msg) - 1, n = 0;
		for (size_t i = 0; i < pl && n < cap; i++)
			e->msg[n++] = pre[i];
		for (size_t i = 0; i < 2 && n < cap; i++)
			e->msg[n++] = ": "[i];
		for (size_t i = 0; i < ol && n < cap; i++)
			e->msg[n++] = old[i];
		e->msg[n] = '\0';
	}
}
