"""Writes the bad-input corpus next to this file (run it again after changing a case; the files are committed).

Each case is a folder of files laid over a copy of examples/demo-bank (same relative paths) and an entry in
cases.yaml saying which command to run and which one-line errors (file:line fragments) must be printed.
"""

from __future__ import annotations

import codecs
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "examples" / "demo-bank"
HEADER = "technique,test,date,detected,blocked,notes\n"


def write(case: str, name: str, data: bytes | str) -> None:
    path = HERE / case / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def demo(name: str) -> str:
    return (DEMO / name).read_text(encoding="utf-8")


def main() -> None:
    write(
        "long-cell-validation",
        "validation.csv",
        HEADER
        + "T1059.001,ART 1,2025-11-12,yes,no,ok\n"
        + "T1059.001,ART 2,2025-11-12,yes,no,"
        + "x" * 140_000
        + "\n",
    )
    write(
        "long-cell-rule-csv",
        "rules/network-team-rules.csv",
        demo("rules/network-team-rules.csv") + "NET-999,Long,T1071," + "y" * 140_000 + ",enabled\n",
    )
    write(
        "big5-validation",
        "validation.csv",
        (HEADER + "T1059.001,紅隊測試,2025-11-12,yes,no,偵測成功\n").encode("cp950"),
    )
    write(
        "cp1252-validation",
        "validation.csv",
        (HEADER + "T1059.001,Testfall für Köln,2025-11-12,yes,no,é\n").encode("cp1252"),
    )
    write(
        "utf16-no-bom-validation", "validation.csv", (HEADER + "T1059.001,t,2025-11-12,yes,no,\n").encode("utf-16-le")
    )
    write(
        "utf16-bom-validation-bad-flag",
        "validation.csv",
        codecs.BOM_UTF16_LE + (HEADER + "T1059.001,t,2025-11-12,perhaps,no,\n").encode("utf-16-le"),
    )
    write("binary-validation", "validation.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    scores = demo("technique-scores.yaml")
    write(
        "techniques-scalar", "technique-scores.yaml", scores.replace("\ntechniques:\n", "\ntechniques: true\nold:\n")
    )
    write(
        "logbook-scalar",
        "technique-scores.yaml",
        scores.replace(
            "      score_logbook:\n        - {date: 2025-06-30",
            "      score_logbook: true\n      x:\n        - {date: 2025-06-30",
            1,
        ),
    )
    write(
        "scores-out-of-range",
        "technique-scores.yaml",
        scores.replace("{date: 2025-06-30, score: 3,", "{date: 2025-06-30, score: 99,", 1)
        .replace(
            "{date: 2025-11-12, score: 4, comment: EDR + Sysmon 10 on servers}", "{date: 2025-11-12, score: -7}", 1
        )
        .replace(
            "{date: 2025-10-01, score: 2, comment: fraud engine rules reviewed}",
            "{date: yesterday, score: high, comment: fraud}",
            1,
        ),
    )
    config = demo("detcov.yaml")
    write(
        "provenance-weights",
        "detcov.yaml",
        config.replace(
            "provenance_weights: {direct: 1.0, campaign: 1.0, software: 0.5, campaign-software: 0.5}",
            "provenance_weights: {direct: -1.0, rumour: 2.0}",
        ),
    )
    write("rule-format-excel", "detcov.yaml", config.replace("    format: csv\n", "    format: excel\n"))
    write("output-is-a-file", "detcov.yaml", config.replace("output: ../../demo-out", "output: inventory.yaml"))
    # four broken files in one run: every error is shown, not just the first
    write("four-broken-files", "validation.csv", HEADER + "T1059.001,t,last week,maybe,no,\n")
    write("four-broken-files", "technique-scores.yaml", scores.replace("score: 5,", "score: 55,", 1))
    write(
        "four-broken-files",
        "inventory.yaml",
        demo("inventory.yaml").replace("    hosts: 20\n", "    hosts: many\n", 1),
    )
    write(
        "four-broken-files", "detcov.yaml", config.replace("  - path: rules/defender\n", "  - path: rules/missing\n")
    )
    head = (
        "version: 1.1\nfile_type: data-source-administration\nname: hostile\ndomain: enterprise-attack\n"
        "systems:\n  - applicable_to: Windows workstations\n    platform: [Windows]\n"
    )
    write("dettect-data-sources-scalar", "dettect.yaml", head + "data_sources: 5\n")
    write(
        "dettect-data-source-items",
        "dettect.yaml",
        head + "data_sources:\n  - 7\n"
        "  - data_source_name: Process Creation\n    data_source: true\n"
        "  - data_source_name: File Creation\n    data_source:\n      - applicable_to: [all]\n"
        "        products: Sysmon\n        data_quality: {device_completeness: 9, timeliness: high}\n",
    )


if __name__ == "__main__":
    main()
