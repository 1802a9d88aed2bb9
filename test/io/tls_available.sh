#!/bin/sh
# test/io/tls_available.sh - registered only when meson did not find
# OpenSSL 3 (so weft/tls.h is left out of libweft): a skip (77) on a
# developer's machine, a failure under CI=true, so CI cannot lose the TLS
# module silently.
if [ "$CI" = true ]; then
	echo "OpenSSL 3 (libssl-dev) not found: the TLS module was not built" >&2
	exit 1
fi
echo "OpenSSL 3 not found: TLS left out (install libssl-dev)"
exit 77
