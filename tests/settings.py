"""Test settings: the real settings, with what a test run must not share with a dev server."""

import os
import tempfile
from pathlib import Path

from crm.settings import *  # noqa: F403
from crm.settings import REDIS_URL

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each run gets its own queue so a dev worker (or a crashed earlier run) never
# takes the tests' messages.
CELERY_TASK_DEFAULT_QUEUE = f"tekil-test-{os.getpid()}"
if not REDIS_URL:
    _broker_dir = tempfile.mkdtemp(prefix="tekil-test-broker-")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "control_folder": _broker_dir,
        "store_processed": False,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"tekil-test-{os.getpid()}",
        }
    }
TEKIL_HTTPS = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="tekil-test-static-"))
