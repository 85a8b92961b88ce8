"""The one reader of SageMaker pipeline definitions: parse, check, draw and summarise them.

A definition is the JSON document `CreatePipeline` receives. Values computed at run time are
expressions: `{"Get": "Parameters.X"}`, `{"Get": "Steps.S.<property>"}`, `{"Get": "Execution.X"}`,
`{"Std:Join": ...}` and `{"Std:JsonGet": ...}`. Everything here is standard library except the
checks against the AWS API input shapes, which import botocore when they run.

| module | used by |
|---|---|
| `parse` | the local runner: parameters, steps, references checked, dependency order |
| `expressions` | parsing and evaluating `Get`, `Std:Join`, `Std:JsonGet` |
| `checks` | the pipeline module and its tests: names, parameters, references, botocore shapes |
| `diagram` | the Mermaid flowchart and the README block that shows it |
| `summary` | the demo's text summary of steps, inputs, outputs and conditions |
"""

from __future__ import annotations

from .checks import STEP_APIS, check, check_step_arguments, dependencies, iter_steps, problems
from .diagram import DIAGRAM_END, DIAGRAM_START, mermaid, readme_diagram, with_readme_diagram
from .errors import DefinitionError, ExpressionError
from .expressions import get_targets
from .parse import STEP_TYPES, Definition, Parameter, Step, load_file, loads, parse
from .summary import summarise

__all__ = [
    "DIAGRAM_END",
    "DIAGRAM_START",
    "STEP_APIS",
    "STEP_TYPES",
    "Definition",
    "DefinitionError",
    "ExpressionError",
    "Parameter",
    "Step",
    "check",
    "check_step_arguments",
    "dependencies",
    "get_targets",
    "iter_steps",
    "load_file",
    "loads",
    "mermaid",
    "parse",
    "problems",
    "readme_diagram",
    "summarise",
    "with_readme_diagram",
]
