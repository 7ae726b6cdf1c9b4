"""Test process: reads `code` from its --params-file and exits with it (a crashing node)."""
import sys

import yaml

args = sys.argv[sys.argv.index("--params-file") + 1]
params = next(iter(yaml.safe_load(open(args)).values()))["ros__parameters"]
print(f"exiting with {params['code']}", flush=True)
sys.exit(params["code"])
