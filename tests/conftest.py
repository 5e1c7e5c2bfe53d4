import sys
from pathlib import Path

# Test helpers live beside the tests; make them importable as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
