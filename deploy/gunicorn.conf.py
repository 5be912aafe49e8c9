"""gunicorn settings for warrantdesk (deploy/warrantdesk-web.service, `make prod-smoke`).

Every value can be changed through the environment of the service (deploy/warrantdesk.env.example).
"""

import os

wsgi_app = "warrantdesk.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
# Sync workers: the app's requests are short (exports, PDFs and identity sheets run in the task workers).
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# An upload of WARRANTDESK_MAX_UPLOAD_MB (20 MB) on a slow line, then its signature check, fits in this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# A worker is replaced after this many requests (bounded memory growth), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = max_requests // 10
# The proxy in front (nginx, a load balancer) whose X-Forwarded-* headers gunicorn believes; Django
# believes X-Forwarded-Proto only with SECURE_PROXY_SSL_HEADER=1.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No access log of gunicorn's own: its lines carry the URL, and a URL can carry a one-time link's token.
# The app writes one JSON line per request with the route instead (warrantdesk/logs.py).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Refuse oversized request lines and headers early.
limit_request_line = 8190
limit_request_fields = 100
# The workers' heartbeat files off the disk, as gunicorn's docs advise; gunicorn makes them itself with
# mkstemp (unique, 0600), so a shared directory is safe here.
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108
proc_name = "warrantdesk-web"
# No control socket (gunicorn >= 25.1, for `gunicornc`): its default place is $HOME/.gunicorn, and the
# service user's home is the data directory, which several machines share and which is backed up (tar
# warns "socket ignored"; a second machine's gunicorn would replace the first one's socket). Signals do
# the same: HUP reloads (the unit's ExecReload), TERM stops gracefully, TTIN/TTOU add or remove a worker.
control_socket_disable = True
