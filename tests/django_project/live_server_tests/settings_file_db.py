"""The test project with its test database in a file rather than SQLite's default, in memory."""

from mysite.settings import *  # noqa: F403
from mysite.settings import BASE_DIR, DATABASES

DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / "test_db.sqlite3"}
