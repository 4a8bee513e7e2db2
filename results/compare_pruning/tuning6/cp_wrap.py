"""Tuning wrapper: extra unconstrained-variable pattern from $EXTRA_UNCONSTRAINED (regex)."""
import os, runpy, sys
from tf_sfw import recipe_math
extra = os.environ.get("EXTRA_UNCONSTRAINED")
if extra:
    recipe_math.NON_KERNEL_PATTERN = recipe_math.NON_KERNEL_PATTERN + "|" + extra
sys.argv = ["compare_pruning.py"] + sys.argv[1:]
runpy.run_path("/tmp/h6snap/compare_pruning.py", run_name="__main__")
