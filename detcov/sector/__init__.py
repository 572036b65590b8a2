"""The sector view (F-ISAC benchmark): anonymised shares of many institutions merged into one sector table.

    table, manifest = build_share(member_coverage(scan))       # detcov.sector.share / .source
    write_share(Path("out"), table, manifest)                  # share-<random>.parquet + .json
    sector = merge_folder(Path("shares"), kb, k=5)             # detcov.sector.merge (DuckDB over the Parquet)
    sector_position(my_kpis, sector.kpis)                      # detcov.sector.position: percentile per KPI

What a share holds (schema version :data:`~detcov.sector.model.SCHEMA_VERSION`)
    One row per technique × scope class, plus one institution-wide row per technique (scope class ``all``: the
    worst of its classes). A scope class is a system-group kind (workstations, servers, core-banking, payments,
    internet-banking, cloud, network, identity, other), optionally × criticality tier (crown-jewel = 5,
    critical = 4, standard = 1–3; ``detcov share --tiers``). Per row: the class's *worst* visibility, detection
    and blocking band over its groups, the evidence of its detection, the number of distinct healthy rules per
    rule format (top-coded: 0, 1, 2, 3 = three or more) and the technique's weight in the shipped
    ``financial-sector`` profile (the same yardstick for every member; never the member's own profiles, whose
    custom actors are its threat intelligence). The manifest adds the schema, ATT&CK and detcov versions, the
    day it was made, the headline KPIs in whole percent and what the anonymisation did. There is no
    institution name, group name, host, host count, device, rule id or text, file path, or time of day; the
    submission id is random (a hash of the name could be reversed by trying the few dozen bank names).

Bands, not scores
    visibility blind (0) / partial (1–2) / good (3–4); detection none (−1..0) / weak (1) / good (2–3) /
    strong (4–5); blocking none (0) / partial (1) / strong (2–3). Each band's lower bound sits on a headline KPI
    threshold (visibility ≥ 3, detection ≥ 2, blocking ≥ 1), so the sector's shares answer the same questions
    as each institution's KPIs, while a single score (a hand-set detection 5 for one technique) cannot
    fingerprint a member.

k-anonymity, in two places
    * In the share (the institution's side, ``--min-hosts``, default 5): a scope class with fewer hosts than
      that is generalised — a kind whose tier class is too small is shared without tiers; a kind still too
      small is folded into ``other``; an ``other`` still too small is left out (counted in the manifest as
      suppressed). A class of a handful of hosts is one system ("the SWIFT gateway") whose weakness should
      not leave the building by itself. Classes whose groups count no hosts (cloud tenants, network zones) are
      not checked.
    * In the merge (the ISAC's side, ``-k``, default 5): any technique or technique × scope class with fewer
      than k institutions has all its counts suppressed (NULL, ``suppressed = true``) and is never a top gap;
      the KPI values for percentiles are only published when the sector has at least k members, sorted and not
      linked to submissions.

No noise, and why
    None is added (``anonymisation.noise = "none"``). For an ISAC of a dozen members, noise that really
    protects (differential privacy at ε ≈ 1 adds ±1–3 institutions to each count) moves every share by 10–25
    points and would make the benchmark useless, and a noisy number can no longer be explained from its
    inputs. Coarse bands, top-coding and suppression are deterministic, explainable and, for a small sector,
    the stronger protection.

What this does not protect against
    Whoever receives the files (the ISAC) can know who sent which one from the transport; the protection is
    that each file holds only coarse bands of scope classes, and that the published sector table holds only
    counts over at least k institutions. The set of (technique, scope class) rows shows which kinds of system
    an institution runs and on which platforms (e.g. macOS workstations). Members who collude can subtract
    their own files from a count.

Scale
    The merge is one DuckDB scan of the Parquet files and one small join; 400 members merge in about 1.6 s CPU
    and 150 MB per process, 2.5 times a bare DuckDB read of the same files (``benchmarks/sector.py``). Past
    one machine nothing changes: the shares are plain Parquet with the ATT&CK version and submission on every
    row, so ``spark.read.parquet(folder)`` or DuckDB on a bigger host runs the same SQL
    (:mod:`detcov.sector.merge`) over thousands of members.
"""
