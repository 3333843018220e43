"""Post-deploy checks: `python -m doctor` says whether the Ray Dashboard's charts will appear."""
