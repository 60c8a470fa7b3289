"""Reading a user's campaign file (YAML or JSON) and targets file (CSV or JSON)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from callfleet.campaigns.settings import CampaignSettings
from callfleet.targets.service import validate_targets

TARGET_COLUMNS = ("phone_number", "id", "external_id", "timezone")


class InputFileError(ValueError):
    """A file that cannot be used; the message names the file and what is wrong."""


@dataclass
class TargetFile:
    targets: list[dict[str, Any]]
    lines: list[int]  # the line each target starts on
    problems: list[str] = field(default_factory=list)
    bad_indexes: set[int] = field(default_factory=set)


def _load_structured(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputFileError(
            f"{path}: not valid {path.suffix[1:] or 'YAML'}: {exc}"
        ) from exc


def read_campaign(path: Path) -> tuple[dict[str, Any], CampaignSettings]:
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    data = _load_structured(path)
    if not isinstance(data, dict):
        raise InputFileError(
            f"{path}: a campaign is a mapping of settings, got {type(data).__name__}"
        )
    try:
        settings = CampaignSettings.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, error['loc'])) or '(top)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise InputFileError(
            f"{path}: invalid campaign settings\n" + "\n".join(lines)
        ) from exc
    return data, settings


def _csv_targets(path: Path) -> TargetFile:
    targets: list[dict[str, Any]] = []
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "phone_number" not in reader.fieldnames:
            raise InputFileError(
                f"{path}: the header must have a 'phone_number' column"
            )
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                raise InputFileError(f"{path}, line {start}: more values than columns")
            target: dict[str, Any] = {
                "phone_number": (row.get("phone_number") or "").strip()
            }
            for key in ("id", "external_id"):
                if row.get(key):
                    target[key] = row[key].strip()
            input_data = {
                key: value
                for key, value in row.items()
                if key not in TARGET_COLUMNS and value != ""
            }
            if row.get("timezone"):
                input_data["timezone"] = row["timezone"].strip()
            target["input_data"] = input_data
            targets.append(target)
            lines.append(start)
            start = reader.line_num + 1
    return TargetFile(targets, lines)


def _json_targets(path: Path) -> TargetFile:
    data = _load_structured(path)
    if isinstance(data, dict) and "targets" in data:
        data = data["targets"]
    if not isinstance(data, list):
        raise InputFileError(
            f'{path}: expected a list of targets or {{"targets": [...]}}'
        )
    return TargetFile(list(data), [index + 1 for index in range(len(data))])


def read_targets(
    path: Path, settings: CampaignSettings, default_region: str
) -> TargetFile:
    """Read and check every target; ``problems`` lists each bad row by line
    (CSV) or position (JSON), with the reason."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    is_csv = path.suffix.lower() in (".csv", ".tsv", ".txt")
    loaded = _csv_targets(path) if is_csv else _json_targets(path)
    errors = validate_targets(
        loaded.targets, settings, default_region, datetime.now(UTC)
    )
    bad: dict[int, list[str]] = {}
    for error in errors:
        index = error["loc"][2]
        where = ".".join(str(part) for part in error["loc"][3:]) or "target"
        bad.setdefault(index, []).append(f"{where}: {error['msg']}")
    label = "line" if is_csv else "target"
    loaded.problems = [
        f"{path}, {label} {loaded.lines[index]}: " + "; ".join(reasons)
        for index, reasons in sorted(bad.items())
    ]
    loaded.bad_indexes = set(bad)
    return loaded
