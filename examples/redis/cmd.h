/* examples/redis/cmd.h - the commands of the redis example: one parsed
 * request in, its RESP2 reply appended to an output buffer. */
#ifndef EXAMPLES_REDIS_CMD_H
#define EXAMPLES_REDIS_CMD_H
#include <stdbool.h>
#include "resp.h"
#include "store.h"

/* A growable reply buffer; the connection sends it when its input holds
 * no more complete requests (or when it passes OUT_FLUSH_AT). */
struct out {
	char *p;
	size_t len, cap;
	bool nomem;             /* an append failed: the connection closes */
};
#define OUT_FLUSH_AT (1u << 20)

void out_raw(struct out *o, const void *p, size_t n);
void out_error(struct out *o, const char *msg);   /* "-msg\r\n" */
void out_free(struct out *o);

/* Runs one request (argc >= 1). Returns false when the connection is to
 * close after the reply (QUIT). */
bool cmd_exec(struct store *st, const struct resp_cmd *c, struct out *o);
#endif
