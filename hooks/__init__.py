"""Shared, importable logic behind every template's thin cookiecutter hooks.

The hooks use the kit (packages/mlops-template-kit) for resource naming. They run from the
template checkout in whatever Python runs cookiecutter, where the kit may not be installed (a
laptop bake from a git URL, `make update` in a generated repo), so its source folder goes on the
import path here, taking precedence over any installed copy: a bake always uses the naming rules
of the template commit it renders.
"""

import sys
from pathlib import Path

KIT_SOURCE = Path(__file__).resolve().parents[1] / "packages" / "mlops-template-kit" / "src"
if str(KIT_SOURCE) not in sys.path:
    sys.path.insert(0, str(KIT_SOURCE))
