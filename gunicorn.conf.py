"""Gunicorn defaults for `gunicorn wsgi:app` (see docs/deploy.md and docs/benchmarks.md).

gthread workers keep connections alive behind a proxy, and their threads overlap
the waits on PostgreSQL, Redis and the network; processes give CPU parallelism
past the GIL. `make bench` on 2 cores, with the database on loopback, measured
gthread 3 x 1 best for the page and signing together; across a network to the
database, threads keep a core busy while a request waits, hence 4 here (see
docs/benchmarks.md, "gunicorn settings, and why"). More processes than cores only add
context switches on this CPU-bound app.
Keep DB_POOL_SIZE >= threads.
Every value can be overridden from the environment or the command line.
"""

import errno
import ipaddress
import logging
import multiprocessing
import os
import socket
import time

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Recycle workers now and then, so a slow leak can't grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- slow clients -------------------------------------------------------------------
# Production runs behind nginx (docs/deploy.md), which reads each request whole before
# passing it on. Without it, a client that sends its request slowly holds a gthread
# thread for as long as it likes: eight such clients stopped a 2 x 4 server (issue 22).
# gunicorn waits 5 s for a request's first byte off the threads; once a thread reads a
# request, it reads with no deadline. So each accepted socket gets one: the request
# (line, headers, body) must arrive within REQUEST_READ_SECONDS of the thread taking it,
# and each send may block at most that long; past it the connection is closed. The
# header limits are gunicorn's, stated here: 4 KB request line, 100 fields of 8 KB.
REQUEST_READ_SECONDS = float(os.environ.get("GUNICORN_READ_SECONDS", "10"))
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


class DeadlineSocket(socket.socket):
    """A client socket whose blocking reads share one deadline per request.

    gthread makes the socket blocking (`setblocking(True)`) each time a thread takes
    the connection, and reads it with `recv`: that starts the deadline, and every
    `recv` waits only for what is left of it."""

    __slots__ = ("deadline",)

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.deadline = time.monotonic() + REQUEST_READ_SECONDS
            self.settimeout(REQUEST_READ_SECONDS)
        else:
            super().setblocking(False)

    def recv(self, size: int, *flags: int) -> bytes:
        if self.gettimeout() is None:  # the poller's non-blocking read
            return super().recv(size, *flags)
        try:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.settimeout(left)
            return super().recv(size, *flags)
        except TimeoutError:
            # One line, not gunicorn's traceback for a socket error; the thread closes
            # the connection as for a reset one.
            logging.getLogger("gunicorn.error").warning(
                "closed a client that took over %g s to send its request", REQUEST_READ_SECONDS
            )
            raise ConnectionResetError(errno.ECONNRESET, "request read deadline") from None


def post_worker_init(worker) -> None:
    """Each accepted connection is a DeadlineSocket (the listeners are gunicorn's
    wrappers, which pass every other attribute to the real socket)."""
    for listener in worker.sockets:
        accept_raw = listener.sock.accept

        def accept(accept_raw=accept_raw):
            client, address = accept_raw()
            wrapped = DeadlineSocket(client.family, client.type, client.proto, client.detach())
            return wrapped, address

        listener.accept = accept


# --- serving the public without a proxy ------------------------------------------------
def _address(sockname) -> str:
    """A bound socket's address as "host:port", or "unix:path"."""
    if isinstance(sockname, (str, bytes)):
        return f"unix:{os.fsdecode(sockname)}"
    return f"{sockname[0]}:{sockname[1]}"


def public_addresses(listeners: list[str]) -> list[str]:
    """The listeners ("host:port", "unix:path") reachable from other machines: any
    address but loopback, and no Unix socket."""
    public = []
    for listener in listeners:
        if listener.startswith("unix:"):
            continue
        host = listener.rsplit(":", 1)[0].strip("[]")
        if not ipaddress.ip_address(host).is_loopback:
            public.append(listener)
    return public


def when_ready(server) -> None:
    """Warn at start when gunicorn itself faces the public: a slow client then holds a
    thread for up to REQUEST_READ_SECONDS, and TRUSTED_PROXIES unset means no proxy
    was configured in front. docs/deploy.md: nginx (or another buffering proxy) is
    required."""
    exposed = public_addresses([_address(listener.getsockname()) for listener in server.LISTENERS])
    if exposed and not os.environ.get("TRUSTED_PROXIES", "").strip("0 "):
        server.log.warning(
            "serving %s without a proxy (TRUSTED_PROXIES is unset): production needs nginx "
            "or another buffering proxy in front (docs/deploy.md); slow clients can hold "
            "every thread for up to %g s each",
            ", ".join(exposed),
            REQUEST_READ_SECONDS,
        )
