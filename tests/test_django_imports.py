"""Django stays inside ``asgidev.django`` (no other module imports it, other apps never load it); in-place template resets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import asgidev
from tests.django_helpers import project_env
from tests.server_process import START_TIMEOUT_S

PACKAGE = Path(asgidev.__file__).parent
REPO_ROOT = Path(__file__).parent.parent
DJANGO_IMPORT = re.compile(r"^\s*(import django\b|from django\b)", re.MULTILINE)


def test_only_asgidev_django_imports_django() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "django" not in path.relative_to(PACKAGE).parts[:-1] and DJANGO_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_loading_other_apps_never_imports_django(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from asgidev.config import Config\n"
        "from asgidev.runner import load_app\n"
        f"print(load_app(Config(app='tests.apps:hello', app_dir={str(REPO_ROOT)!r})).label)\n"
        f"print(load_app(Config(app_dir={str(tmp_path)!r})).label)\n"
        "print('django imported:', 'django' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=project_env(), capture_output=True, text=True, timeout=START_TIMEOUT_S, check=True
    )
    assert result.stdout.splitlines() == ["tests.apps:hello", "the built-in welcome page (no APP given)", "django imported: False"]


RESET_SCRIPT = """
import os, django
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
django.setup()
from django.template.loader import render_to_string, TemplateDoesNotExist
from asgidev.django.reload import apply_in_place

templates = Path("polls/templates/polls").resolve()
index = templates / "index.html"
print(render_to_string("polls/index.html").count("Polls index"))
index.write_text(index.read_text().replace("Polls index", "Polls edited"))
print(render_to_string("polls/index.html").count("Polls edited"))  # still cached
print(apply_in_place([str(index)]))
print(render_to_string("polls/index.html").count("Polls edited"))
try:
    render_to_string("polls/new.html")
except TemplateDoesNotExist:
    print("missing")
(templates / "new.html").write_text("new")
print(apply_in_place([str(templates / "new.html")]), render_to_string("polls/new.html"))
print(apply_in_place([str(templates / "new.html"), "polls/views.py"]))
"""


def test_template_caches_reset_in_place(django_project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RESET_SCRIPT],
        cwd=django_project,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "0", "True", "1", "missing", "True", "new", "False"]
