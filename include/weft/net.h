/* weft/net.h - sockets on io_uring: TCP and Unix stream listeners and
 * streams, UDP and Unix datagrams, socket options, fd passing, DNS
 * (getaddrinfo on the blocking pool) and connect by name with Happy
 * Eyeballs. IPv4 and IPv6.
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
#include <netdb.h>
#include <sys/uio.h>

#include "core.h"
#include "rt.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct weft__op;
struct addrinfo;
typedef struct weft_listener weft_listener;   /* TCP or Unix, listening */
typedef struct weft_stream weft_stream;       /* TCP or Unix, connected */
typedef struct weft_udp weft_udp;

/* ------------------------------------------------------------- listener */

/* Listen options. backlog bounds the connections the kernel holds
 * completed but not yet accepted; a burst of clients beyond it has its
 * SYNs dropped (they retry after 1 s, 3 s, ...). 0 asks for the largest
 * the kernel allows: net.core.somaxconn (4096 by default since Linux 5.4;
 * raise it with sysctl for bigger bursts), read from
 * /proc/sys/net/core/somaxconn at each listen (WEFT_LISTEN_BACKLOG when
 * that cannot be read). A larger value is capped by the kernel to
 * somaxconn. */
#define WEFT_LISTEN_BACKLOG 4096
typedef struct weft_listen_opts {
	int backlog;          /* 0 = net.core.somaxconn (see above) */
	bool reuseaddr;       /* SO_REUSEADDR (TCP) */
	bool reuseport;       /* SO_REUSEPORT (TCP) */
	bool v6only;          /* IPV6_V6ONLY (IPv6) */
} weft_listen_opts;

/* Binds and listens (synchronous). opts may be NULL (backlog 0, that is
 * net.core.somaxconn; SO_REUSEADDR on). Returns 0 with *out set, or -errno (*out untouched). */
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
/* Wraps a listening socket the caller already has (socket activation:
 * systemd's fd 3 onwards; hot restart: a descriptor inherited from the old
 * process). fd must be a TCP (IPv4 or IPv6) or Unix stream socket on which
 * listen(2) was called. Returns 0 with *out set and the fd owned by the
 * listener (closed with it), or -ENOTSOCK (not a socket), -EINVAL (not
 * listening, not a stream socket, or out NULL), -EAFNOSUPPORT (another
 * family), -ENOMEM; on an error the fd is still the caller's. */
int weft_listener_from_fd(weft_listener **out, int fd);
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
	struct sockaddr_storage addr;  /* the peer; with _from_init, the
	                                * local address is kept in its tail
	                                * (private: the 1.0 layout stays) */
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
/* Bind before connect: as weft_tcp_connect_init, but the new socket is
 * first bound to local (a source address, and a port or 0 for any; with
 * port 0 IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port at connect
 * time, so many connections may share the source address). local must be
 * of addr's family (else res = -EINVAL); a bind failure is the result
 * (-EADDRINUSE, -EADDRNOTAVAIL, ...). */
void weft_tcp_connect_from_init(weft_tcp_connect *c,
				const struct sockaddr *local,
				socklen_t locallen,
				const struct sockaddr *addr, socklen_t len,
				weft_duration timeout);
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
	bool peek;                  /* private: set by weft_stream_peek_init */
} weft_stream_recv;
WEFT_FUTURE_EXTERN(weft_stream_recv);

void weft_stream_recv_init(weft_stream_recv *r, weft_stream *s, void *buf,
			   size_t len);
/* Peek: the same future, but the bytes stay on the stream (MSG_PEEK): the
 * next receive or peek sees them again. res as for a receive: the bytes
 * copied (up to len; what is already queued on the stream when anything
 * is, else what arrives next), 0 at end of stream, or a negative errno,
 * which also stays for the next receive. It waits like a receive when
 * nothing has arrived; a peek of n bytes does not wait for n (peek again
 * after more arrives, or receive). Bounded as a receive: at most what the
 * stream's queue holds (8 buffers of 4 KiB), or 64 KiB single-shot. */
void weft_stream_peek_init(weft_stream_recv *r, weft_stream *s, void *buf,
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
/* Wraps a datagram socket the caller already has (socket activation, hot
 * restart): IPv4, IPv6 or Unix, SOCK_DGRAM. 0 with *out set and the fd
 * owned by the handle, or -ENOTSOCK, -EINVAL (not a datagram socket, out
 * NULL), -EAFNOSUPPORT, -ENOMEM; on an error the fd is still the
 * caller's. */
int weft_udp_from_fd(weft_udp **out, int fd);

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

/* ------------------------------------------------------- Unix datagrams */

/* Unix datagram sockets use the UDP handle and its futures: weft_udp_send
 * with a sockaddr_un (or weft_unix_dgram_send_init with a path), and
 * weft_udp_recv, whose `from` is then a sockaddr_un (an unbound sender
 * has an empty path: fromlen == sizeof(sa_family_t)). Same bounds: one
 * datagram of at most 64 KiB. */

/* Binds a Unix datagram socket at path (not unlinked first; path NULL: an
 * unbound socket, which can send but receives no replies). 0 with *out
 * set, or -errno (-ENAMETOOLONG: path empty or longer than sun_path,
 * -EADDRINUSE, ...). */
int weft_unix_dgram_bind(weft_udp **out, const char *path);
/* Sets the default peer to the socket at path (connect(2)). */
int weft_unix_dgram_connect(weft_udp *u, const char *path);
/* weft_udp_send_init to the socket at path (path NULL: the connected
 * peer). A path too long for sun_path gives res = -ENAMETOOLONG. */
void weft_unix_dgram_send_init(weft_udp_send *s, weft_udp *u, const void *buf,
			       size_t len, const char *path);

/* ------------------------------------------------------- socket options */

/* Socket options on any socket fd (weft_stream_fd, weft_listener_fd,
 * weft_udp_fd, or your own): the functions below are synchronous, may be
 * called from any thread, and return 0 or -errno (-ENOPROTOOPT for an
 * option the socket's protocol lacks, -EINVAL for a bad value, -EBADF,
 * -ENOTSOCK).
 *
 * weft_sockopt_set_int sets any int-valued option: (SOL_SOCKET,
 * SO_RCVBUF / SO_SNDBUF / SO_KEEPALIVE / SO_REUSEADDR), (IPPROTO_TCP,
 * TCP_NODELAY), (IPPROTO_IP, IP_TTL), ... (the kernel doubles SO_RCVBUF
 * and SO_SNDBUF, and reads them back doubled). */
int weft_sockopt_set_int(int fd, int level, int name, int value);
/* Reads an int-valued option into *value (see weft_sockopt_set_int). */
int weft_sockopt_get_int(int fd, int level, int name, int *value);
/* SO_KEEPALIVE on or off; when on, each non-zero argument sets
 * TCP_KEEPIDLE (seconds idle before the first probe), TCP_KEEPINTVL
 * (seconds between probes) and TCP_KEEPCNT (unanswered probes before the
 * connection fails with -ETIMEDOUT); 0 leaves the system default. */
int weft_sockopt_set_keepalive(int fd, bool on, unsigned idle_s,
			       unsigned interval_s, unsigned count);
/* SO_LINGER: on with seconds = 0 makes the close of the last handle
 * reset the connection (RST, no TIME_WAIT); on with seconds > 0 lets the
 * close wait up to that long for unsent data; off: the default. */
int weft_sockopt_set_linger(int fd, bool on, unsigned seconds);
/* The hop limit of sent packets: IP_TTL on IPv4, IPV6_UNICAST_HOPS on
 * IPv6 (1..255; -1 on IPv6 restores the default); -ENOPROTOOPT on a Unix
 * socket. */
int weft_sockopt_set_ttl(int fd, int ttl);

/* The credentials of the process at the other end of a Unix stream (as it
 * was when it connected or called socketpair: SO_PEERCRED). Any of the
 * pointers may be NULL. 0, or -EOPNOTSUPP on a TCP stream, -errno. */
int weft_stream_peer_cred(const weft_stream *s, pid_t *pid, uid_t *uid,
			  gid_t *gid);

/* ----------------------------------------------------------- fd passing */

/* At most this many descriptors travel in one message either way. */
#define WEFT_UNIX_FDS_MAX 16

/* Sends bytes with descriptors attached (SCM_RIGHTS) on a Unix stream:
 * res = the bytes taken (>= 1; may be short: the descriptors travel with
 * the first byte, send the rest with weft_stream_send), or -EINVAL (len
 * 0, nfds < 0 or above WEFT_UNIX_FDS_MAX, not a Unix stream), -EMSGSIZE
 * (len above 64 KiB), -errno (-EBADF for a bad descriptor). The receiver
 * gets duplicates: the caller's fds stay the caller's, and must stay open
 * until READY (or until _drop). Tried at once with a non-blocking
 * sendmsg(2); when the socket is full the bytes and the fd numbers are
 * copied into an operation (IORING_OP_SENDMSG). Dropping it before READY
 * sends the message or not, never part of it twice. */
typedef struct weft_unix_send_fds {
	weft_stream *s;
	const void *buf;
	size_t len;
	int fds[WEFT_UNIX_FDS_MAX];
	int nfds;
	struct weft__op *op;   /* private */
	intptr_t res;
} weft_unix_send_fds;
WEFT_FUTURE_EXTERN(weft_unix_send_fds);

void weft_unix_send_fds_init(weft_unix_send_fds *f, weft_stream *s,
			     const void *buf, size_t len, const int *fds,
			     int nfds);
weft_poll weft_unix_send_fds_poll(weft_unix_send_fds *f, weft_cx *cx);
void weft_unix_send_fds_drop(weft_unix_send_fds *f);

/* Receives bytes (up to len, at most 64 KiB) and the descriptors sent with
 * them: res = the byte count (0 at end of stream) and fds[0..nfds) the
 * received descriptors (close-on-exec, the caller's to close), or a
 * negative errno. More than maxfds descriptors (or WEFT_UNIX_FDS_MAX):
 * the extra ones are closed and `truncated` is set. A descriptor that
 * arrives after the future was dropped is closed by weft: none leaks.
 * One IORING_OP_RECVMSG per future; a stream that carries descriptors
 * must be read only with this future: weft_stream_recv takes bytes
 * without their ancillary data (and the kernel then discards the fds). */
typedef struct weft_unix_recv_fds {
	weft_stream *s;
	void *buf;
	size_t len;
	int *fds;
	int maxfds;
	int nfds;              /* after READY with res >= 0 */
	bool truncated;        /* after READY: descriptors were dropped */
	struct weft__op *op;   /* private */
	intptr_t res;
} weft_unix_recv_fds;
WEFT_FUTURE_EXTERN(weft_unix_recv_fds);

void weft_unix_recv_fds_init(weft_unix_recv_fds *f, weft_stream *s,
			     void *buf, size_t len, int *fds, int maxfds);
weft_poll weft_unix_recv_fds_poll(weft_unix_recv_fds *f, weft_cx *cx);
void weft_unix_recv_fds_drop(weft_unix_recv_fds *f);

/* ------------------------------------------------------------------ DNS */

/* One resolved address: a sockaddr (sockaddr_in or sockaddr_in6, with the
 * port of the service) and its length, ready for weft_tcp_connect_init. */
typedef struct weft_addr {
	struct sockaddr_storage addr;
	socklen_t len;
} weft_addr;

/* An owned list of addresses, in getaddrinfo's order (RFC 6724). Free it
 * with weft_addr_list_destroy. */
typedef struct weft_addr_list {
	size_t count;          /* 1..WEFT_DNS_MAX_ADDRS */
	weft_addr *addrs;      /* count entries, in the same allocation */
} weft_addr_list;

/* A resolve keeps at most this many addresses (the first ones). */
#define WEFT_DNS_MAX_ADDRS 32
/* Longest host name (RFC 1035: 253 characters) and service accepted. */
#define WEFT_DNS_HOST_MAX 253
#define WEFT_DNS_SERVICE_MAX 31

/* Frees a list from weft_dns_resolve (NULL: nothing). */
void weft_addr_list_destroy(weft_addr_list *l);

/* Resolves host and service (a port number, "8080", or a name from
 * /etc/services; NULL: port 0) with getaddrinfo(3), run on the runtime's
 * blocking pool so no worker ever blocks. host and service are copied at
 * _init. hints may be NULL (any family, SOCK_STREAM, no flags); else its
 * ai_flags, ai_family, ai_socktype and ai_protocol are used (AI_PASSIVE
 * with host NULL gives the wildcard address, AI_NUMERICHOST refuses
 * names, AI_ADDRCONFIG drops families the host has no address of).
 * READY with res = the number of addresses and `list` set (the caller's:
 * weft_addr_list_destroy), or a negative errno, getaddrinfo's error mapped:
 *   EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY  -ENOENT (no such name, or no
 *                                           address of that family)
 *   EAI_SERVICE   -ESRCH (no such service for that socket type)
 *   EAI_AGAIN     -EAGAIN (temporary: the name server did not answer)
 *   EAI_FAIL      -EIO (permanent name server failure)
 *   EAI_MEMORY    -ENOMEM
 *   EAI_FAMILY    -EAFNOSUPPORT
 *   EAI_SOCKTYPE  -ESOCKTNOSUPPORT
 *   EAI_BADFLAGS  -EINVAL
 *   EAI_SYSTEM    -errno of the failed call
 *   anything else -EIO
 * and -EINVAL (host and service both NULL), -ENAMETOOLONG (host above
 * WEFT_DNS_HOST_MAX or service above WEFT_DNS_SERVICE_MAX), -ENODEV (no
 * runtime), or weft_spawn_blocking's error (-ENOMEM, -EAGAIN, -ESHUTDOWN).
 * Cancellation: dropping the future at any point is safe and never waits:
 * a lookup not yet started is not run; a running one finishes on its
 * pool thread, which then frees its result (nothing leaks, nobody
 * blocks). getaddrinfo's own timeouts (resolv.conf: 5 s per try by
 * default) bound how long a pool thread stays busy. */
typedef struct weft_dns_resolve {
	char host[WEFT_DNS_HOST_MAX + 1];
	char service[WEFT_DNS_SERVICE_MAX + 1];
	bool has_host, has_service;
	int flags, family, socktype, protocol;
	struct weft__dns_job *job;   /* private: shared with the pool */
	weft_join *join;             /* private */
	weft_join_wait wait;         /* private */
	weft_addr_list *list;        /* after READY with res > 0 */
	intptr_t res;
} weft_dns_resolve;
WEFT_FUTURE_EXTERN(weft_dns_resolve);

void weft_dns_resolve_init(weft_dns_resolve *r, const char *host,
			   const char *service, const struct addrinfo *hints);
weft_poll weft_dns_resolve_poll(weft_dns_resolve *r, weft_cx *cx);
void weft_dns_resolve_drop(weft_dns_resolve *r);

/* ------------------------------------------- connect by name, Happy Eyeballs */

/* Connection attempts one weft_tcp_connect_addrs makes at most (the first
 * ones in its order: see below). */
#define WEFT_CONNECT_ATTEMPTS_MAX 8
/* RFC 8305's Connection Attempt Delay: the next attempt starts this long
 * after the previous one when that has not finished yet. */
#define WEFT_CONNECT_ATTEMPT_DELAY (250 * WEFT_MS)

/* Connects to the first of several addresses that answers (Happy
 * Eyeballs, RFC 8305 in its simple form): the addresses are tried IPv6
 * first, the families interleaved (v6, v4, v6, ...; each family in the
 * list's order), at most WEFT_CONNECT_ATTEMPTS_MAX of them. The next
 * attempt starts `attempt_delay` (WEFT_CONNECT_ATTEMPT_DELAY) after the
 * previous one unless that has finished, and at once when an attempt
 * fails; several may be in flight. The first to connect wins: the others
 * are cancelled and their sockets closed. Each attempt has its own
 * timeout (per_attempt_timeout, 0 = none: the kernel's SYN retries, about
 * two minutes). READY with res = 0 and stream = the connection (the
 * caller's), or res = the last failed attempt's error (-ECONNREFUSED,
 * -ETIMEDOUT, -ENETUNREACH, ...), or -EINVAL (n = 0, addrs NULL). The
 * addresses are copied at _init. attempt_delay may be changed after _init
 * and before the first poll (0 is taken as the default). Dropping it at
 * any point cancels every attempt. The addresses and attempts are inline:
 * the future is about 3.8 KiB (weft_tcp_connect_name about 4.1 KiB), meant
 * for a task's frame. */
typedef struct weft_tcp_connect_addrs {
	weft_addr addrs[WEFT_CONNECT_ATTEMPTS_MAX];  /* in attempt order */
	unsigned n;
	unsigned next;               /* private: the next to start */
	unsigned active;             /* private: attempts in flight */
	bool in_flight[WEFT_CONNECT_ATTEMPTS_MAX];   /* private */
	weft_duration timeout;
	weft_duration attempt_delay;
	weft_tcp_connect attempt[WEFT_CONNECT_ATTEMPTS_MAX]; /* private */
	weft_sleep delay;            /* private */
	intptr_t last_err;           /* private */
	weft_stream *stream;         /* after READY with res == 0 */
	unsigned winner;             /* after READY with res == 0: the index
	                              * in addrs[] that connected */
	intptr_t res;
} weft_tcp_connect_addrs;
WEFT_FUTURE_EXTERN(weft_tcp_connect_addrs);

void weft_tcp_connect_addrs_init(weft_tcp_connect_addrs *c,
				 const weft_addr *addrs, size_t n,
				 weft_duration per_attempt_timeout);
weft_poll weft_tcp_connect_addrs_poll(weft_tcp_connect_addrs *c, weft_cx *cx);
void weft_tcp_connect_addrs_drop(weft_tcp_connect_addrs *c);

/* Connect by name: weft_dns_resolve(host, service, SOCK_STREAM), then
 * weft_tcp_connect_addrs over the result. READY with res = 0 and stream =
 * the connection (the caller's), or the resolve's error (-ENOENT, -EAGAIN,
 * ... as weft_dns_resolve) or the connect's (as weft_tcp_connect_addrs).
 * host and service are copied at _init. Dropping it at any point is safe
 * (the resolve as weft_dns_resolve_drop, the attempts cancelled). */
typedef struct weft_tcp_connect_name {
	weft_dns_resolve resolve;        /* private */
	weft_tcp_connect_addrs connect;  /* private */
	bool connecting;                 /* private */
	weft_stream *stream;             /* after READY with res == 0 */
	intptr_t res;
} weft_tcp_connect_name;
WEFT_FUTURE_EXTERN(weft_tcp_connect_name);

void weft_tcp_connect_name_init(weft_tcp_connect_name *c, const char *host,
				const char *service,
				weft_duration per_attempt_timeout);
weft_poll weft_tcp_connect_name_poll(weft_tcp_connect_name *c, weft_cx *cx);
void weft_tcp_connect_name_drop(weft_tcp_connect_name *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_NET_H */
