"""`python benchmarks/gpu_check.py [--cpu] [...]`: the GPU check, the package `benchmarks/gpu_check/` (the same
as `python -m benchmarks.gpu_check`; its docstring has the parts and options)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's srgan and benchmarks, whatever the environment has installed

from benchmarks.gpu_check.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
