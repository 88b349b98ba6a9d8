"""Settings of the test project. Environment variables let one test vary one thing."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "test-only-not-secret"
DEBUG = os.environ.get("MYSITE_DEBUG", "1") == "1"
# MYSITE_NO_HOSTS=1 leaves it empty, which DEBUG off makes a mistake runserver refuses to start with.
ALLOWED_HOSTS = [] if os.environ.get("MYSITE_NO_HOSTS") else ["127.0.0.1", "localhost", "[::1]"]

_APPS = [
    "polls.apps.PollsConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
# asgidev's app must come before staticfiles; MYSITE_ASGIDEV_LAST=1 breaks that rule on purpose.
INSTALLED_APPS = [*_APPS, "asgidev.django"] if os.environ.get("MYSITE_ASGIDEV_LAST") else ["asgidev.django", *_APPS]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "mysite.wsgi.application"
if os.environ.get("MYSITE_ASGI_APPLICATION"):
    ASGI_APPLICATION = os.environ["MYSITE_ASGI_APPLICATION"]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}

# Set in the project's .env by the tests that write one.
GREETING = os.environ.get("MYSITE_GREETING", "no greeting")

USE_TZ = True
STATIC_URL = "static/"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# As django-oscar's sandbox (and many projects) do: every logger this does not
# name is disabled, asgidev's included unless asgidev keeps its own.
# MYSITE_QUIET_ACCESS=1 names asgidev's access logger, to silence it on purpose.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "polls": {"handlers": ["console"], "level": "INFO"},
        **({"asgidev.access": {"handlers": [], "propagate": False}} if os.environ.get("MYSITE_QUIET_ACCESS") else {}),
    },
}
