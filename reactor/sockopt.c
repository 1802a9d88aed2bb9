/* reactor/sockopt.c - socket options on any socket fd and the peer
 * credentials of a Unix stream (weft/net.h). Synchronous wrappers of
 * setsockopt(2)/getsockopt(2) returning 0 or -errno; no state, no
 * atomics, callable from any thread.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "weft/net.h"
#include "reactor/fd.h"

#define FD_OF(h) ((const struct weft__fd *)(h))

static int set(int fd, int level, int name, const void *v, socklen_t len)
{
	return setsockopt(fd, level, name, v, len) ? -errno : 0;
}

int weft_sockopt_set_int(int fd, int level, int name, int value)
{
	return set(fd, level, name, &value, sizeof(value));
}

int weft_sockopt_get_int(int fd, int level, int name, int *value)
{
	socklen_t len = sizeof(*value);

	if (!value)
		return -EINVAL;
	return getsockopt(fd, level, name, value, &len) ? -errno : 0;
}

int weft_sockopt_set_keepalive(int fd, bool on, unsigned idle_s,
			       unsigned interval_s, unsigned count)
{
	int ret = weft_sockopt_set_int(fd, SOL_SOCKET, SO_KEEPALIVE, on);

	if (ret || !on)
		return ret;
	if (idle_s > INT32_MAX || interval_s > INT32_MAX || count > INT32_MAX)
		return -EINVAL;
	if (idle_s && (ret = weft_sockopt_set_int(fd, IPPROTO_TCP,
						  TCP_KEEPIDLE, (int)idle_s)))
		return ret;
	if (interval_s && (ret = weft_sockopt_set_int(fd, IPPROTO_TCP,
						      TCP_KEEPINTVL,
						      (int)interval_s)))
		return ret;
	if (count)
		ret = weft_sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPCNT,
					   (int)count);
	return ret;
}

int weft_sockopt_set_linger(int fd, bool on, unsigned seconds)
{
	struct linger l = { .l_onoff = on, .l_linger = (int)seconds };

	if (seconds > INT32_MAX)
		return -EINVAL;
	return set(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

int weft_sockopt_set_ttl(int fd, int ttl)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return -errno;
	if (domain == AF_INET6)
		return weft_sockopt_set_int(fd, IPPROTO_IPV6,
					    IPV6_UNICAST_HOPS, ttl);
	if (domain == AF_INET)
		return weft_sockopt_set_int(fd, IPPROTO_IP, IP_TTL, ttl);
	return -ENOPROTOOPT;
}

int weft_stream_peer_cred(const weft_stream *s, pid_t *pid, uid_t *uid,
			  gid_t *gid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!s)
		return -EINVAL;
	if (FD_OF(s)->domain != AF_UNIX)
		return -EOPNOTSUPP;
	if (getsockopt(FD_OF(s)->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return -errno;
	if (pid)
		*pid = cr.pid;
	if (uid)
		*uid = cr.uid;
	if (gid)
		*gid = cr.gid;
	return 0;
}
