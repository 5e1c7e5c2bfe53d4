import os
import sys
import tempfile
from pathlib import Path

# Test helpers live beside the tests; make them importable as plain modules.
sys.path.insert(0, str(Path(__file__).parent))

# The command line's read cache goes to a private folder, not into the fixtures; subprocesses
# inherit it. CI runs the suite a second time with CHAINLINT_NO_CACHE=1.
os.environ.setdefault("CHAINLINT_CACHE_DIR", tempfile.mkdtemp(prefix="chainlint-cache-"))
