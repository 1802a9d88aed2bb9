/* weft/tls.h - TLS (OpenSSL 3) as a byte stream: weft_tls_wrap puts a
 * client or server TLS session on top of any other weft_bytes (a TCP
 * stream, a duplex pair, a pipe), and the result is a weft_bytes itself,
 * so buffered readers, codecs, copy and servers written against
 * weft/bytes.h work over TLS unchanged.
 *
 * A context (weft_tls_ctx) holds what sessions share: the role (server or
 * client), the certificate chain and key, the CA file for verification,
 * the ALPN protocol list and, for clients, the server name (SNI and the
 * name the certificate must carry). OpenSSL runs over memory BIOs: the
 * stream reads the inner stream's bytes into OpenSSL and writes what
 * OpenSSL produced to the inner stream; records are at most 16 KiB, and
 * the stream holds at most 16 KiB of received and 64 KiB of produced
 * bytes besides OpenSSL's own buffers. Renegotiation is refused (TLS 1.2;
 * TLS 1.3 has none), so a write never needs to read once the handshake
 * is done. kTLS does not apply to memory BIOs (the kernel never sees the
 * socket's TLS records): weft_tls_ktls says so (always false here).
 *
 * The handshake runs on the first read or write, or explicitly with the
 * weft_tls_handshake future. Errors are negative errnos:
 *   -EKEYREJECTED  the peer's certificate failed verification (unknown
 *                  CA, wrong name, expired): weft_tls_error says why
 *   -EPROTO        a TLS protocol error: garbage bytes, no shared
 *                  protocol or cipher, a fatal alert from the peer (a
 *                  client rejecting our certificate: weft_tls_error
 *                  gives OpenSSL's reason)
 *   -ECONNRESET    the inner stream ended in the middle of the handshake
 *                  or of a record, or without close_notify (a truncation
 *                  attack looks the same)
 *   -EPIPE         writing after a shutdown
 *   the inner stream's own errors, unchanged.
 * No common ALPN protocol is not an error: none is negotiated.
 * The first error sticks: later reads and writes return it too.
 * A read returns 0 (end of stream) only after the peer's close_notify.
 * Shutdown sends close_notify (once the handshake is done), flushes, then
 * shuts the inner stream down.
 *
 * Cancellation: as bytes.h: state lives in the stream; a caller may stop
 * polling at any point (bytes a write took are encrypted and sent by the
 * next write, flush or shutdown).
 *
 * Threads: one reader and one writer at a time, possibly different tasks
 * on different workers (bytes.h). One mutex guards the SSL object and the
 * stream's buffers; whichever side needs the inner stream polls it, and
 * the inner stream's wakers wake both sides (a reader waiting for bytes
 * the writer's handshake reads, and the other way round). A context may
 * be shared by any number of streams on any threads.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "bytes.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* A TLS context (opaque; wraps an OpenSSL SSL_CTX). */
typedef struct weft_tls_ctx weft_tls_ctx;

/* weft_tls_ctx_create's settings. Strings are copied (or loaded) at
 * create: they need not outlive the call. */
typedef struct weft_tls_config {
	bool server;            /* server (accepts) or client (connects) */
	const char *cert_file;  /* PEM certificate chain: required for a
				 * server, optional for a client */
	const char *key_file;   /* PEM private key of cert_file */
	const char *ca_file;    /* PEM CA certificates to verify the peer;
				 * NULL: the system's default paths */
	const char *alpn;       /* comma-separated protocols in preference
				 * order ("h2,http/1.1"), or NULL: none */
	const char *server_name;/* client: sent as SNI, and the name the
				 * server's certificate must match */
	bool no_verify;         /* client: do not verify the server's
				 * certificate; server: ca_file set makes
				 * the server require a verified client
				 * certificate unless no_verify */
} weft_tls_config;

/* Creates a context. Returns 0 with *out set; -EINVAL (NULL argument, a
 * server without cert_file/key_file, an ALPN entry empty or over 255
 * bytes); -ENOENT / -EACCES (a file cannot be opened); -EKEYREJECTED (the
 * key does not match the certificate); -EPROTO (OpenSSL refused a file:
 * not PEM, ...); -ENOMEM. */
int weft_tls_ctx_create(weft_tls_ctx **out, const weft_tls_config *cfg);
/* Drops the creator's reference: the context is freed when the last
 * stream made from it is released too. NULL is ignored. */
void weft_tls_ctx_destroy(weft_tls_ctx *ctx);

/* A TLS byte stream (name "tls") over inner, in ctx's role. Takes over
 * inner (release drops it) on success; on error inner stays the
 * caller's. Returns 0 with *out set, -EINVAL (NULL argument) or -ENOMEM.
 * Releasing does not send close_notify: shut down first. */
int weft_tls_wrap(weft_bytes **out, weft_tls_ctx *ctx, weft_bytes *inner);

/* Runs the handshake to its end: res = 0, or -errno (the header
 * comment's list; -EINVAL when b is not a TLS stream). Polled by the
 * stream's reader or writer (it uses both sides). Dropping it is safe:
 * the handshake goes on with the next read, write or handshake. */
typedef struct weft_tls_handshake {
	weft_bytes *b;
	intptr_t res;
} weft_tls_handshake;
WEFT_FUTURE_EXTERN(weft_tls_handshake);

void weft_tls_handshake_init(weft_tls_handshake *h, weft_bytes *b);
weft_poll weft_tls_handshake_poll(weft_tls_handshake *h, weft_cx *cx);
void weft_tls_handshake_drop(weft_tls_handshake *h);

/* After the handshake: the ALPN protocol negotiated, or "" when none
 * was (no ALPN list, or no protocol in common: not an error). "" before
 * the handshake and for a stream that is not TLS. Valid until the stream
 * is released. */
const char *weft_tls_alpn(const weft_bytes *b);
/* The server name: on a server, the one the client sent (SNI; known
 * after the handshake, or after it failed once the ClientHello was
 * read); on a client, the configured one. "" when none, and for a stream
 * that is not TLS. Valid until the stream is released. */
const char *weft_tls_server_name(const weft_bytes *b);

/* Writes the peer certificate's subject ("CN=localhost", RFC 2253 form)
 * into buf (at most len bytes with the NUL). Returns its length, -ENOENT
 * when the peer sent no certificate (or before the handshake), -EINVAL
 * (not a TLS stream, NULL buf), -ERANGE when buf is too small. */
int weft_tls_peer_subject(const weft_bytes *b, char *buf, size_t len);

/* The reason of the stream's error (OpenSSL's, e.g. "certificate verify
 * failed: unable to get local issuer certificate"), or "" when none.
 * Valid until the stream is released. */
const char *weft_tls_error(const weft_bytes *b);

/* Whether the kernel took the TLS records over (kTLS send). Always false:
 * streams run over memory BIOs, see the header comment. */
bool weft_tls_ktls(const weft_bytes *b);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_TLS_H */
