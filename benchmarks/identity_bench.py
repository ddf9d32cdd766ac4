"""Identity and pseudonymisation benchmark: prints the figures quoted in docs/identity.md.

    python benchmarks/identity_bench.py [--numbers 1000000 10000000] [--tokens 100000]
                                        [--spine 100000] [--records 6000]

- NHS number checks per second (vectorised) over the largest --numbers.
- Linkage pseudonyms per second (one thread: precomputed HMAC states in OpenSSL) against a
  plain Python `hmac.new` loop over the same numbers, and the ratio.
- Re-identification tokens sealed per second (sealed boxes, thread pool).
- Tracing time, precision and recall against a plain Splink run with out-of-the-box
  comparisons and training on the same synthetic records (tests/identity/people.py).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "identity"))
from people import region

from openphm.identity.nhs_numbers import check_nhs_numbers
from openphm.identity.tracing import trace
from openphm.pseudonymise.pseudonyms import linkage_pseudonyms


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def bench_nhs_numbers(n: int) -> None:
    values = pa.array(
        np.char.zfill(np.random.default_rng(1).integers(0, 10**10, n).astype(str), 10)
    )
    _, seconds = timed(lambda: check_nhs_numbers(values))
    print(f"check_nhs_numbers      {n:>11,}  {seconds:6.2f} s  {n / seconds:>12,.0f} /s")


def bench_pseudonyms(n: int) -> None:
    key = os.urandom(32)
    numbers = pa.array(
        np.char.zfill(np.random.default_rng(2).integers(0, 10**10, n).astype(str), 10)
    )
    cpu = time.process_time()
    _, ours = timed(lambda: linkage_pseudonyms(numbers, key))
    cpu = time.process_time() - cpu
    as_bytes = [v.encode() for v in numbers.to_pylist()]
    _, python = timed(lambda: [hmac.new(key, m, hashlib.sha256).hexdigest() for m in as_bytes])
    # Ours starts from an Arrow column and ends with one; the Python loop is handed the numbers
    # as bytes already and keeps a list, so the comparison favours the loop.
    print(
        f"pseudonyms             {n:>11,}  linkage_pseudonyms {n / ours:>11,.0f} /s "
        f"({n / cpu:>11,.0f} per CPU-second); Python hmac loop {n / python:>10,.0f} /s; "
        f"ratio {python / ours:.1f}x"
    )


def bench_tokens(n: int) -> None:
    from nacl.bindings import crypto_box_seal
    from nacl.public import PrivateKey

    from openphm.practice.tokens import SEALED_BOX_VERSION, token_header, token_plaintext
    from openphm.pseudonymise.tokens import seal_tokens

    key = PrivateKey.generate().public_key
    refs = [f"P{i:08d}" for i in range(n)]
    _, ours = timed(lambda: seal_tokens(refs, ods_code="A81001", public_key=key))
    # Version 1 for comparison: a sealed box per token (one key agreement each).
    header, recipient = token_header(key, SEALED_BOX_VERSION), bytes(key)
    _, boxes = timed(
        lambda: [crypto_box_seal(token_plaintext(header, "A81001", r), recipient) for r in refs]
    )
    print(
        f"sealed tokens          {n:>11,}  one key agreement per run {n / ours:>10,.0f} /s "
        f"(1M in {1e6 / (n / ours):.1f} s); sealed box per token {n / boxes:>8,.0f} /s; "
        f"ratio {boxes / ours:.0f}x"
    )


def quality(found: pd.Series, truth: pd.Series) -> str:
    found = found.reindex(truth.index)
    right = (found == truth).fillna(False)
    wrong = found.notna() & ~right
    precision = right.sum() / max(found.notna().sum(), 1)
    recall = right.sum() / truth.notna().sum()
    return f"precision {precision:.4f} recall {recall:.4f} ({wrong.sum()} wrong)"


def plain_splink(records: pd.DataFrame, spine: pd.DataFrame) -> pd.Series:
    """Splink out of the box on the raw columns: library comparisons, blocking on date of
    birth or postcode, u by random sampling, m by EM, threshold 0.95."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    db = DuckDBAPI()
    left = db.register(records.rename(columns={"record_id": "unique_id"}), table_name="records")
    right = db.register(spine.rename(columns={"spine_id": "unique_id"}), table_name="spine")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("family_name"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            cl.JaroWinklerAtThresholds("address"),
        ],
        blocking_rules_to_generate_predictions=[block_on("date_of_birth"), block_on("postcode")],
    )
    linker = Linker([left, right], settings, log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pairs = linker.inference.predict(threshold_match_probability=0.95).as_pandas_dataframe()
    left_is_record = pairs["source_dataset_l"] == "records"
    pairs["record"] = pairs["unique_id_l"].where(left_is_record, pairs["unique_id_r"])
    pairs["person"] = pairs["unique_id_r"].where(left_is_record, pairs["unique_id_l"])
    best = pairs.sort_values("match_probability").groupby("record").tail(1)
    return best.set_index("record")["person"]


def bench_tracing(n_spine: int, n_records: int) -> None:
    people, seconds = timed(lambda: region(n_spine, n_records))
    print(f"synthetic region       spine {n_spine:,}, records {n_records:,} in {seconds:.1f} s")
    pairs, ours = timed(lambda: trace(people.records, people.spine))
    found = pairs.set_index("record_id")["spine_id"]
    print(f"tracing (OpenPHM)      {ours:6.1f} s  {quality(found, people.truth)}")
    # The model's own estimate of its wrong links, beside the count above: a check that the
    # match probabilities mean what they say.
    print(f"  expected wrong links by the model: {(1 - pairs['match_probability']).sum():.1f}")
    try:
        plain, seconds = timed(lambda: plain_splink(people.records, people.spine))
        print(f"tracing (plain Splink) {seconds:6.1f} s  {quality(plain, people.truth)}")
    except Exception as failure:  # the comparison run is optional evidence, not the product
        print(f"tracing (plain Splink) failed: {type(failure).__name__}: {failure}"[:300])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--spine", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=6_000)
    parser.add_argument("--tracing-only", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    if not args.tracing_only:
        bench_nhs_numbers(max(args.numbers))
        for n in args.numbers:
            bench_pseudonyms(n)
        bench_tokens(args.tokens)
    bench_tracing(args.spine, args.records)


if __name__ == "__main__":
    main()
