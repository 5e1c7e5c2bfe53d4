import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Test helpers live beside the tests; make them importable as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

# The command line's read cache goes to a private folder, not into the fixtures; subprocesses
# inherit it; it is removed when the session ends. CI runs the suite a second time with
# CHAINLINT_NO_CACHE=1.
if "CHAINLINT_CACHE_DIR" not in os.environ:
    os.environ["CHAINLINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="chainlint-cache-")
    atexit.register(shutil.rmtree, os.environ["CHAINLINT_CACHE_DIR"], ignore_errors=True)

# Hypothesis profiles: "ci" (the default) runs hundreds of examples per property; pass
# `--hypothesis-profile=thorough` for ten thousand.
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the working directory, colour off (command-line tests)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


# The session's PostgreSQL cluster (started on first use by a test that needs it).
from postgres_server import postgres  # noqa: E402, F401
