/* examples/redis/resp.h - a RESP2 request parser (the Redis protocol), as
 * redis-server reads requests: multibulk ("*N\r\n$len\r\nbytes\r\n"...)
 * and inline ("PING\r\n", words split on blanks). Pure: no I/O, no
 * allocation but the argument vector, so the fuzz harness
 * (fuzz/resp.c) drives it directly.
 *
 * Bounds: at most max_args arguments (default 1M, as redis), each bulk at
 * most max_bulk bytes (default 512 MiB, configurable lower), an inline
 * request or a "*N" / "$N" header line at most RESP_MAX_INLINE bytes
 * (64 KiB, as redis). Beyond a bound the request is a protocol error: the
 * caller replies the error and closes the connection, as redis does.
 */
#ifndef EXAMPLES_REDIS_RESP_H
#define EXAMPLES_REDIS_RESP_H
#include <stddef.h>

#define RESP_MAX_INLINE (64u * 1024u)
#define RESP_DEFAULT_MAX_BULK (512u * 1024u * 1024u)
#define RESP_DEFAULT_MAX_ARGS (1024u * 1024u)

struct resp_arg {
	const char *p;     /* inside the caller's buffer */
	size_t len;
};

/* One parsed request: argv points into the input buffer, valid until the
 * buffer changes. The vector grows as needed (up to max_args). */
struct resp_cmd {
	struct resp_arg *argv;
	size_t argc, cap;
	size_t max_bulk, max_args;   /* 0: the defaults */
};

enum { RESP_INCOMPLETE = 0, RESP_ERROR = -1, RESP_NOMEM = -2 };

/* Parses one request from buf[0, len). Returns the bytes it took (> 0:
 * cmd->argv/argc hold it; argc may be 0 for an empty request, which the
 * caller skips), RESP_INCOMPLETE (read more; *need, when not NULL, is the
 * total length the request needs when known, else 0), RESP_ERROR (*err is
 * the error reply line without "-" and CRLF, e.g. "ERR Protocol error:
 * invalid bulk length") or RESP_NOMEM. */
long resp_parse(struct resp_cmd *cmd, const char *buf, size_t len,
		size_t *need, const char **err);
void resp_cmd_free(struct resp_cmd *cmd);

#endif
