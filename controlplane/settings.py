"""Settings for the control plane: every knob is read from the environment, here and only here.

Local defaults are safe for one developer on one machine: an SQLite file and generated keys under
./.run/, Redis on localhost. Production sets DEBUG=0 and provides SECRET_KEY, CREDENTIALS_KEY,
DATABASE_URL, REDIS_URL and ALLOWED_HOSTS explicitly; `manage.py check --deploy` passes then.
"""

import hashlib
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("RUN_DIR", BASE_DIR / ".run"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _local_secret(filename: str, make) -> str:
    """A key generated once for this checkout and kept in ./.run/ (only when DEBUG)."""
    path = RUN_DIR / filename
    if path.exists():
        return path.read_text().strip()
    RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = make()
    # Created with owner-only permissions: the file holds a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


DEBUG = _env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY") or (
    _local_secret("secret_key", lambda: secrets.token_urlsafe(50)) if DEBUG else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")

# Fernet keys, comma separated: the first encrypts, all decrypt (so keys can be rotated).
CREDENTIALS_KEYS = _env_list("CREDENTIALS_KEY", [])
if not CREDENTIALS_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("CREDENTIALS_KEY must be set when DEBUG is off")
    CREDENTIALS_KEYS = [_local_secret("credentials_key", _fernet_key)]

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "controlplane",
    "controlplane.accounts",
    "controlplane.clusters",
    "controlplane.audit",
    "controlplane.live",
    "controlplane.dashboard",
    "deployments",
    "trainer",
    "experiments",
    "controlplane.gke",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "controlplane.api.slashes.ApiTrailingSlashMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "controlplane.accounts.grant_memo.GrantMemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "controlplane.dashboard.middleware.HtmxLoginRedirectMiddleware",
    "controlplane.dashboard.middleware.ContentSecurityPolicyMiddleware",
    "controlplane.request_id.RequestIdMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
ASGI_APPLICATION = "controlplane.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{RUN_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves files straight from the apps' static folders when DEBUG is on, so local
# runs need no collectstatic; production images run collectstatic at build time.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Redis is the Celery broker, the Channels layer and the cache the watcher keeps.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key, queue and channel group carries this prefix, so several checkouts, stacks or
# test runs can share one Redis. The default is derived from the checkout's own path: two
# checkouts on one machine never take each other's actions unless told to share a prefix.
REDIS_PREFIX = os.environ.get("REDIS_PREFIX") or (
    "cp-" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:10]
)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_PREFIX,
    }
}

CHANNEL_LAYER_SOCKET_TIMEOUT = float(os.environ.get("CHANNEL_LAYER_SOCKET_TIMEOUT", "30"))

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
            # channels_redis blocks in BZPOPMIN while a consumer waits for its next message:
            # every idle websocket died with "Timeout reading from ..." on that race. The
            # socket timeout must stay well above the blocking read; it still notices a Redis
            # that stopped answering.
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 5,
                }
            ],
            "prefix": f"{REDIS_PREFIX}:asgi",
        },
    }
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    # A task whose worker died is redelivered after this long (acks_late + a lost ack).
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300")),
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "120"))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "100"))
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated requests 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "controlplane.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # API_RATE_LIMIT per token (or per browser session); over it, 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["controlplane.accounts.throttling.ApiRateThrottle"],
    # Proxies in front of the web process whose X-Forwarded-For is trusted for client addresses.
    "NUM_PROXIES": int(os.environ["NUM_PROXIES"]) if os.environ.get("NUM_PROXIES") else None,
    "DEFAULT_PARSER_CLASSES": [
        "controlplane.api.parsers.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "controlplane.api.pagination.CheckedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    # Errors from the kube layer, kubeconfig checks and services map to HTTP statuses here.
    "EXCEPTION_HANDLER": "controlplane.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ML control plane API",
    "DESCRIPTION": "Deploy, scale, roll out and observe ML workloads on Kubernetes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs page loads Swagger UI from the installed sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Fields named "state" and "status" mean different things in different bodies; each set
    # of choices gets a name of its own instead of a hash suffix.
    "ENUM_NAME_OVERRIDES": {
        "ActionStatusEnum": "controlplane.audit.models.ActionStatus",
        "ExperimentStateEnum": "experiments.models.State",
        "TrainingRunStatusEnum": "trainer.models.RunStatus",
        "ApiTokenStateEnum": ["active", "expired", "revoked"],
        "MetricsStatusEnum": ["ok", "no_metrics_api", "no_samples"],
    },
}

# Kubernetes API calls: every call carries an explicit timeout (seconds).
KUBE_CONNECT_TIMEOUT = float(os.environ.get("KUBE_CONNECT_TIMEOUT", "5"))
KUBE_READ_TIMEOUT = float(os.environ.get("KUBE_READ_TIMEOUT", "30"))
# Kubeconfig uploads larger than this are refused before parsing.
KUBECONFIG_MAX_BYTES = int(os.environ.get("KUBECONFIG_MAX_BYTES", str(256 * 1024)))
# Kubeconfigs pointing at http:// or private addresses are allowed (the sandbox is one).

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "controlplane.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "kubernetes": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Celery's line per task received and finished. Beat sends some task every few
        # seconds (metrics, training sync, experiments), which buries everything else on
        # `make run`'s console; it sets WARNING (failures still show).
        "celery.worker.strategy": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "INFO")},
        "celery.app.trace": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "INFO")},
    },
}

# --- Clusters, the kube gateway and actions ---------------------------------------------------
# Retry policy of controlplane.kube.retry: attempts for transient errors (429/5xx/timeouts),
# the back-off base and cap in seconds, and re-read attempts on 409 Conflict.
KUBE_RETRY_ATTEMPTS = int(os.environ.get("KUBE_RETRY_ATTEMPTS", "3"))
KUBE_RETRY_BASE_DELAY = float(os.environ.get("KUBE_RETRY_BASE_DELAY", "0.2"))
KUBE_RETRY_MAX_DELAY = float(os.environ.get("KUBE_RETRY_MAX_DELAY", "5"))
KUBE_CONFLICT_ATTEMPTS = int(os.environ.get("KUBE_CONFLICT_ATTEMPTS", "5"))
# HTTP connections kept per cluster client (the watcher and workers share one client).
KUBE_POOL_MAXSIZE = int(os.environ.get("KUBE_POOL_MAXSIZE", "16"))
# Live pod logs (deployments/logs): lines kept per stream in Redis (the backlog a viewer gets
# and what outlives a deleted pod, at most LOGS_KEPT_BYTES) and for how long; how long an
# upstream follow stays open after its last viewer left; how long a silent follow waits before
# it is reopened from its last timestamp; batching; and the lines per second a stream sends to
# browsers before it drops lines (and says how many).
LOGS_BUFFER_LINES = int(os.environ.get("LOGS_BUFFER_LINES", "1000"))
LOGS_KEPT_BYTES = int(os.environ.get("LOGS_KEPT_BYTES", str(256 * 1024)))
LOGS_RETENTION_SECONDS = int(os.environ.get("LOGS_RETENTION_SECONDS", str(24 * 3600)))
LOGS_LINGER_SECONDS = float(os.environ.get("LOGS_LINGER_SECONDS", "30"))
LOGS_FOLLOW_READ_TIMEOUT = float(os.environ.get("LOGS_FOLLOW_READ_TIMEOUT", "60"))
LOGS_BATCH_SECONDS = float(os.environ.get("LOGS_BATCH_SECONDS", "0.05"))
LOGS_MAX_LINES_PER_SECOND = int(os.environ.get("LOGS_MAX_LINES_PER_SECOND", "20000"))
# Kubeconfig YAML may not hold more nodes than this (a guard on top of refusing aliases).
KUBECONFIG_MAX_NODES = int(os.environ.get("KUBECONFIG_MAX_NODES", "20000"))
# The sandbox cluster's kubeconfig, registered as the cluster source "sandbox".
SANDBOX_KUBECONFIG = Path(os.environ.get("SANDBOX_KUBECONFIG", RUN_DIR / "sandbox.kubeconfig"))
# The pod's service account (cluster source "in_cluster"); standard paths, overridable for tests.
IN_CLUSTER_TOKEN_PATH = Path(
    os.environ.get("IN_CLUSTER_TOKEN_PATH", "/var/run/secrets/kubernetes.io/serviceaccount/token")
)
IN_CLUSTER_CA_PATH = Path(
    os.environ.get("IN_CLUSTER_CA_PATH", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
)
# Scale requests above this replica count are refused with 400 naming "replicas".
DEPLOYMENT_MAX_REPLICAS = int(os.environ.get("DEPLOYMENT_MAX_REPLICAS", "1000"))
# Action tasks: retries on Unavailable (with back-off, capped in seconds).
ACTION_MAX_RETRIES = int(os.environ.get("ACTION_MAX_RETRIES", "5"))
ACTION_RETRY_BACKOFF_MAX = int(os.environ.get("ACTION_RETRY_BACKOFF_MAX", "60"))
# Enqueueing an action gives up after about a second when the broker is down (the request then
# answers 503 instead of 202), rather than blocking on kombu's default reconnection policy.
ACTION_ENQUEUE_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}
# Seconds a worker waits for the lock of an absolute state (another action on the same target
# is being applied) before retrying the action later.
ACTION_STATE_LOCK_WAIT = float(os.environ.get("ACTION_STATE_LOCK_WAIT", "10"))
# An action still pending this many seconds after it was queued is shown as not taken by any
# worker; the sweep (every ACTION_SWEEP_INTERVAL s, under Celery beat) queues it again, up to
# ACTION_MAX_ENQUEUES times in all, then fails it with the reason. A running action whose
# worker vanished (redelivery lost with Redis) is queued again after ACTION_RUNNING_DEADLINE.
ACTION_PICKUP_DEADLINE = float(os.environ.get("ACTION_PICKUP_DEADLINE", "30"))
ACTION_MAX_ENQUEUES = int(os.environ.get("ACTION_MAX_ENQUEUES", "3"))
ACTION_SWEEP_INTERVAL = float(os.environ.get("ACTION_SWEEP_INTERVAL", "15"))
ACTION_RUNNING_DEADLINE = float(
    os.environ.get(
        "ACTION_RUNNING_DEADLINE",
        str(CELERY_TASK_TIME_LIMIT + CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 30),
    )
)
CELERY_BEAT_SCHEDULE = {
    "experiments-collect": {
        "task": "experiments.tasks.collect.experiments_collect",
        "schedule": float(os.environ.get("EXPERIMENTS_COLLECT_INTERVAL", "30")),
    },
    "experiments-guardrails": {
        "task": "experiments.tasks.guardrails.experiments_guardrails_evaluate",
        "schedule": float(os.environ.get("EXPERIMENTS_GUARDRAIL_INTERVAL", "60")),
    },
    "action-sweep": {
        "task": "controlplane.audit.tasks.action_sweep",
        "schedule": ACTION_SWEEP_INTERVAL,
    },
    "training-sync": {
        "task": "trainer.tasks.sync.trainingrun_sync_active",
        "schedule": float(os.environ.get("TRAINING_SYNC_INTERVAL", "10")),
    },
    # Reads the watcher's cache only; syncs at once the runs whose pods it sees ending.
    "training-sync-finishing": {
        "task": "trainer.tasks.sync.trainingrun_sync_finishing",
        "schedule": float(os.environ.get("TRAINING_FINISHING_SYNC_INTERVAL", "2")),
    },
}
# Training runs: the bytes of each pod's log kept with its run, the default --output root (a
# run writes under ROOT/<namespace>/<job>), and how long the sync task's lock lives.
TRAINING_LOG_TAIL_BYTES = int(os.environ.get("TRAINING_LOG_TAIL_BYTES", str(64 * 1024)))
TRAINING_OUTPUT_ROOT = os.environ.get("TRAINING_OUTPUT_ROOT", "/output").rstrip("/")
TRAINING_SYNC_LOCK_SECONDS = int(os.environ.get("TRAINING_SYNC_LOCK_SECONDS", "120"))
# Test hook: seconds the first attempt of an action task sleeps after marking itself running,
# so tests can kill its worker mid-task. Honoured only when DEBUG is on; always 0 in production.
ACTION_TASK_TEST_DELAY = float(os.environ.get("ACTION_TASK_TEST_DELAY", "0")) if DEBUG else 0.0
# Tests point the test database at a file, so a Celery worker subprocess can share it.
if os.environ.get("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}

# --- The watcher and live pages -------------------------------------------------------------
# timeoutSeconds of each watch request (the watch is then resumed from the last resourceVersion).
WATCH_TIMEOUT_SECONDS = int(os.environ.get("WATCH_TIMEOUT_SECONDS", "300"))
# Cap, in seconds, of the watcher's exponential back-off on connection errors.
WATCH_BACKOFF_CAP = float(os.environ.get("WATCH_BACKOFF_CAP", "30"))
# Seconds between the watcher's checks of the cluster list (added/removed/changed) and of Redis.
WATCHER_POLL_INTERVAL = float(os.environ.get("WATCHER_POLL_INTERVAL", "5"))

# --- Metrics (deployments/metrics) -------------------------------------------------------------
# Seconds between samples of metrics.k8s.io per cluster (Celery beat); it must divide an hour,
# since each hour of a series is one array of 3600 / METRICS_INTERVAL slots. Series are kept
# METRICS_RETENTION seconds: raw for the last two hours, 1-minute means for seven, 5-minute
# means beyond.
METRICS_INTERVAL = int(os.environ.get("METRICS_INTERVAL", "15"))
if METRICS_INTERVAL < 1 or 3600 % METRICS_INTERVAL:
    raise ImproperlyConfigured("METRICS_INTERVAL must be a whole number of seconds dividing 3600")
METRICS_RETENTION = int(os.environ.get("METRICS_RETENTION", str(24 * 3600)))
if METRICS_RETENTION < 3600:
    raise ImproperlyConfigured("METRICS_RETENTION must be at least 3600 seconds")
CELERY_BEAT_SCHEDULE["metrics-sample"] = {
    "task": "deployments.metrics.tasks.metrics_sample_all",
    "schedule": float(METRICS_INTERVAL),
}

# --- Accounts: API tokens, login throttling -----------------------------------------------------
# API tokens expire after API_TOKEN_DEFAULT_DAYS unless their maker picks another lifetime,
# never later than API_TOKEN_MAX_DAYS.
API_TOKEN_DEFAULT_DAYS = int(os.environ.get("API_TOKEN_DEFAULT_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS", "365"))
# One-time links for setting a password work this long (Django's password-reset timeout).
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_LINK_TIMEOUT", str(3 * 24 * 3600)))
# Login lockouts: failures counted per user and per address within the window; reaching a
# limit locks that user or address out for LOGIN_LOCKOUT_SECONDS, doubling with each further
# lockout up to LOGIN_LOCKOUT_MAX_SECONDS. API requests are limited per token (DRF rate form).
LOGIN_FAILURES_PER_USER = int(os.environ.get("LOGIN_FAILURES_PER_USER", "5"))
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", "900"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "60"))
LOGIN_LOCKOUT_MAX_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_MAX_SECONDS", "3600"))
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min")

# --- Single sign-on (OpenID Connect) -----------------------------------------------------------
# Set OIDC_ISSUER (its /.well-known/openid-configuration is read), OIDC_CLIENT_ID and
# OIDC_CLIENT_SECRET to show "Sign in with OIDC_PROVIDER_NAME" on the login page. Local
# accounts keep working (break-glass). OIDC_GROUPS_CLAIM names the ID token claim holding the
# user's groups, mapped to roles per cluster on the role grants pages.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email groups")
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
# Logging out of a single sign-on session also ends the provider's session, where it publishes
# an end_session_endpoint; the provider sends the browser back to OIDC_POST_LOGOUT_REDIRECT_URI
# (default: this site's login page), which must be registered with it.
OIDC_LOGOUT_AT_PROVIDER = _env_bool("OIDC_LOGOUT_AT_PROVIDER", True)
OIDC_POST_LOGOUT_REDIRECT_URI = os.environ.get("OIDC_POST_LOGOUT_REDIRECT_URI", "")
# Authlib logs the PKCE verifier at DEBUG.
LOGGING["loggers"]["authlib"] = {"level": "WARNING"}

# --- Experiments (experiments/) -----------------------------------------------------------------
# Seconds between metric samples of running experiments (each variant pod's /metrics through
# the API server's pod proxy) and between guardrail evaluations; the width of a metric bucket.
EXPERIMENTS_COLLECT_INTERVAL = float(os.environ.get("EXPERIMENTS_COLLECT_INTERVAL", "30"))
EXPERIMENTS_GUARDRAIL_INTERVAL = float(os.environ.get("EXPERIMENTS_GUARDRAIL_INTERVAL", "60"))
EXPERIMENTS_BUCKET_SECONDS = int(os.environ.get("EXPERIMENTS_BUCKET_SECONDS", "60"))
# The Gateway that weighted and sticky HTTPRoutes attach to (parentRefs); an empty namespace
# means the experiment's own. The IngressClass of fan-out Ingresses (empty: the default class).
EXPERIMENTS_GATEWAY_NAME = os.environ.get("EXPERIMENTS_GATEWAY_NAME", "mlcp-gateway")
EXPERIMENTS_GATEWAY_NAMESPACE = os.environ.get("EXPERIMENTS_GATEWAY_NAMESPACE", "")
EXPERIMENTS_INGRESS_CLASS = os.environ.get("EXPERIMENTS_INGRESS_CLASS", "")
# The header that pins a request to one variant, and the cookie prefix sticky routing sets.
EXPERIMENTS_VARIANT_HEADER = os.environ.get("EXPERIMENTS_VARIANT_HEADER", "x-variant")
EXPERIMENTS_COOKIE_PREFIX = os.environ.get("EXPERIMENTS_COOKIE_PREFIX", "mlcp-exp-")
# Where serving pods answer Prometheus text (the inference server: port 8080, /metrics).
EXPERIMENTS_METRICS_PORT = int(os.environ.get("EXPERIMENTS_METRICS_PORT", "8080"))
EXPERIMENTS_METRICS_PATH = os.environ.get("EXPERIMENTS_METRICS_PATH", "metrics")
# Significance of lifts and guardrails; sample-ratio mismatch is flagged below its own level.
EXPERIMENTS_ALPHA = float(os.environ.get("EXPERIMENTS_ALPHA", "0.05"))
EXPERIMENTS_SRM_ALPHA = float(os.environ.get("EXPERIMENTS_SRM_ALPHA", "0.001"))
EXPERIMENTS_FEEDBACK_CSV_MAX_ROWS = int(os.environ.get("EXPERIMENTS_FEEDBACK_CSV_MAX_ROWS", "5000"))

# --- GKE provisioning (controlplane/gke) ---------------------------------------------------------
# How often a GKE action's task asks Google about its operation, and how long one task follows
# it before re-queueing itself (below CELERY_TASK_SOFT_TIME_LIMIT; creates take minutes).
GKE_POLL_SECONDS = float(os.environ.get("GKE_POLL_SECONDS", "1"))
GKE_FOLLOW_SLICE_SECONDS = float(os.environ.get("GKE_FOLLOW_SLICE_SECONDS", "60"))
# The Kubernetes Engine API a new credential uses unless it names another (empty: Google's);
# `make run` with GKE_LOCAL=1 points it at the local endpoint (python -m sandbox.gke).
GKE_DEFAULT_ENDPOINT = os.environ.get("GKE_DEFAULT_ENDPOINT", "")
# Clusters with a Prometheus-compatible query API, sampled by PromQL instead of the pod proxy:
# "cluster=URL;other=URL" (a self-hosted Prometheus, or a Managed Prometheus frontend).
EXPERIMENTS_PROMQL_URLS = dict(
    item.split("=", 1)
    for item in os.environ.get("EXPERIMENTS_PROMQL_URLS", "").split(";")
    if "=" in item
)
