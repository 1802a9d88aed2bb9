/* examples/http/http.c - an HTTP/1.1 server on weft, parsing with the
 * packaged http-parser (libhttp-parser-dev 2.9): keep-alive, pipelining,
 * Content-Length and chunked request bodies, HEAD, Expect: 100-continue,
 * static files from a directory (Content-Type, ETag / If-None-Match,
 * single byte ranges, bodies sent with weft_bytes_sendfile: splice), a
 * plaintext route for the bench, graceful shutdown on SIGTERM, and HTTPS
 * (weft/tls.h) when given a certificate and key.
 *
 *   http [--port P] [--root DIR] [--max-seconds N] [--max-body BYTES]
 *        [--header-timeout MS] [--idle-timeout MS] [--shutdown-ms MS]
 *        [--tls-cert CERT.pem --tls-key KEY.pem]
 *
 * Routes: GET/HEAD /plaintext -> "Hello, World!"; POST (any path) -> a
 * line "received N bytes, fnv1a XXXXXXXX" about the request body; GET/HEAD
 * of anything else -> the file under --root (404 without one).
 *
 * The connection handler works on a `weft_bytes *` (not a weft_stream):
 * plain TCP through weft_bytes_from_stream, or, with --tls-cert and
 * --tls-key, that stream wrapped in a TLS server stream (weft_tls_wrap,
 * ALPN "http/1.1"). Everything after the handshake is the same code; only
 * static files differ: over TLS weft_bytes_sendfile reads the file and
 * writes it through the TLS stream (no splice: the records are made in
 * user space). The handshake must end within --header-timeout; a failed
 * or timed-out handshake, and a TLS error later on, is logged on stderr
 * ("http: TLS 127.0.0.1:PORT: handshake: Protocol error (...)") and ends
 * that connection only.
 *
 * Memory per connection is bounded: a 16 KiB buffered reader, a 16 KiB
 * buffered writer, and the frame (about 5 KiB: the URL, up to 2 KiB, and
 * the few header values the server looks at are copied into fixed
 * buffers; other headers are only counted). Request headers over 8 KiB
 * get 431, URLs over 2 KiB 414, bodies over --max-body (1 MiB) 413, and
 * anything http-parser rejects 400; the connection is then closed. A
 * request's headers must arrive within --header-timeout (10 s) of its
 * first byte (else 408 and close), and a keep-alive connection is closed
 * after --idle-timeout (5 s) without a new request. Over TLS a connection
 * holds OpenSSL's session and record buffers besides (weft/tls.h: at most
 * 16 KiB received and 64 KiB produced in the stream itself).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <weft.h>

#define IO_BUF        (16u * 1024u)
#define MAX_URL       2048u
#define MAX_HEADERS   (8u * 1024u)
#define MAX_VALUE     256u
#define LINGER_BYTES  (4u * 1024u * 1024u)
#define LINGER_TIME   (2 * WEFT_SEC)

/* EXAMPLE_TLS: built with OpenSSL (the examples' meson.build sets it when
 * libweft has weft/tls.h's functions). */
#ifndef EXAMPLE_TLS
#define EXAMPLE_TLS 0
#endif

struct config {
	int root_fd;                  /* -1: no static files */
	char root_real[PATH_MAX];
	size_t max_body;
	weft_duration header_timeout, idle_timeout;
	struct weft_tls_ctx *tls;     /* NULL: plain HTTP */
};

/* Which request header the value callbacks are filling. */
enum hdr { H_OTHER, H_INM, H_RANGE, H_EXPECT };

struct conn {
	WEFT_ASYNC;
	weft_stream *s;               /* until wrapped in b */
	const struct config *cfg;
	weft_cancel_token *tok;       /* cancelled at shutdown */
	weft_bytes *b;
	weft_bufreader rd;
	weft_bufwriter wr;
	bool rd_ok, wr_ok, cw_ok, sel_ok, sf_ok;
	http_parser p;
	/* the fill in progress */
	weft_bufreader_fill fill;
	weft_timeout to;
	weft_cancel_wait cw;
	weft_branch br[2];
	weft_select sel;
	const char *data;
	size_t len, off;
	size_t lingered;              /* bytes discarded after an error */
	/* the request being parsed */
	bool in_req, hdrs_done, complete, keep, cont_sent;
	bool url_big, hdr_big, body_big, want_cont;
	weft_instant req_deadline;
	unsigned nreq;
	size_t url_len, hdr_bytes;
	char url[MAX_URL + 1];
	enum hdr cur;
	bool in_value;
	char field[32];
	size_t field_len;
	char inm[MAX_VALUE + 1], range[MAX_VALUE + 1], expect[MAX_VALUE + 1];
	size_t inm_len, range_len, expect_len;
	uint64_t body_len;
	uint32_t fnv;
	/* the response */
	char head[1024];
	size_t head_len;
	weft_bufwriter_write w;
	weft_bufwriter_flush fl;
	int file_fd;
	uint64_t file_off, file_len;
	weft_bytes_sendfile sf;
#if EXAMPLE_TLS
	weft_tls_handshake hs;
	char peer[64];                /* for the TLS error lines */
#endif
};

/* ------------------------------------------------- http-parser callbacks */

static struct conn *C(http_parser *p) { return p->data; }

static int on_begin(http_parser *p)
{
	struct conn *f = C(p);
	f->in_req = true;
	f->hdrs_done = f->complete = f->cont_sent = false;
	f->url_big = f->hdr_big = f->body_big = f->want_cont = false;
	f->url_len = f->hdr_bytes = f->field_len = 0;
	f->inm_len = f->range_len = f->expect_len = 0;
	f->cur = H_OTHER;
	f->in_value = false;
	f->body_len = 0;
	f->fnv = 2166136261u;
	f->req_deadline = weft_now() + f->cfg->header_timeout;
	return 0;
}

static int count_header(struct conn *f, size_t n)
{
	f->hdr_bytes += n;
	if (f->hdr_bytes > MAX_HEADERS) {
		f->hdr_big = true;
		return 1;
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct conn *f = C(p);
	if (f->url_len + n > MAX_URL) {
		f->url_big = true;
		return 1;
	}
	memcpy(f->url + f->url_len, at, n);
	f->url_len += n;
	f->url[f->url_len] = 0;
	return count_header(f, n);
}

static int on_field(http_parser *p, const char *at, size_t n)
{
	struct conn *f = C(p);
	if (f->in_value) {            /* a new header starts */
		f->in_value = false;
		f->field_len = 0;
	}
	if (f->field_len + n < sizeof(f->field)) {
		memcpy(f->field + f->field_len, at, n);
		f->field_len += n;
	} else {
		f->field_len = sizeof(f->field);   /* too long: not one of ours */
	}
	return count_header(f, n);
}

static void append(char *dst, size_t *len, const char *at, size_t n)
{
	if (*len + n > MAX_VALUE)
		n = MAX_VALUE - *len;
	memcpy(dst + *len, at, n);
	*len += n;
	dst[*len] = 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
	struct conn *f = C(p);
	if (!f->in_value) {
		size_t l = f->field_len;
		f->in_value = true;
		f->cur = H_OTHER;
		if (l == 13 && !strncasecmp(f->field, "If-None-Match", l))
			f->cur = H_INM;
		else if (l == 5 && !strncasecmp(f->field, "Range", l))
			f->cur = H_RANGE;
		else if (l == 6 && !strncasecmp(f->field, "Expect", l))
			f->cur = H_EXPECT;
	}
	if (f->cur == H_INM)
		append(f->inm, &f->inm_len, at, n);
	else if (f->cur == H_RANGE)
		append(f->range, &f->range_len, at, n);
	else if (f->cur == H_EXPECT)
		append(f->expect, &f->expect_len, at, n);
	return count_header(f, n);
}

static int on_headers_complete(http_parser *p)
{
	struct conn *f = C(p);
	f->hdrs_done = true;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > f->cfg->max_body) {
		f->body_big = true;
		return -1;            /* an error: 413 before the body is sent */
	}
	f->want_cont = f->expect_len == 12 &&
		       !strncasecmp(f->expect, "100-continue", 12);
	/* the body may come slowly; the header deadline no longer applies */
	f->req_deadline = weft_now() + 30 * WEFT_SEC;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct conn *f = C(p);
	f->body_len += n;
	if (f->body_len > f->cfg->max_body) {
		f->body_big = true;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		f->fnv = (f->fnv ^ (unsigned char)at[i]) * 16777619u;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct conn *f = C(p);
	f->complete = true;
	f->in_req = false;
	/* an Upgrade (or CONNECT) is answered as a plain request, and the
	 * connection closed: the bytes after it are not HTTP */
	f->keep = http_should_keep_alive(p) && !p->upgrade;
	http_parser_pause(p, 1);      /* answer it before parsing the next */
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

/* -------------------------------------------------------- the responses */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	default: return "Internal Server Error";
	}
}

/* Puts the status line and common headers into f->head; `extra` is more
 * header lines (each ending in \r\n); body (may be NULL) is appended
 * unless the request was HEAD. */
static void respond(struct conn *f, int status, const char *type,
		    uint64_t length, const char *extra, const char *body)
{
	int n = snprintf(f->head, sizeof(f->head),
			 "HTTP/1.1 %d %s\r\nServer: weft-example\r\n"
			 "Content-Type: %s\r\nContent-Length: %llu\r\n%s%s\r\n",
			 status, reason(status), type,
			 (unsigned long long)length, extra ? extra : "",
			 f->keep ? "" : "Connection: close\r\n");
	f->head_len = (size_t)n < sizeof(f->head) ? (size_t)n
						  : sizeof(f->head) - 1;
	if (body && f->p.method != HTTP_HEAD) {
		size_t bl = strlen(body);
		if (f->head_len + bl < sizeof(f->head)) {
			memcpy(f->head + f->head_len, body, bl);
			f->head_len += bl;
		}
	}
}

static void respond_error(struct conn *f, int status)
{
	char body[64];
	snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	respond(f, status, "text/plain", strlen(body), NULL, body);
}

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ "html", "text/html; charset=utf-8" },
		{ "htm", "text/html; charset=utf-8" },
		{ "txt", "text/plain; charset=utf-8" },
		{ "css", "text/css" },
		{ "js", "text/javascript" },
		{ "json", "application/json" },
		{ "png", "image/png" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },
		{ "svg", "image/svg+xml" },
		{ "ico", "image/x-icon" },
		{ "pdf", "application/pdf" },
		{ "wasm", "application/wasm" },
	};
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* The URL's path, percent-decoded, relative to the root (no leading /),
 * into out; -EACCES for a ".." segment or a NUL, -EINVAL if malformed. */
static int url_to_path(const char *url, char *out, size_t cap)
{
	size_t o = 0;
	if (*url != '/')
		return -EINVAL;
	while (*url == '/')
		url++;
	for (; *url && *url != '?' && *url != '#'; url++) {
		int c = (unsigned char)*url;
		if (c == '%') {
			int h = hexval(url[1]), l = h < 0 ? -1 : hexval(url[2]);
			if (l < 0)
				return -EINVAL;
			c = h * 16 + l;
			url += 2;
		}
		if (c == 0)
			return -EACCES;
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	out[o] = 0;
	for (char *seg = out; seg; ) {      /* reject any ".." segment */
		char *end = strchr(seg, '/');
		size_t l = end ? (size_t)(end - seg) : strlen(seg);
		if (l == 2 && seg[0] == '.' && seg[1] == '.')
			return -EACCES;
		seg = end ? end + 1 : NULL;
	}
	return 0;
}

/* Opens path beneath the root: openat2(RESOLVE_BENEATH) refuses any
 * escape (.., absolute symlinks, symlinks out of the root) with EXDEV;
 * where openat2 is missing, the opened file's real path must lie under
 * the root's. Blocking, but only a path lookup on local files. */
static int open_beneath(const struct config *cfg, const char *rel)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH |
					   RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, cfg->root_fd, *rel ? rel : ".", &how,
			  sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == EXDEV || errno == ELOOP)
		return -EACCES;
	if (errno != ENOSYS)
		return -errno;
	fd = openat(cfg->root_fd, *rel ? rel : ".", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char link[64], real[PATH_MAX];
	ssize_t n;
	size_t rl = strlen(cfg->root_real);
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0 || (real[n] = 0, strncmp(real, cfg->root_real, rl)) ||
	    (real[rl] != '/' && real[rl] != 0)) {
		close((int)fd);
		return -EACCES;
	}
	return (int)fd;
}

/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range: 1 with
 * *off, *len set, 0 to ignore the header (malformed, several ranges),
 * -1 when unsatisfiable. */
static int parse_range(const char *r, uint64_t size, uint64_t *off,
		       uint64_t *len)
{
	unsigned long long a = 0, b = 0;
	char *end;
	if (strncmp(r, "bytes=", 6) || strchr(r, ','))
		return 0;
	r += 6;
	if (*r == '-') {
		b = strtoull(r + 1, &end, 10);
		if (end == r + 1 || *end)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return 1;
	}
	if (*r < '0' || *r > '9')
		return 0;
	a = strtoull(r, &end, 10);
	if (*end != '-')
		return 0;
	r = end + 1;
	if (*r) {
		if (*r < '0' || *r > '9')
			return 0;
		b = strtoull(r, &end, 10);
		if (*end || b < a)
			return 0;
	} else {
		b = size ? size - 1 : 0;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/* A GET or HEAD for a file: sets the response head, and file_fd /
 * file_off / file_len when a body is to be sent. */
static void serve_file(struct conn *f)
{
	char rel[MAX_URL + 16], etag[64], extra[256];
	struct stat st;
	uint64_t off = 0, len;
	int fd, err, r = 0;

	if (f->cfg->root_fd < 0)
		{ respond_error(f, 404); return; }
	if ((err = url_to_path(f->url, rel, sizeof(rel) - 16)) < 0)
		{ respond_error(f, err == -EACCES ? 403 : 400); return; }
	if ((fd = open_beneath(f->cfg, rel)) < 0)
		{ respond_error(f, fd == -EACCES ? 403 : 404); return; }
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		strcat(rel, *rel ? "/index.html" : "index.html");
		if ((fd = open_beneath(f->cfg, rel)) < 0)
			{ respond_error(f, fd == -EACCES ? 403 : 404); return; }
		if (fstat(fd, &st) < 0) {
			close(fd);
			{ respond_error(f, 500); return; }
		}
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		{ respond_error(f, 403); return; }
	}
	len = (uint64_t)st.st_size;
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
		 (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtime);
	if (f->inm_len && (!strcmp(f->inm, etag) || !strcmp(f->inm, "*"))) {
		close(fd);
		snprintf(extra, sizeof(extra), "ETag: %s\r\n", etag);
		/* no body; Content-Length is the one a 200 would have */
		respond(f, 304, content_type(rel), len, extra, NULL);
		return;
	}
	if (f->range_len)
		r = parse_range(f->range, len, &off, &len);
	if (r < 0) {
		close(fd);
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\n",
			 (unsigned long long)st.st_size);
		respond(f, 416, "text/plain", 0, extra, NULL);
		return;
	}
	if (r > 0)
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nAccept-Ranges: bytes\r\n"
			 "Content-Range: bytes %llu-%llu/%llu\r\n", etag,
			 (unsigned long long)off,
			 (unsigned long long)(off + len - 1),
			 (unsigned long long)st.st_size);
	else
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nAccept-Ranges: bytes\r\n", etag);
	respond(f, r > 0 ? 206 : 200, content_type(rel), len, extra, NULL);
	if (f->p.method == HTTP_HEAD || len == 0) {
		close(fd);
		return;
	}
	f->file_fd = fd;
	f->file_off = off;
	f->file_len = len;
}

/* Builds the response to the complete request in f. */
static void route(struct conn *f)
{
	unsigned m = f->p.method;
	if (weft_cancel_is_cancelled(f->tok))
		f->keep = false;      /* shutting down: last answer */
	if (m == HTTP_POST || m == HTTP_PUT) {
		char body[96];
		snprintf(body, sizeof(body), "received %llu bytes, fnv1a %08x\n",
			 (unsigned long long)f->body_len, (unsigned)f->fnv);
		respond(f, 200, "text/plain", strlen(body), NULL, body);
	} else if (m != HTTP_GET && m != HTTP_HEAD) {
		respond(f, 405, "text/plain", 0, "Allow: GET, HEAD, POST\r\n",
			NULL);
	} else if (!strcmp(f->url, "/plaintext")) {
		respond(f, 200, "text/plain", 13, NULL, "Hello, World!");
	} else {
		serve_file(f);
	}
}

/* ------------------------------------------------------ the connection */

#if EXAMPLE_TLS
/* One line on stderr about a TLS connection's failure: the peer, what
 * failed, the errno and OpenSSL's reason when there is one. */
static void tls_log(struct conn *f, const char *what, intptr_t err)
{
	const char *why = f->b ? weft_tls_error(f->b) : "";
	fprintf(stderr, "http: TLS %s: %s: %s%s%s%s\n", f->peer, what,
		strerror((int)-err), *why ? " (" : "", why, *why ? ")" : "");
}
#endif

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->file_fd = -1;
#if EXAMPLE_TLS
	if (f->cfg->tls) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN] = "?";
		if (weft_stream_peer_addr(f->s, &ss, &sl) == 0 &&
		    ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(f->peer, sizeof(f->peer), "%s:%u", ip,
			 ss.ss_family == AF_INET ? ntohs(in->sin_port) : 0u);
	}
#endif
	if (weft_bytes_from_stream(&f->b, f->s) < 0)
		WEFT_RETURN(-ENOMEM);
	f->s = NULL;
	weft_cancel_wait_init(&f->cw, f->tok);
	f->cw_ok = true;
#if EXAMPLE_TLS
	if (f->cfg->tls) {
		/* HTTPS: the TLS stream takes over the TCP one; the handshake
		 * runs here, under the header deadline, so that a client that
		 * stops half-way (or sends garbage) is cut off and logged */
		weft_bytes *t;
		if (weft_tls_wrap(&t, f->cfg->tls, f->b) < 0)
			WEFT_RETURN(-ENOMEM);
		f->b = t;
		weft_tls_handshake_init(&f->hs, f->b);
		weft_timeout_init(&f->to, WEFT_BRANCH(weft_tls_handshake, &f->hs),
				  f->cfg->header_timeout);
		f->sel_ok = true;
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
			WEFT_BRANCH(weft_timeout, &f->to),
			WEFT_BRANCH_KEEP(weft_cancel_wait, &f->cw));
		if (f->sel.res == 1)
			goto out;     /* shutdown during the handshake */
		if (f->to.timed_out || f->hs.res < 0) {
			tls_log(f, "handshake", f->to.timed_out ? -ETIMEDOUT
							       : f->hs.res);
			goto out;
		}
	}
#endif
	if (weft_bufreader_init(&f->rd, f->b, IO_BUF) < 0)
		WEFT_RETURN(-ENOMEM);
	f->rd_ok = true;
	if (weft_bufwriter_init(&f->wr, f->b, IO_BUF) < 0)
		WEFT_RETURN(-ENOMEM);
	f->wr_ok = true;
	http_parser_init(&f->p, HTTP_REQUEST);
	f->p.data = f;
	for (;;) {
		/* wait for bytes: idle (between requests: the idle timeout,
		 * or the header timeout before the first; shutdown ends it)
		 * or inside a request (its deadline) */
		weft_bufreader_fill_init(&f->fill, &f->rd);
		f->sel_ok = true;
		if (!f->in_req) {
			if (weft_cancel_is_cancelled(f->tok))
				break;
			weft_timeout_init(&f->to,
				WEFT_BRANCH(weft_bufreader_fill, &f->fill),
				f->nreq ? f->cfg->idle_timeout
					: f->cfg->header_timeout);
			WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				WEFT_BRANCH(weft_timeout, &f->to),
				WEFT_BRANCH_KEEP(weft_cancel_wait, &f->cw));
			if (f->sel.res == 1)
				break;        /* shutdown while idle */
		} else {
			weft_instant now = weft_now();
			weft_timeout_init(&f->to,
				WEFT_BRANCH(weft_bufreader_fill, &f->fill),
				f->req_deadline > now ? f->req_deadline - now : 0);
			WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				WEFT_BRANCH(weft_timeout, &f->to));
		}
		if (f->to.timed_out) {
			if (!f->in_req)
				break;
			f->keep = false;
			respond_error(f, 408);
			goto answer_and_close;
		}
		if (f->fill.res <= 0) {
#if EXAMPLE_TLS
			/* a client that closes between requests without
			 * close_notify (many do) is not worth a line */
			if (f->fill.res < 0 && f->cfg->tls &&
			    (f->in_req || f->fill.res != -ECONNRESET))
				tls_log(f, "read", f->fill.res);
#endif
			break;        /* end of stream or error */
		}
		f->data = f->fill.data;
		f->len = (size_t)f->fill.res;
		f->off = 0;
		while (f->off < f->len) {
			size_t n = http_parser_execute(&f->p, &settings,
						       f->data + f->off,
						       f->len - f->off);
			f->off += n;
			if (HTTP_PARSER_ERRNO(&f->p) == HPE_PAUSED) {
				http_parser_pause(&f->p, 0);
				f->nreq++;
				route(f);
				WEFT_AWAIT_INIT(weft_bufwriter_write, &f->w,
						&f->wr, f->head, f->head_len);
				if (f->w.res < 0)
					goto out;
				if (f->file_fd >= 0) {
					weft_bufwriter_flush_init(&f->fl, &f->wr);
					WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
					if (f->fl.res < 0)
						goto out;
					f->sf_ok = true;
					WEFT_AWAIT_INIT(weft_bytes_sendfile, &f->sf,
							f->file_fd, f->file_off,
							f->file_len, f->b);
					close(f->file_fd);
					f->file_fd = -1;
					if (f->sf.res < 0 ||
					    (uint64_t)f->sf.res != f->file_len)
						goto out;
				}
				if (!f->keep)
					goto close;
			} else if (HTTP_PARSER_ERRNO(&f->p) != HPE_OK || n == 0) {
				f->keep = false;
				respond_error(f, f->body_big ? 413 :
						 f->url_big ? 414 :
						 f->hdr_big ? 431 : 400);
				goto answer_and_close;
			}
		}
		weft_bufreader_consume(&f->rd, f->len);
		if (f->in_req && f->want_cont && !f->cont_sent) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			f->cont_sent = true;
			WEFT_AWAIT_INIT(weft_bufwriter_write, &f->w, &f->wr,
					cont, sizeof(cont) - 1);
			if (f->w.res < 0)
				goto out;
		}
		/* input drained: send the answers coalesced so far */
		if (weft_bufwriter_buffered(&f->wr)) {
			weft_bufwriter_flush_init(&f->fl, &f->wr);
			WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
			if (f->fl.res < 0)
				goto out;
		}
	}
	goto close;
answer_and_close:
	WEFT_AWAIT_INIT(weft_bufwriter_write, &f->w, &f->wr, f->head,
			f->head_len);
	weft_bufwriter_shutdown_init(&f->fl, &f->wr);
	WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
	/* lingering close: the client may still be sending (a body over the
	 * limit); closing with its bytes unread would reset the connection
	 * and could destroy the answer before the client reads it. Read and
	 * discard until it closes, at most LINGER_BYTES or LINGER_TIME in all. */
	f->lingered = 0;
	f->req_deadline = weft_now() + LINGER_TIME;
	while (f->fl.res == 0 && f->lingered < LINGER_BYTES) {
		weft_instant now = weft_now();
		if (now >= f->req_deadline)
			break;
		weft_bufreader_fill_init(&f->fill, &f->rd);
		weft_timeout_init(&f->to,
				  WEFT_BRANCH(weft_bufreader_fill, &f->fill),
				  f->req_deadline - now);
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				  WEFT_BRANCH(weft_timeout, &f->to));
		if (f->to.timed_out || f->fill.res <= 0)
			break;
		f->lingered += (size_t)f->fill.res;
		weft_bufreader_consume(&f->rd, (size_t)f->fill.res);
	}
	goto out;
close:
	weft_bufwriter_shutdown_init(&f->fl, &f->wr);
	WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
out:
	WEFT_END();
}

static void conn_drop(struct conn *f)
{
	if (f->sel_ok)
		weft_select_drop(&f->sel);
	if (f->cw_ok)
		weft_cancel_wait_drop(&f->cw);
	if (f->sf_ok)
		weft_bytes_sendfile_drop(&f->sf);
	weft_bufwriter_write_drop(&f->w);
	weft_bufwriter_flush_drop(&f->fl);
	if (f->file_fd >= 0)
		close(f->file_fd);
	f->file_fd = -1;
	if (f->rd_ok)
		weft_bufreader_destroy(&f->rd);
	if (f->wr_ok)
		weft_bufwriter_destroy(&f->wr);
	f->rd_ok = f->wr_ok = f->sel_ok = f->cw_ok = f->sf_ok = false;
	weft_bytes_drop(f->b);
	f->b = NULL;
	weft_stream_drop(f->s);
	f->s = NULL;
	weft_cancel_drop(f->tok);
	f->tok = NULL;
}

WEFT_FUTURE(conn, struct conn, conn_drop);

/* ------------------------------------------------------------ the server */

struct server {
	WEFT_ASYNC;                   /* res: 0, or a setup error */
	unsigned short port;
	unsigned max_seconds;         /* 0: until a signal */
	weft_duration shutdown;
	const struct config *cfg;
	weft_listener *l;
	weft_signal *sig;
	weft_tracker *tr;
	weft_cancel_token *tok;
	weft_listener_accept acc;
	weft_signal_recv stop;        /* kept across the selects */
	weft_sleep limit_sleep;       /* kept too */
	weft_branch br[3];
	weft_select sel;
	weft_tracker_wait done;
	weft_timeout limit;
	bool started;
};

static int server_setup(struct server *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	sigset_t set;
	int err;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(f->port);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if ((err = weft_tcp_listen(&f->l, (struct sockaddr *)&a, sizeof(a),
				   NULL)) ||
	    (err = weft_signal_create(&f->sig, &set)) ||
	    (err = weft_tracker_create(&f->tr, NULL)) ||
	    (err = weft_cancel_create(&f->tok)) ||
	    (err = weft_listener_local_addr(f->l, &ss, &len)))
		return err;
	printf("listening on 127.0.0.1:%u%s\n",
	       ntohs(((struct sockaddr_in *)&ss)->sin_port),
	       f->cfg->tls ? " (https)" : "");
	fflush(stdout);
	return 0;
}

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if ((f->res = server_setup(f)) < 0)
		WEFT_RETURN(f->res);
	f->started = true;
	weft_signal_recv_init(&f->stop, f->sig);
	weft_sleep_init(&f->limit_sleep, f->max_seconds
			? (weft_duration)f->max_seconds * WEFT_SEC
			: (weft_duration)365 * 24 * 3600 * WEFT_SEC);
	for (;;) {
		weft_listener_accept_init(&f->acc, f->l);
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				  WEFT_BRANCH(weft_listener_accept, &f->acc),
				  WEFT_BRANCH_KEEP(weft_signal_recv, &f->stop),
				  WEFT_BRANCH_KEEP(weft_sleep, &f->limit_sleep));
		if (f->sel.res != 0)
			break;
		if (f->acc.res < 0)
			continue;     /* EMFILE and friends: the listener backs off */
		/* a response goes in more than one send (head, then the
		 * file): without NODELAY the second waits for the client's
		 * delayed ACK, 40 ms per keep-alive request (issue 16's abuse
		 * run: 20 requests a second on one connection) */
		weft_tcp_set_nodelay(f->acc.stream, true);
		if (WEFT_TRACKER_SPAWN(f->tr, conn, NULL,
				       { .s = f->acc.stream, .cfg = f->cfg,
					 .tok = weft_cancel_clone(f->tok) })) {
			weft_stream_drop(f->acc.stream);
			weft_cancel_drop(f->tok);   /* the clone */
		}
	}
	weft_listener_drop(f->l);     /* new clients are refused from here */
	f->l = NULL;
	printf("%s: stopped accepting, %zu connection(s) in flight\n",
	       f->sel.res == 2 ? "max-seconds" :
	       f->stop.res == SIGINT ? "SIGINT" : "SIGTERM",
	       weft_tracker_len(f->tr));
	fflush(stdout);
	weft_cancel(f->tok);          /* idle keep-alive connections close */
	weft_tracker_close(f->tr);
	weft_tracker_wait_init(&f->done, f->tr);
	weft_timeout_init(&f->limit, WEFT_BRANCH(weft_tracker_wait, &f->done),
			  f->shutdown);
	WEFT_AWAIT_ON(weft_timeout, &f->limit);
	if (f->limit.timed_out)
		printf("deadline passed: %zu connection(s) cut off\n",
		       weft_tracker_len(f->tr));
	else
		printf("all connections finished\n");
	fflush(stdout);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	if (f->started) {
		weft_signal_recv_drop(&f->stop);
		weft_sleep_drop(&f->limit_sleep);
		weft_timeout_drop(&f->limit);
		f->started = false;
	}
	weft_listener_drop(f->l);
	f->l = NULL;
	weft_signal_destroy(f->sig);
	f->sig = NULL;
}

WEFT_FUTURE(server, struct server, server_drop);

static void usage(void)
{
	fprintf(stderr, "usage: http [--port P] [--root DIR] [--max-seconds N]"
		" [--max-body BYTES] [--header-timeout MS] [--idle-timeout MS]"
		" [--shutdown-ms MS] [--tls-cert CERT --tls-key KEY]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct config cfg = { .root_fd = -1, .max_body = 1u << 20,
				     .header_timeout = 10 * WEFT_SEC,
				     .idle_timeout = 5 * WEFT_SEC };
	struct server srv = { .shutdown = 5 * WEFT_SEC, .cfg = &cfg };
	weft_rt *rt;
	const char *cert = NULL, *key = NULL;
	int ret;

	/* first, before any thread exists: the signals go to the stream */
	weft_signal_block(NULL);
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(argv[i], "--port"))
			srv.port = (unsigned short)atoi(v);
		else if (!strcmp(argv[i], "--max-seconds"))
			srv.max_seconds = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "--shutdown-ms"))
			srv.shutdown = (weft_duration)atoll(v) * WEFT_MS;
		else if (!strcmp(argv[i], "--max-body"))
			cfg.max_body = (size_t)atoll(v);
		else if (!strcmp(argv[i], "--header-timeout"))
			cfg.header_timeout = (weft_duration)atoll(v) * WEFT_MS;
		else if (!strcmp(argv[i], "--idle-timeout"))
			cfg.idle_timeout = (weft_duration)atoll(v) * WEFT_MS;
		else if (!strcmp(argv[i], "--tls-cert"))
			cert = v;
		else if (!strcmp(argv[i], "--tls-key"))
			key = v;
		else if (!strcmp(argv[i], "--root")) {
			cfg.root_fd = open(v, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (cfg.root_fd < 0 || !realpath(v, cfg.root_real)) {
				perror(v);
				return 1;
			}
		} else
			usage();
	}
	if (!cert != !key)
		usage();
	if (cert) {
#if EXAMPLE_TLS
		weft_tls_config tc = { .server = true, .cert_file = cert,
				       .key_file = key, .alpn = "http/1.1" };
		int err = weft_tls_ctx_create(&cfg.tls, &tc);
		if (err < 0) {
			fprintf(stderr, "http: %s / %s: %s\n", cert, key,
				strerror(-err));
			return 1;
		}
#else
		fprintf(stderr, "http: built without TLS (OpenSSL 3)\n");
		return 1;
#endif
	}
	if (weft_rt_create(&rt, NULL)) {
		fprintf(stderr, "runtime: %s\n", weft_rt_create_error());
		return 1;
	}
	ret = WEFT_BLOCK_ON(rt, server, &srv);
	if (ret == 0 && srv.res < 0)
		fprintf(stderr, "server: %s\n", strerror((int)-srv.res));
	server_drop(&srv);
	/* cancels the connections cut off at the deadline */
	weft_rt_destroy(rt);
	weft_tracker_destroy(srv.tr);
	weft_cancel_drop(srv.tok);
	if (cfg.root_fd >= 0)
		close(cfg.root_fd);
#if EXAMPLE_TLS
	weft_tls_ctx_destroy(cfg.tls);
#endif
	return ret || srv.res < 0;
}
