"""A readable text summary of a SageMaker pipeline definition: steps, inputs, outputs, conditions."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .checks import iter_steps


def expression(value: object) -> str:
    """Render a definition value (plain, Get, Std:Join, Std:JsonGet) as short text."""
    if isinstance(value, Mapping):
        if "Get" in value:
            return str(value["Get"])
        if "Std:Join" in value:
            join = value["Std:Join"]
            return "join(" + join.get("On", "") + ": " + ", ".join(expression(v) for v in join["Values"]) + ")"
        if "Std:JsonGet" in value:
            get = value["Std:JsonGet"]
            return f"json({expression(get['PropertyFile'])} @ {get['Path']})"
    return json.dumps(value) if not isinstance(value, str) else value


def condition(item: Mapping) -> str:
    """Render one condition of a ConditionStep."""
    kind = item["Type"]
    if kind in ("And", "Or"):
        return f" {kind.lower()} ".join(f"({condition(inner)})" for inner in item["Conditions"])
    if kind == "Not":
        return f"not ({condition(item['Expression'])})"
    if kind == "In":
        return f"{expression(item['QueryValue'])} in {[expression(v) for v in item['Values']]}"
    return f"{expression(item['LeftValue'])} {kind} {expression(item['RightValue'])}"


def step_lines(step: Mapping) -> list[str]:
    """The lines describing one step."""
    arguments = step.get("Arguments", {})
    lines = [f"- {step['Name']} [{step['Type']}]"]
    if step.get("DependsOn"):
        lines.append(f"    after: {', '.join(step['DependsOn'])}")
    for item in arguments.get("ProcessingInputs", []):
        lines.append(f"    in  {item['InputName']}: {expression(item['S3Input']['S3Uri'])}")
    for item in arguments.get("ProcessingOutputConfig", {}).get("Outputs", []):
        lines.append(f"    out {item['OutputName']}: {expression(item['S3Output']['S3Uri'])}")
    for item in arguments.get("InputDataConfig", []):
        lines.append(f"    in  {item['ChannelName']}: {expression(item['DataSource']['S3DataSource']['S3Uri'])}")
    if "OutputDataConfig" in arguments:
        lines.append(f"    out model: {expression(arguments['OutputDataConfig']['S3OutputPath'])}")
    for item in step.get("PropertyFiles", []):
        lines.append(f"    property file {item['PropertyFileName']}: {item['OutputName']}/{item['FilePath']}")
    for item in arguments.get("Conditions", []):
        lines.append(f"    if {condition(item)}")
    if "IfSteps" in arguments or "ElseSteps" in arguments:
        lines.append(f"    then: {', '.join(s['Name'] for s in arguments.get('IfSteps', [])) or '-'}")
        lines.append(f"    else: {', '.join(s['Name'] for s in arguments.get('ElseSteps', [])) or '-'}")
    if "ErrorMessage" in arguments:
        lines.append(f"    fails with: {expression(arguments['ErrorMessage'])}")
    return lines


def summarise(definition: Mapping) -> str:
    """The text summary of a whole definition."""
    lines = ["parameters: " + ", ".join(f"{p['Name']}={p.get('DefaultValue', '?')}" for p in definition["Parameters"])]
    lines.append("steps:")
    for step in iter_steps(definition):
        lines += step_lines(step)
    return "\n".join(lines)
