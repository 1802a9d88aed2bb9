/* weft/net.h - sockets on io_uring: TCP and Unix stream listeners and
 * streams, UDP. IPv4 and IPv6.
 *
 * Handles (weft_listener, weft_stream, weft_udp) are counted descriptors:
 * _drop releases the caller's handle at once; the descriptor is closed
 * when no operation on it is still in the kernel. ("close" in weft means
 * "no more sending": for a stream that is weft_stream_shutdown(SHUT_WR).)
 * Debug builds abort when a handle is dropped twice while weft still holds
 * the descriptor.
 *
 * Operation futures have the shape of core.h (_init, _poll, _drop; the
 * result in `res`: a byte count, 0, or a negative errno) and are structs to
 * embed in a frame; each owns what the kernel may touch (its buffer, its
 * address), so dropping one at any point is safe: the operation is
 * cancelled (IORING_OP_ASYNC_CANCEL) and its record freed on its final
 * completion. Call _drop from the enclosing frame's drop function; after
 * READY it is a no-op. Other outputs (an accepted or connected stream, a
 * sender's address) are in named fields, valid when res >= 0; the stream
 * is then the caller's, to release with weft_stream_drop. Debug builds
 * abort when _init finds the future's operation still in flight (call
 * _drop first).
 *
 * Stream receives: the first receive on a stream arms one multishot recv
 * (kernel 6.0+) that keeps landing data in buffers of a per-runtime pool
 * of provided buffers (512 x 4 KiB) and queues them on the stream; a
 * receive future copies from that queue into the caller's buffer. Data is
 * never lost: a receive future dropped while waiting leaves what arrived
 * queued for the next one. A stream holds at most 8 unread buffers (the
 * multishot is stopped at that mark and re-armed when the reader has taken
 * them), so a slow reader never makes weft buffer without bound. One task
 * at a time may receive on a stream. Without multishot support, or when
 * the pool is empty, a receive is one IORING_OP_RECV into the operation's
 * own buffer (at most 64 KiB), copied out when the future completes. Sends
 * are tried at once with a non-blocking send(2); only what the socket does
 * not take is copied into an operation (at most 256 KiB at a time, so a
 * slow reader never makes weft buffer without bound). Sends never raise
 * SIGPIPE (MSG_NOSIGNAL): a reset peer gives -EPIPE or -ECONNRESET.
 *
 * Threads: handles may be used by tasks on any thread and their
 * synchronous functions (addresses, fds, options, shutdown, drop) called
 * from any thread; each future is polled by the task that holds it. The
 * limits on how many futures may wait on one handle at a time (above) hold
 * whatever the threads.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct weft__op;
typedef struct weft_listener weft_listener;   /* TCP or Unix, listening */
typedef struct weft_stream weft_stream;       /* TCP or Unix, connected */
typedef struct weft_udp weft_udp;

/* ------------------------------------------------------------- listener */

typedef struct weft_listen_opts {
	int backlog;          /* 0 = 1024 */
	bool reuseaddr;       /* SO_REUSEADDR (TCP) */
	bool reuseport;       /* SO_REUSEPORT (TCP) */
	bool v6only;          /* IPV6_V6ONLY (IPv6) */
} weft_listen_opts;

/* Binds and listens (synchronous). opts may be NULL (backlog 1024,
 * SO_REUSEADDR on). Returns 0 with *out set, or -errno (*out untouched). */
int weft_tcp_listen(weft_listener **out, const struct sockaddr *addr,
		    socklen_t len, const weft_listen_opts *opts);
/* Binds a Unix stream socket at path (not unlinked first). */
int weft_unix_listen(weft_listener **out, const char *path,
		     const weft_listen_opts *opts);
/* The address the listener is bound to (getsockname(2)): 0, or -errno.
 * *len is set to sizeof(*ss) first. */
int weft_listener_local_addr(const weft_listener *l,
			     struct sockaddr_storage *ss, socklen_t *len);
/* The listener's file descriptor, still owned by the listener. */
int weft_listener_fd(const weft_listener *l);
/* Releases the handle: stops accepting; queued connections not yet
 * accepted are closed. No accept future may be in use on it. */
void weft_listener_drop(weft_listener *l);

/* Accepts one connection (TCP or Unix listener). READY with res = 0 and
 * stream = the new connection (the caller's), or res < 0. Connections
 * arrive through one multishot accept per listener (single-shot when the
 * kernel lacks it) into a bounded queue. One task at a time should accept
 * on a listener. On EMFILE, ENFILE, ENOBUFS or ENOMEM the error is
 * returned once and the listener waits 10 ms, then 20, and 40 ms after
 * every further failure before accepting again: no spinning (at most 25
 * failed attempts a second while the fd table stays full), and once
 * descriptors are free the clients queued in the backlog are taken within
 * 40 ms (plus the accept itself; docs/benchmarks.md has the figures). A
 * successful accept resets the back-off. */
typedef struct weft_listener_accept {
	weft_listener *l;
	weft_stream *stream;   /* after READY with res == 0 */
	intptr_t res;
	bool backing_off;      /* private */
	weft_sleep backoff;    /* private */
} weft_listener_accept;
WEFT_FUTURE_EXTERN(weft_listener_accept);

void weft_listener_accept_init(weft_listener_accept *a, weft_listener *l);
weft_poll weft_listener_accept_poll(weft_listener_accept *a, weft_cx *cx);
void weft_listener_accept_drop(weft_listener_accept *a);

/* -------------------------------------------------------------- connect */

/* Connects a new TCP socket (weft_tcp_connect_init) or Unix stream socket
 * (weft_unix_connect_init: the same future) to an address; with
 * timeout > 0 the attempt is cancelled after it (res = -ETIMEDOUT). READY
 * with res = 0 and stream = the connection (the caller's), or res < 0
 * (-EINVAL for an address weft cannot use, -ECONNREFUSED, ...). */
typedef struct weft_tcp_connect {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	weft_duration timeout;
	struct weft__op *op;   /* private */
	weft_sleep timer;      /* private */
	weft_stream *stream;   /* after READY with res == 0 */
	intptr_t res;
} weft_tcp_connect;
WEFT_FUTURE_EXTERN(weft_tcp_connect);

void weft_tcp_connect_init(weft_tcp_connect *c, const struct sockaddr *addr,
			   socklen_t len, weft_duration timeout);
/* weft_tcp_connect to the Unix stream socket at path. */
void weft_unix_connect_init(weft_tcp_connect *c, const char *path,
			    weft_duration timeout);
weft_poll weft_tcp_connect_poll(weft_tcp_connect *c, weft_cx *cx);
void weft_tcp_connect_drop(weft_tcp_connect *c);

/* --------------------------------------------------------------- stream */

/* The stream's file descriptor, still owned by the stream. */
int weft_stream_fd(const weft_stream *s);
/* The peer's and the local address of the stream (getpeername(2),
 * getsockname(2)): 0, or -errno (-ENOTCONN: no peer). *len is set to
 * sizeof(*ss) first. */
int weft_stream_peer_addr(const weft_stream *s, struct sockaddr_storage *ss,
			  socklen_t *len);
/* The local address of the stream (getsockname(2)): 0, or -errno. */
int weft_stream_local_addr(const weft_stream *s, struct sockaddr_storage *ss,
			   socklen_t *len);
/* TCP_NODELAY; -EOPNOTSUPP on a Unix stream. */
int weft_tcp_set_nodelay(weft_stream *s, bool on);
/* shutdown(2): SHUT_RD, SHUT_WR (close the sending side: the peer reads
 * end of stream) or SHUT_RDWR. Returns 0 or -errno. The handle stays
 * valid. */
int weft_stream_shutdown(weft_stream *s, int how);
/* Releases the handle (see the file comment). A receive still waiting on
 * the stream then completes with -EBADF at its next poll. */
void weft_stream_drop(weft_stream *s);
/* Wraps a connected stream socket (ownership passes). NULL on ENOMEM (the
 * fd is then closed). */
weft_stream *weft_stream_from_fd(int fd);

/* Receives up to len bytes: res is the byte count (all that was queued,
 * up to len), 0 at end of stream (and at every receive after it) or when
 * len is 0, or a negative errno (-ECONNRESET, -ENOMEM, -ENODEV without a
 * runtime with I/O, -ECANCELED when the runtime shuts down, -EBADF when
 * the stream was dropped under it). */
typedef struct weft_stream_recv {
	weft_stream *s;
	void *buf;
	size_t len;
	struct weft__op *op;        /* private: single-shot fallback */
	intptr_t res;
	bool waiting;               /* private: its waker is on the stream's
	                             * queue (holds a stream reference) */
} weft_stream_recv;
WEFT_FUTURE_EXTERN(weft_stream_recv);

void weft_stream_recv_init(weft_stream_recv *r, weft_stream *s, void *buf,
			   size_t len);
weft_poll weft_stream_recv_poll(weft_stream_recv *r, weft_cx *cx);
void weft_stream_recv_drop(weft_stream_recv *r);

/* Sends bytes on a stream. One future, three initialisers:
 *   weft_stream_send_init      some of buf: res = bytes taken (may be
 *                              short, >= 1 unless len is 0)
 *   weft_stream_send_all_init  all of buf: res = len
 *   weft_stream_writev_init    a gathering write of iovcnt iovecs (at most
 *                              IOV_MAX); all = every byte, else some
 * or a negative errno. The iovecs are read at every attempt: keep them and
 * their bytes alive until READY (or until _drop). */
typedef struct weft_stream_send {
	weft_stream *s;
	const struct iovec *iov;   /* private: iov/iovcnt, or one_iov */
	int iovcnt;
	bool all;
	struct iovec one_iov;
	size_t total, done;
	struct weft__op *op;
	intptr_t res;
} weft_stream_send;
WEFT_FUTURE_EXTERN(weft_stream_send);

void weft_stream_send_init(weft_stream_send *w, weft_stream *s,
			   const void *buf, size_t len);
void weft_stream_send_all_init(weft_stream_send *w, weft_stream *s,
			       const void *buf, size_t len);
/* The gathering form of weft_stream_send_all_init (see above). */
void weft_stream_writev_init(weft_stream_send *w, weft_stream *s,
			     const struct iovec *iov, int iovcnt, bool all);
weft_poll weft_stream_send_poll(weft_stream_send *w, weft_cx *cx);
void weft_stream_send_drop(weft_stream_send *w);

/* ------------------------------------------------------------------ UDP */

/* Binds a UDP socket (addr NULL: unbound IPv4). 0 with *out set, or
 * -errno. */
int weft_udp_bind(weft_udp **out, const struct sockaddr *addr, socklen_t len);
/* Sets the default peer (connect(2) on a datagram socket; synchronous). */
int weft_udp_connect(weft_udp *u, const struct sockaddr *addr, socklen_t len);
/* The socket's local address (getsockname(2)): 0, or -errno. */
int weft_udp_local_addr(const weft_udp *u, struct sockaddr_storage *ss,
			socklen_t *len);
/* The socket's file descriptor, still owned by the handle. */
int weft_udp_fd(const weft_udp *u);
/* Releases the handle (see the file comment). */
void weft_udp_drop(weft_udp *u);

/* Sends one datagram to `to` (NULL on a connected socket): res = bytes
 * sent or a negative errno (-EMSGSIZE above 64 KiB). The bytes and the
 * address are copied when the socket cannot take them at once. */
typedef struct weft_udp_send {
	weft_udp *u;
	const void *buf;
	size_t len;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct weft__op *op;
	intptr_t res;
} weft_udp_send;
WEFT_FUTURE_EXTERN(weft_udp_send);

void weft_udp_send_init(weft_udp_send *s, weft_udp *u, const void *buf,
			size_t len, const struct sockaddr *to, socklen_t tolen);
weft_poll weft_udp_send_poll(weft_udp_send *s, weft_cx *cx);
void weft_udp_send_drop(weft_udp_send *s);

/* Receives one datagram (truncated to len, at most 64 KiB): res = its
 * byte count, from/fromlen = its sender's address (valid when res >= 0),
 * or a negative errno. */
typedef struct weft_udp_recv {
	weft_udp *u;
	void *buf;
	size_t len;
	struct sockaddr_storage from;
	socklen_t fromlen;
	struct weft__op *op;
	intptr_t res;
} weft_udp_recv;
WEFT_FUTURE_EXTERN(weft_udp_recv);

void weft_udp_recv_init(weft_udp_recv *r, weft_udp *u, void *buf, size_t len);
weft_poll weft_udp_recv_poll(weft_udp_recv *r, weft_cx *cx);
void weft_udp_recv_drop(weft_udp_recv *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_NET_H */
