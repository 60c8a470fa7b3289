import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "multidogo" / "insurance-dev.tsv"

pytestmark = pytest.mark.skipif(not DATA.is_file(), reason="MultiDoGO data absent")


def load_bench():
    pytest.importorskip("callfleet.agent.runtime")
    spec = importlib.util.spec_from_file_location(
        "bench_extraction", REPO / "bench" / "extraction.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up while the class is built
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_first_conversations_reach_the_accuracy_aims() -> None:
    bench = load_bench()
    report = bench.run_benchmark(DATA, limit=20)

    assert report.calls == 20
    scores = report.fields
    identifiers = [scores[n] for n in ("policy_id", "claim_id", "ssn_last4")]
    labelled = sum(s.labelled for s in identifiers)
    assert labelled >= 10
    assert sum(s.normalized for s in identifiers) / labelled >= 0.85
    assert scores["name"].labelled >= 10
    assert scores["name"].share(scores["name"].normalized) >= 0.8
    for name in ("email", "phone", "car_year"):
        if scores[name].labelled:
            assert scores[name].share(scores[name].normalized) >= 0.8
    assert "normalized" in bench.format_report(report)


def test_missing_data_exits_with_code_2(tmp_path: Path) -> None:
    bench = load_bench()
    assert bench.main(["--data", str(tmp_path / "absent.tsv")]) == 2
