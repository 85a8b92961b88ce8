"""`python -m mlops_template_kit.local_run`: the same command as `mlops-kit local-run`."""

from .command import main

if __name__ == "__main__":
    raise SystemExit(main())
