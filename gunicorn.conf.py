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

import multiprocessing
import os

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
