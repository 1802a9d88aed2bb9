/* test/io/tls.c - TLS byte streams (weft/tls.h) over a duplex pair, with
 * certificates `openssl req` makes in a temporary directory: 1 MiB each
 * way with a reader and a writer task per side on two workers (ALPN, SNI
 * and the peer's subject checked, close_notify gives end of stream); a
 * client verifying against another CA gets -EKEYREJECTED with a reason;
 * a peer that stops mid-handshake gives -ECONNRESET; garbage gives
 * -EPROTO; the handshake future on a non-TLS stream gives -EINVAL; over
 * TCP loopback, a TLS echo server returns 1 MiB intact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sync/harness.h"
#include "../reactor/helpers.h"
#include "bytes_tasks.h"

static char dir[64];
static char cert[128], key[128], other[128], okey[128];

static void certs(void)
{
	char cmd[1024];

	snprintf(dir, sizeof(dir), "/tmp/weft-tls-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	snprintf(okey, sizeof(okey), "%s/okey.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
		 " -nodes -days 1 -subj /CN=localhost"
		 " -addext subjectAltName=DNS:localhost"
		 " -keyout %s -out %s 2>/dev/null &&"
		 " openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
		 " -nodes -days 1 -subj /CN=localhost"
		 " -addext subjectAltName=DNS:localhost"
		 " -keyout %s -out %s 2>/dev/null",
		 key, cert, okey, other);
	cr_assert_eq(system(cmd), 0, "openssl req");
}

static void rmcerts(void)
{
	unlink(cert);
	unlink(key);
	unlink(other);
	unlink(okey);
	rmdir(dir);
}

/* Each test makes its own certificates and removes them at its end (the
 * TSan shim has no suite fixtures). */
#define TLS_TEST(name) \
	static void name##_body(void); \
	Test(tls, name) { certs(); name##_body(); rmcerts(); } \
	static void name##_body(void)

static weft_tls_ctx *server_ctx(const char *alpn)
{
	weft_tls_ctx *c;
	weft_tls_config cfg = { .server = true, .cert_file = cert,
				.key_file = key, .alpn = alpn };

	cr_assert_eq(weft_tls_ctx_create(&c, &cfg), 0);
	return c;
}

static weft_tls_ctx *client_ctx(const char *ca, const char *alpn)
{
	weft_tls_ctx *c;
	weft_tls_config cfg = { .ca_file = ca, .alpn = alpn,
				.server_name = "localhost" };

	cr_assert_eq(weft_tls_ctx_create(&c, &cfg), 0);
	return c;
}

struct hs {
	WEFT_ASYNC;
	weft_bytes *b;
	weft_tls_handshake h;
};

static weft_poll hs_poll(struct hs *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tls_handshake, &f->h, f->b);
	WEFT_RETURN(f->h.res);
	WEFT_END();
}

WEFT_FUTURE(hs, struct hs, WEFT_NO_DROP);

/* a raw peer: writes `len` bytes then shuts down, then reads to the end */
struct raw {
	WEFT_ASYNC;
	weft_bytes *b;
	const void *data;
	size_t len;
	weft_bytes_write w;
	weft_bytes_flush f;
	weft_bytes_read r;
	unsigned char buf[4096];
};

static weft_poll raw_poll(struct raw *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_bytes_write_all_init(&f->w, f->b, f->data, f->len);
	WEFT_AWAIT_ON(weft_bytes_write, &f->w);
	weft_bytes_shutdown_init(&f->f, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	do {
		WEFT_AWAIT_INIT(weft_bytes_read, &f->r, f->b, f->buf,
				sizeof(f->buf));
	} while (f->r.res > 0);
	WEFT_RETURN(0);
	WEFT_END();
}

WEFT_FUTURE(raw, struct raw, WEFT_NO_DROP);

#define MIB (1u << 20)

TLS_TEST(duplex_1mib_both_ways)
{
	weft_rt *rt = test_rt(2);
	weft_tls_ctx *sc = server_ctx("h2,http/1.1");
	weft_tls_ctx *cc = client_ctx(cert, "http/1.1");
	weft_bytes *a, *b, *c, *s;
	weft_join *jw[2], *jr[2], *jh;
	char subj[128];

	cr_assert_eq(weft_bytes_duplex(&a, &b, 4096), 0);
	cr_assert_eq(weft_tls_wrap(&c, cc, a), 0);
	cr_assert_eq(weft_tls_wrap(&s, sc, b), 0);
	weft_tls_ctx_destroy(sc);   /* the streams keep their contexts */
	weft_tls_ctx_destroy(cc);
	cr_assert_str_eq(c->vt->name, "tls");
	cr_assert_eq(WEFT_SPAWN(rt, hs, &jh, { .b = s }), 0);
	/* the client's handshake runs inside its first write and read */
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw[0],
				{ .b = c, .seed = 1, .len = MIB, .shut = true }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr[0], { .b = c, .seed = 2 }),
		     0);
	cr_assert_eq(test_join(rt, jh), 0, "server handshake");
	cr_assert_str_eq(weft_tls_alpn(s), "http/1.1");
	cr_assert_str_eq(weft_tls_server_name(s), "localhost", "SNI seen");
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw[1],
				{ .b = s, .seed = 2, .len = MIB, .shut = true }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr[1], { .b = s, .seed = 1 }),
		     0);
	cr_assert_eq(test_join(rt, jw[0]), MIB);
	cr_assert_eq(test_join(rt, jw[1]), MIB);
	cr_assert_eq(test_join(rt, jr[0]), MIB, "close_notify: end of stream");
	cr_assert_eq(test_join(rt, jr[1]), MIB);
	cr_assert_str_eq(weft_tls_alpn(c), "http/1.1");
	cr_assert_gt(weft_tls_peer_subject(c, subj, sizeof(subj)), 0);
	cr_assert_str_eq(subj, "CN=localhost");
	cr_assert_eq(weft_tls_peer_subject(s, subj, sizeof(subj)), -ENOENT,
		     "no client certificate");
	cr_assert_eq(weft_tls_peer_subject(c, subj, 4), -ERANGE);
	cr_assert_eq(weft_tls_ktls(c), false);
	cr_assert_str_eq(weft_tls_error(c), "");
	weft_bytes_drop(c);
	weft_bytes_drop(s);
	weft_rt_destroy(rt);
}

TLS_TEST(bad_certificate)
{
	weft_tls_ctx *sc = server_ctx(NULL);
	weft_tls_ctx *cc = client_ctx(other, NULL);
	weft_rt *rt = test_rt(2);
	weft_bytes *a, *b, *c, *s;
	weft_join *j1, *j2;

	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	cr_assert_eq(weft_tls_wrap(&c, cc, a), 0);
	cr_assert_eq(weft_tls_wrap(&s, sc, b), 0);
	cr_assert_eq(WEFT_SPAWN(rt, hs, &j1, { .b = c }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, hs, &j2, { .b = s }), 0);
	cr_assert_eq(test_join(rt, j1), -EKEYREJECTED, "%s", weft_tls_error(c));
	cr_assert(strstr(weft_tls_error(c), "certificate verify failed"),
		  "reason: %s", weft_tls_error(c));
	cr_assert_eq(test_join(rt, j2), -EPROTO, "the client's alert: %s",
		     weft_tls_error(s));
	cr_assert_neq(weft_tls_error(s)[0], '\0');
	weft_bytes_drop(c);
	weft_bytes_drop(s);
	weft_tls_ctx_destroy(sc);
	weft_tls_ctx_destroy(cc);
	weft_rt_destroy(rt);
}

static void against_raw(const void *data, size_t len, intptr_t want)
{
	weft_tls_ctx *sc = server_ctx(NULL);
	weft_rt *rt = test_rt(2);
	weft_bytes *a, *b, *s;
	weft_join *j1, *j2;

	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	cr_assert_eq(weft_tls_wrap(&s, sc, b), 0);
	weft_tls_ctx_destroy(sc);
	cr_assert_eq(WEFT_SPAWN(rt, raw, &j1, { .b = a, .data = data,
						.len = len }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, hs, &j2, { .b = s }), 0);
	cr_assert_eq(test_join(rt, j2), want, "server: %s", weft_tls_error(s));
	cr_assert_neq(weft_tls_error(s)[0], '\0');
	weft_bytes_drop(s);   /* the raw peer's reads end */
	cr_assert_eq(test_join(rt, j1), 0);
	weft_bytes_drop(a);
	weft_rt_destroy(rt);
}

TLS_TEST(truncated_handshake)
{
	/* a handshake record header promising 512 bytes, then the end */
	static const unsigned char part[] = { 0x16, 0x03, 0x01, 0x02, 0x00,
					      0x01, 0x00, 0x01 };

	against_raw(part, sizeof(part), -ECONNRESET);
}

TLS_TEST(truncated_before_anything)
{
	against_raw("", 0, -ECONNRESET);
}

TLS_TEST(garbage)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	against_raw(junk, sizeof(junk) - 1, -EPROTO);
}

TLS_TEST(argument_errors)
{
	weft_tls_ctx *c;
	weft_tls_config cfg = { .server = true };
	weft_tls_config bad = { .server = true, .cert_file = "/nonexistent",
				.key_file = "/nonexistent" };
	weft_tls_config mism = { .server = true, .cert_file = cert,
				 .key_file = okey };
	weft_tls_config al = { .alpn = "h2,,x" };
	weft_tls_handshake h;
	weft_bytes *a, *b;
	tt k;

	cr_assert_eq(weft_tls_ctx_create(&c, &cfg), -EINVAL, "no cert");
	cr_assert_eq(weft_tls_ctx_create(&c, &bad), -ENOENT);
	cr_assert_eq(weft_tls_ctx_create(&c, &mism), -EKEYREJECTED);
	cr_assert_eq(weft_tls_ctx_create(&c, &al), -EINVAL);
	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	tt_init(&k);
	weft_tls_handshake_init(&h, a);
	cr_assert_eq(weft_tls_handshake_poll(&h, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(h.res, -EINVAL);
	cr_assert_str_eq(weft_tls_alpn(a), "");
	weft_bytes_drop(a);
	weft_bytes_drop(b);
}

/* TCP loopback: a TLS echo server task (copy from the stream to itself),
 * a client with a writer and a reader task, 1 MiB checked. */
struct tcp_echo {
	WEFT_ASYNC;
	weft_listener *l;
	weft_tls_ctx *ctx;
	weft_listener_accept acc;
	weft_bytes *raw, *s;
	weft_bytes_copy copy;
	weft_bytes_flush f;
};

static weft_poll tcp_echo_poll(struct tcp_echo *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	if (f->acc.res < 0)
		WEFT_RETURN(f->acc.res);
	if (weft_bytes_from_stream(&f->raw, f->acc.stream) ||
	    weft_tls_wrap(&f->s, f->ctx, f->raw))
		WEFT_RETURN(-1);
	WEFT_AWAIT_INIT(weft_bytes_copy, &f->copy, f->s, f->s);
	if (f->copy.res < 0)
		WEFT_RETURN(f->copy.res);
	weft_bytes_shutdown_init(&f->f, f->s);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	weft_bytes_drop(f->s);
	WEFT_RETURN(f->f.res < 0 ? f->f.res : f->copy.res);
	WEFT_END();
}

WEFT_FUTURE(tcp_echo, struct tcp_echo, WEFT_NO_DROP);

TLS_TEST(tcp_loopback_echo_1mib)
{
	weft_rt *rt = test_rt(2);
	weft_tls_ctx *sc = server_ctx(NULL);
	weft_tls_ctx *cc = client_ctx(cert, NULL);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	weft_listener *l = test_listen(AF_INET, &ss, &len);
	weft_tcp_connect con = { 0 };
	weft_bytes *raw, *c;
	weft_join *js, *jw, *jr;

	cr_assert_eq(WEFT_SPAWN(rt, tcp_echo, &js, { .l = l, .ctx = sc }), 0);
	weft_tcp_connect_init(&con, (struct sockaddr *)&ss, len, 5 * WEFT_SEC);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &con), 0);
	cr_assert_eq(con.res, 0);
	cr_assert_eq(weft_bytes_from_stream(&raw, con.stream), 0);
	cr_assert_eq(weft_tls_wrap(&c, cc, raw), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw,
				{ .b = c, .seed = 5, .len = MIB, .shut = true }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr, { .b = c, .seed = 5 }), 0);
	cr_assert_eq(test_join(rt, jw), MIB);
	cr_assert_eq(test_join(rt, jr), MIB, "%s", weft_tls_error(c));
	cr_assert_eq(test_join(rt, js), MIB);
	weft_bytes_drop(c);
	weft_tls_ctx_destroy(sc);
	weft_tls_ctx_destroy(cc);
	weft_rt_destroy(rt);
	weft_listener_drop(l);
}
