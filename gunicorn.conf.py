"""Gunicorn defaults for `gunicorn wsgi:app` (see docs/deploy.md and docs/benchmarks.md).

gthread workers: keep-alive connections behind a proxy, and threads overlap the
waits on the database and SMTP-free I/O; processes give CPU parallelism past the
GIL. The benchmark on 2 cores found WEB_CONCURRENCY = cores and 4 threads per
worker best; more processes only add context switches on a CPU-bound app.
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
