/* io/tls.c - TLS byte streams over OpenSSL 3 (weft/tls.h).
 *
 * The SSL object talks to a BIO pair: `ibio` is OpenSSL's end, `nbio`
 * ours. Bytes read from the inner stream go to `in` (16 KiB) and from
 * there into nbio; what OpenSSL wrote is drained from nbio into `out`
 * (64 KiB) and written from there to the inner stream. One mutex guards
 * the SSL object, the BIOs and both buffers: the reader and the writer
 * (possibly different tasks) each take it for a whole poll.
 *
 * Wakers: the inner stream is polled with a context whose waker is the
 * stream's `hub` (a small counted object, so a clone held by the inner
 * stream outlives nothing): waking it wakes the registered reader, writer
 * and handshake wakers. Each poll registers its caller's waker in its
 * side's slot first, so whichever side polled the inner stream, both are
 * woken by its progress. Spurious wakes are allowed by core.h.
 *
 * Writes never make OpenSSL wait on its output BIO: at most one record
 * (16 KiB) is written per call and only when the BIO pair has room for
 * it, so a write that returns WANT_WRITE (which OpenSSL requires to be
 * retried with the same bytes) cannot happen; renegotiation is refused,
 * so after the handshake a write never wants to read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "weft/tls.h"

#define IN_CAP (16u * 1024)
#define OUT_CAP (64u * 1024)
#define BIO_CAP (64u * 1024)
#define REC_MAX (16u * 1024)
#define REC_ROOM (REC_MAX + 1024u)   /* a record with its overhead */

struct weft_tls_ctx {
	SSL_CTX *ssl;
	bool server;
	unsigned char alpn[512];     /* wire format: length-prefixed */
	size_t alpn_len;
	char *server_name;
	atomic_int refs;
};

/* ------------------------------------------------------------------ hub */

enum { SIDE_R, SIDE_W, SIDE_H, SIDES };

struct hub {
	atomic_int refs;
	pthread_mutex_t mu;
	weft_waker w[SIDES];
};

static void hub_unref(struct hub *h)
{
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < SIDES; i++)
		weft_waker_drop(&h->w[i]);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static const weft_waker_vtable hub_vt;

static weft_waker hub_clone(const void *data)
{
	struct hub *h = (struct hub *)data;

	atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	return (weft_waker){ &hub_vt, h };
}

static void hub_wake_by_ref(const void *data)
{
	struct hub *h = (struct hub *)data;
	weft_waker w[SIDES];

	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < SIDES; i++) {
		w[i] = h->w[i];
		h->w[i] = WEFT_WAKER_NONE;
	}
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < SIDES; i++)
		weft_waker_wake(&w[i]);
}

static void hub_wake(void *data)
{
	hub_wake_by_ref(data);
	hub_unref(data);
}

static void hub_drop(void *data)
{
	hub_unref(data);
}

static const weft_waker_vtable hub_vt = {
	hub_clone, hub_wake, hub_wake_by_ref, hub_drop,
};

static void hub_register(struct hub *h, int side, const weft_cx *cx)
{
	pthread_mutex_lock(&h->mu);
	weft_waker_register(&h->w[side], cx);
	pthread_mutex_unlock(&h->mu);
}

/* --------------------------------------------------------------- stream */

struct tls {
	weft_bytes base;
	weft_bytes *inner;
	weft_tls_ctx *ctx;
	SSL *ssl;
	BIO *ibio, *nbio;
	pthread_mutex_t mu;
	struct hub *hub;
	int err;                  /* sticky TLS error */
	int werr;                 /* sticky inner write error */
	bool hs_done, in_eof, shut_sent, inner_shut;
	size_t in_off, in_len, out_off, out_len;
	char alpn[256], sni[256], errstr[256];
	unsigned char in[IN_CAP];
	unsigned char out[OUT_CAP];
};

static const weft_bytes_vtable tls_vt;

#define TLS(b) ((struct tls *)(b))

/* The inner stream's context: the caller's, with the hub's waker. */
struct icx {
	weft_cx cx;
	weft_cx *outer;
};

static void icx_begin(struct icx *c, struct tls *t, weft_cx *cx)
{
	c->cx = *cx;
	c->cx.waker = (weft_waker){ &hub_vt, t->hub };  /* borrowed */
	c->outer = cx;
}

static void icx_end(struct icx *c)
{
	c->outer->budget = c->cx.budget;
	c->outer->flags = c->cx.flags;
}

/* Moves what OpenSSL wrote into `out`. */
static void drain_bio(struct tls *t)
{
	if (t->out_off == t->out_len)
		t->out_off = t->out_len = 0;
	while (t->out_len < OUT_CAP) {
		int n = BIO_read(t->nbio, t->out + t->out_len,
				 (int)(OUT_CAP - t->out_len));

		if (n <= 0)
			break;
		t->out_len += (size_t)n;
	}
}

/* Writes `out` to the inner stream: READY with *res 0 when it is all
 * written, or the (sticky) write error. */
static weft_poll push_out(struct tls *t, weft_cx *cx, intptr_t *res)
{
	for (;;) {
		struct icx c;
		struct iovec v;
		intptr_t r = 0;
		weft_poll p;

		if (t->werr) {
			*res = t->werr;
			return WEFT_READY;
		}
		drain_bio(t);
		if (t->out_off == t->out_len) {
			*res = 0;
			return WEFT_READY;
		}
		v.iov_base = t->out + t->out_off;
		v.iov_len = t->out_len - t->out_off;
		icx_begin(&c, t, cx);
		p = t->inner->vt->poll_write(t->inner, &c.cx, &v, 1, &r);
		icx_end(&c);
		if (p == WEFT_PENDING)
			return WEFT_PENDING;
		if (r < 0) {
			t->werr = (int)r;
			continue;
		}
		if (r == 0) {
			t->werr = -EPIPE;
			continue;
		}
		t->out_off += (size_t)r;
	}
}

/* Gives OpenSSL more received bytes: READY with *res 0 after progress
 * (bytes fed, or end of stream signalled), or an inner read error. */
static weft_poll feed_in(struct tls *t, weft_cx *cx, intptr_t *res)
{
	struct icx c;
	intptr_t r = 0;
	weft_poll p;

	if (t->in_off == t->in_len) {
		if (t->in_eof) {
			*res = -ECONNRESET;
			return WEFT_READY;
		}
		icx_begin(&c, t, cx);
		p = t->inner->vt->poll_read(t->inner, &c.cx, t->in, IN_CAP,
					    &r);
		icx_end(&c);
		if (p == WEFT_PENDING)
			return WEFT_PENDING;
		if (r < 0) {
			*res = r;
			return WEFT_READY;
		}
		if (r == 0) {
			t->in_eof = true;
			BIO_shutdown_wr(t->nbio);
			*res = 0;
			return WEFT_READY;
		}
		t->in_off = 0;
		t->in_len = (size_t)r;
	}
	r = BIO_write(t->nbio, t->in + t->in_off, (int)(t->in_len - t->in_off));
	if (r <= 0) {
		/* OpenSSL wants bytes but holds a full BIO: cannot be */
		snprintf(t->errstr, sizeof(t->errstr), "TLS input stalled");
		*res = -EPROTO;
		return WEFT_READY;
	}
	t->in_off += (size_t)r;
	*res = 0;
	return WEFT_READY;
}

/* Maps a failed SSL call to an errno and records the reason. */
static int ssl_fail(struct tls *t, int e)
{
	unsigned long ec = ERR_peek_error();
	int reason = ERR_GET_REASON(ec);
	int rc = -EPROTO;

	if (ec == 0) {
		if (e == SSL_ERROR_SYSCALL || t->in_eof) {
			rc = -ECONNRESET;
			snprintf(t->errstr, sizeof(t->errstr),
				 "the peer closed the connection");
		} else {
			snprintf(t->errstr, sizeof(t->errstr),
				 "TLS error %d", e);
		}
	} else {
		char buf[200];

		ERR_error_string_n(ec, buf, sizeof(buf));
		if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
			long v = SSL_get_verify_result(t->ssl);

			rc = -EKEYREJECTED;
			snprintf(t->errstr, sizeof(t->errstr),
				 "certificate verify failed: %s",
				 X509_verify_cert_error_string(v));
		} else {
			if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
				rc = -ECONNRESET;
			snprintf(t->errstr, sizeof(t->errstr), "%s",
				 ERR_reason_error_string(ec)
					 ? ERR_reason_error_string(ec) : buf);
		}
	}
	ERR_clear_error();
	if (!t->sni[0]) {
		const char *sn = SSL_get_servername(t->ssl,
						    TLSEXT_NAMETYPE_host_name);

		if (sn)
			snprintf(t->sni, sizeof(t->sni), "%s", sn);
	}
	t->err = rc;
	return rc;
}

static void note_handshake(struct tls *t)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	const char *s;

	if (t->hs_done || !SSL_is_init_finished(t->ssl))
		return;
	t->hs_done = true;
	SSL_get0_alpn_selected(t->ssl, &p, &n);
	if (p && n < sizeof(t->alpn)) {
		memcpy(t->alpn, p, n);
		t->alpn[n] = '\0';
	}
	s = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
	if (s)
		snprintf(t->sni, sizeof(t->sni), "%s", s);
}

enum { OP_HS, OP_READ, OP_WRITE };

/* Runs one SSL operation to completion or PENDING. Lock held. */
static weft_poll ssl_run(struct tls *t, weft_cx *cx, int op, void *buf,
			 size_t len, intptr_t *res)
{
	for (;;) {
		size_t n = 0;
		intptr_t r = 0;
		int rc, e;
		weft_poll p;

		if (t->err) {
			*res = t->err;
			return WEFT_READY;
		}
		if (op == OP_WRITE) {
			/* room for one whole record, else wait for the
			 * inner stream to take some */
			drain_bio(t);
			if (BIO_ctrl_get_write_guarantee(t->ibio) < REC_ROOM) {
				p = push_out(t, cx, &r);
				if (p == WEFT_PENDING)
					return WEFT_PENDING;
				if (r < 0) {
					*res = r;
					return WEFT_READY;
				}
				continue;
			}
		}
		ERR_clear_error();
		if (op == OP_HS || !SSL_is_init_finished(t->ssl)) {
			rc = SSL_do_handshake(t->ssl);
			if (rc == 1) {
				note_handshake(t);
				if (op != OP_HS)
					continue;
			}
		} else if (op == OP_READ) {
			rc = SSL_read_ex(t->ssl, buf, len, &n);
		} else {
			rc = SSL_write_ex(t->ssl, buf, len, &n);
		}
		e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, rc);
		drain_bio(t);
		switch (e) {
		case SSL_ERROR_NONE:
			if (op == OP_HS) {
				/* the last flight must leave */
				p = push_out(t, cx, &r);
				if (p == WEFT_PENDING)
					return WEFT_PENDING;
				*res = r;
				return WEFT_READY;
			}
			/* opportunistic: a write's failure sticks in werr */
			(void)push_out(t, cx, &r);
			*res = (intptr_t)n;
			return WEFT_READY;
		case SSL_ERROR_WANT_READ:
			/* send what we have (do not wait on it: the peer may
			 * be waiting for us to read), then read */
			p = push_out(t, cx, &r);
			if (p == WEFT_READY && r < 0) {
				*res = r;
				return WEFT_READY;
			}
			p = feed_in(t, cx, &r);
			if (p == WEFT_PENDING)
				return WEFT_PENDING;
			if (r < 0) {
				if (r == -ECONNRESET)
					snprintf(t->errstr, sizeof(t->errstr),
						 "the peer closed the "
						 "connection");
				t->err = (int)r;
				*res = r;
				return WEFT_READY;
			}
			continue;
		case SSL_ERROR_WANT_WRITE:
			p = push_out(t, cx, &r);
			if (p == WEFT_PENDING)
				return WEFT_PENDING;
			if (r < 0) {
				*res = r;
				return WEFT_READY;
			}
			continue;
		case SSL_ERROR_ZERO_RETURN:
			ERR_clear_error();
			*res = op == OP_READ ? 0 : -EPIPE;
			return WEFT_READY;
		default:
			*res = ssl_fail(t, e);
			/* the alert OpenSSL queued: tell the peer */
			(void)push_out(t, cx, &r);
			return WEFT_READY;
		}
	}
}

static weft_poll tls_read(weft_bytes *b, weft_cx *cx, void *buf, size_t len,
			  intptr_t *res)
{
	struct tls *t = TLS(b);
	weft_poll p;

	if (len == 0) {
		*res = 0;
		return WEFT_READY;
	}
	hub_register(t->hub, SIDE_R, cx);
	pthread_mutex_lock(&t->mu);
	p = ssl_run(t, cx, OP_READ, buf, len, res);
	pthread_mutex_unlock(&t->mu);
	return p;
}

static weft_poll tls_write(weft_bytes *b, weft_cx *cx, const struct iovec *iov,
			   int iovcnt, intptr_t *res)
{
	struct tls *t = TLS(b);
	unsigned char tmp[REC_MAX];
	const void *src = NULL;
	size_t len = 0;
	weft_poll p;

	/* one record's worth: the first non-empty iovec, or a gathered
	 * copy of the first iovecs when they are small */
	for (int i = 0; i < iovcnt && len < REC_MAX; i++) {
		size_t k = iov[i].iov_len;

		if (k == 0)
			continue;
		if (len == 0 && k >= REC_MAX) {
			src = iov[i].iov_base;
			len = REC_MAX;
			break;
		}
		if (k > REC_MAX - len)
			k = REC_MAX - len;
		memcpy(tmp + len, iov[i].iov_base, k);
		len += k;
		src = tmp;
	}
	if (len == 0) {
		*res = 0;
		return WEFT_READY;
	}
	hub_register(t->hub, SIDE_W, cx);
	pthread_mutex_lock(&t->mu);
	if (t->shut_sent || t->inner_shut)
		*res = -EPIPE, p = WEFT_READY;
	else
		p = ssl_run(t, cx, OP_WRITE, (void *)src, len, res);
	pthread_mutex_unlock(&t->mu);
	return p;
}

static weft_poll flush_locked(struct tls *t, weft_cx *cx, intptr_t *res)
{
	struct icx c;
	weft_poll p = push_out(t, cx, res);

	if (p == WEFT_PENDING || *res < 0)
		return p;
	icx_begin(&c, t, cx);
	p = t->inner->vt->poll_flush(t->inner, &c.cx, res);
	icx_end(&c);
	return p;
}

static weft_poll tls_flush(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	struct tls *t = TLS(b);
	weft_poll p;

	hub_register(t->hub, SIDE_W, cx);
	pthread_mutex_lock(&t->mu);
	p = flush_locked(t, cx, res);
	pthread_mutex_unlock(&t->mu);
	return p;
}

static weft_poll tls_shutdown(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	struct tls *t = TLS(b);
	struct icx c;
	weft_poll p;

	hub_register(t->hub, SIDE_W, cx);
	pthread_mutex_lock(&t->mu);
	if (t->inner_shut) {
		*res = 0;
		p = WEFT_READY;
		goto out;
	}
	if (!t->shut_sent) {
		t->shut_sent = true;
		if (!t->err && SSL_is_init_finished(t->ssl)) {
			ERR_clear_error();
			(void)SSL_shutdown(t->ssl);  /* queues close_notify */
			ERR_clear_error();
		}
	}
	p = push_out(t, cx, res);
	if (p == WEFT_PENDING || *res < 0)
		goto out;
	icx_begin(&c, t, cx);
	p = t->inner->vt->poll_shutdown(t->inner, &c.cx, res);
	icx_end(&c);
	if (p == WEFT_READY)
		t->inner_shut = true;
out:
	pthread_mutex_unlock(&t->mu);
	return p;
}

static void ctx_unref(weft_tls_ctx *ctx)
{
	if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx->server_name);
	free(ctx);
}

static void tls_release(weft_bytes *b)
{
	struct tls *t = TLS(b);

	weft_bytes_drop(t->inner);
	SSL_free(t->ssl);       /* frees ibio */
	BIO_free(t->nbio);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_lock(&t->hub->mu);
	for (int i = 0; i < SIDES; i++)
		weft_waker_drop(&t->hub->w[i]);
	pthread_mutex_unlock(&t->hub->mu);
	hub_unref(t->hub);
	ctx_unref(t->ctx);
	free(t);
}

static const weft_bytes_vtable tls_vt = {
	.poll_read = tls_read,
	.poll_fill = NULL,
	.consume = NULL,
	.poll_write = tls_write,
	.poll_flush = tls_flush,
	.poll_shutdown = tls_shutdown,
	.release = tls_release,
	.fd = NULL,
	.name = "tls",
};

/* -------------------------------------------------------------- context */

static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	weft_tls_ctx *ctx = arg;
	unsigned char *o = NULL;

	(void)ssl;
	if (SSL_select_next_proto(&o, outlen, ctx->alpn,
				  (unsigned int)ctx->alpn_len, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static int file_check(const char *path)
{
	if (path && access(path, R_OK) != 0)
		return -errno;
	return 0;
}

int weft_tls_ctx_create(weft_tls_ctx **out, const weft_tls_config *cfg)
{
	weft_tls_ctx *ctx;
	int rc;

	if (!out || !cfg)
		return -EINVAL;
	if (cfg->server && (!cfg->cert_file || !cfg->key_file))
		return -EINVAL;
	if (!cfg->cert_file != !cfg->key_file)
		return -EINVAL;
	if ((rc = file_check(cfg->cert_file)) || (rc = file_check(cfg->key_file))
	    || (rc = file_check(cfg->ca_file)))
		return rc;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	atomic_init(&ctx->refs, 1);
	ctx->server = cfg->server;
	if (cfg->alpn) {
		const char *p = cfg->alpn;

		while (*p) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			if (n == 0 || n > 255 ||
			    ctx->alpn_len + 1 + n > sizeof(ctx->alpn)) {
				free(ctx);
				return -EINVAL;
			}
			ctx->alpn[ctx->alpn_len++] = (unsigned char)n;
			memcpy(ctx->alpn + ctx->alpn_len, p, n);
			ctx->alpn_len += n;
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (cfg->server_name) {
		ctx->server_name = strdup(cfg->server_name);
		if (!ctx->server_name) {
			free(ctx);
			return -ENOMEM;
		}
	}
	ERR_clear_error();
	ctx->ssl = SSL_CTX_new(cfg->server ? TLS_server_method()
					   : TLS_client_method());
	if (!ctx->ssl) {
		rc = -ENOMEM;
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	rc = -EPROTO;
	if (cfg->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx->ssl,
						       cfg->cert_file) != 1)
			goto fail;
		if (SSL_CTX_use_PrivateKey_file(ctx->ssl, cfg->key_file,
						SSL_FILETYPE_PEM) != 1) {
			if (ERR_GET_REASON(ERR_peek_last_error()) ==
			    X509_R_KEY_VALUES_MISMATCH)
				rc = -EKEYREJECTED;
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx->ssl) != 1) {
			rc = -EKEYREJECTED;
			goto fail;
		}
	}
	if (cfg->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx->ssl, cfg->ca_file,
						  NULL) != 1)
			goto fail;
	} else if (!cfg->server) {
		SSL_CTX_set_default_verify_paths(ctx->ssl);
	}
	if (!cfg->server && !cfg->no_verify)
		SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
	if (cfg->server && cfg->ca_file && !cfg->no_verify)
		SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (ctx->alpn_len) {
		if (cfg->server) {
			SSL_CTX_set_alpn_select_cb(ctx->ssl, alpn_select, ctx);
		} else if (SSL_CTX_set_alpn_protos(ctx->ssl, ctx->alpn,
					(unsigned int)ctx->alpn_len) != 0) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	ERR_clear_error();
	*out = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx->ssl);
	free(ctx->server_name);
	free(ctx);
	return rc;
}

void weft_tls_ctx_destroy(weft_tls_ctx *ctx)
{
	if (ctx)
		ctx_unref(ctx);
}

int weft_tls_wrap(weft_bytes **out, weft_tls_ctx *ctx, weft_bytes *inner)
{
	struct tls *t;

	if (!out || !ctx || !inner)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->hub = calloc(1, sizeof(*t->hub));
	if (!t->hub)
		goto nomem;
	atomic_init(&t->hub->refs, 1);
	pthread_mutex_init(&t->hub->mu, NULL);
	ERR_clear_error();
	t->ssl = SSL_new(ctx->ssl);
	if (!t->ssl || BIO_new_bio_pair(&t->ibio, BIO_CAP, &t->nbio,
					BIO_CAP) != 1)
		goto nomem;
	SSL_set_bio(t->ssl, t->ibio, t->ibio);
	if (ctx->server) {
		SSL_set_accept_state(t->ssl);
	} else {
		SSL_set_connect_state(t->ssl);
		if (ctx->server_name) {
			if (SSL_set_tlsext_host_name(t->ssl,
						     ctx->server_name) != 1 ||
			    SSL_set1_host(t->ssl, ctx->server_name) != 1)
				goto nomem;
			snprintf(t->sni, sizeof(t->sni), "%s",
				 ctx->server_name);
		}
	}
	pthread_mutex_init(&t->mu, NULL);
	atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	t->ctx = ctx;
	t->inner = inner;
	t->base.vt = &tls_vt;
	*out = &t->base;
	return 0;
nomem:
	ERR_clear_error();
	if (t->ssl)
		SSL_free(t->ssl);   /* frees ibio once set */
	else if (t->ibio)
		BIO_free(t->ibio);
	BIO_free(t->nbio);
	if (t->hub) {
		pthread_mutex_destroy(&t->hub->mu);
		free(t->hub);
	}
	free(t);
	return -ENOMEM;
}

/* ------------------------------------------------------------ handshake */

void weft_tls_handshake_init(weft_tls_handshake *h, weft_bytes *b)
{
	h->b = b;
	h->res = (b && b->vt == &tls_vt) ? 0 : -EINVAL;
}

weft_poll weft_tls_handshake_poll(weft_tls_handshake *h, weft_cx *cx)
{
	struct tls *t;
	weft_poll p;

	if (h->res < 0)
		return WEFT_READY;
	t = TLS(h->b);
	hub_register(t->hub, SIDE_H, cx);
	pthread_mutex_lock(&t->mu);
	p = ssl_run(t, cx, OP_HS, NULL, 0, &h->res);
	pthread_mutex_unlock(&t->mu);
	return p;
}

void weft_tls_handshake_drop(weft_tls_handshake *h)
{
	(void)h;
}

WEFT_FUTURE_DEFINE(weft_tls_handshake, weft_tls_handshake_drop);

/* -------------------------------------------------------------- queries */

static struct tls *as_tls(const weft_bytes *b)
{
	return b && b->vt == &tls_vt ? (struct tls *)b : NULL;
}

const char *weft_tls_alpn(const weft_bytes *b)
{
	struct tls *t = as_tls(b);

	return t ? t->alpn : "";
}

const char *weft_tls_server_name(const weft_bytes *b)
{
	struct tls *t = as_tls(b);

	return t ? t->sni : "";
}

const char *weft_tls_error(const weft_bytes *b)
{
	struct tls *t = as_tls(b);

	return t ? t->errstr : "";
}

bool weft_tls_ktls(const weft_bytes *b)
{
	(void)b;
	return false;
}

int weft_tls_peer_subject(const weft_bytes *b, char *buf, size_t len)
{
	struct tls *t = as_tls(b);
	X509 *x;
	BIO *m;
	char *p;
	long n;
	int rc;

	if (!t || !buf)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	x = t->hs_done ? SSL_get1_peer_certificate(t->ssl) : NULL;
	pthread_mutex_unlock(&t->mu);
	if (!x)
		return -ENOENT;
	m = BIO_new(BIO_s_mem());
	if (!m) {
		X509_free(x);
		return -ENOMEM;
	}
	X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(m, &p);
	if ((size_t)n + 1 > len) {
		rc = -ERANGE;
	} else {
		memcpy(buf, p, (size_t)n);
		buf[n] = '\0';
		rc = (int)n;
	}
	BIO_free(m);
	X509_free(x);
	return rc;
}
