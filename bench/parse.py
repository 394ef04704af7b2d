"""Parse throughput against its floor, ``lxml.etree.fromstring`` of the same bytes.

Full parse = what ingest does per filing: ``parse_submission`` (SGML header, XML extraction)
then ``parse_ownership`` (records, codes, footnote links, normalisation). Two sets: the real
corpus and sample filings repeated to N filings, and synthetic large filings (30-row tables,
10 owners, long footnotes). One core. Targets: full parse <= 4x the floor, >= 2,000 filings/s.
"""

from __future__ import annotations

import argparse

from lxml import etree

from bench.common import best_of, emit, templates
from form4.parsers import normalize, ownership
from form4.parsers.ownership import parse_ownership
from form4.parsers.sgml import parse_submission


def large_filing(n: int) -> bytes:
    owners = "".join(
        f"<reportingOwner><reportingOwnerId><rptOwnerCik>{3000000 + i}</rptOwnerCik>"
        f"<rptOwnerName>Fund {i} LP</rptOwnerName></reportingOwnerId>"
        "<reportingOwnerRelationship><isTenPercentOwner>1</isTenPercentOwner>"
        "</reportingOwnerRelationship></reportingOwner>"
        for i in range(10)
    )
    rows = "".join(
        "<nonDerivativeTransaction><securityTitle><value>Common Stock</value></securityTitle>"
        f"<transactionDate><value>2026-02-0{1 + i % 5}</value></transactionDate>"
        "<transactionCoding><transactionFormType>4</transactionFormType>"
        "<transactionCode>S</transactionCode><equitySwapInvolved>0</equitySwapInvolved>"
        "</transactionCoding><transactionAmounts>"
        f"<transactionShares><value>{1000 + i}</value></transactionShares>"
        f"<transactionPricePerShare><value>{10 + i / 100:.2f}</value>"
        f'<footnoteId id="F{i % 3 + 1}"/>'
        "</transactionPricePerShare><transactionAcquiredDisposedCode><value>D</value>"
        "</transactionAcquiredDisposedCode></transactionAmounts><postTransactionAmounts>"
        f"<sharesOwnedFollowingTransaction><value>{900000 - i * 1000}</value>"
        "</sharesOwnedFollowingTransaction></postTransactionAmounts><ownershipNature>"
        "<directOrIndirectOwnership><value>I</value></directOrIndirectOwnership>"
        "<natureOfOwnership><value>By fund</value></natureOfOwnership></ownershipNature>"
        "</nonDerivativeTransaction>"
        for i in range(30)
    )
    long_note = (
        "The price reported is a weighted average price. These shares were sold in multiple "
        "transactions at prices ranging from $10.00 to $10.50, inclusive. The reporting persons "
        "undertake to provide full information regarding the number of shares sold at each "
        "separate price. " * 6
    )
    notes = "".join(f'<footnote id="F{i}">{long_note}</footnote>' for i in (1, 2, 3))
    xml = (
        '<?xml version="1.0"?><ownershipDocument><schemaVersion>X0508</schemaVersion>'
        "<documentType>4</documentType><periodOfReport>2026-02-02</periodOfReport>"
        "<issuer><issuerCik>2900001</issuerCik><issuerName>Big Issuer Inc</issuerName>"
        f"<issuerTradingSymbol>BIG</issuerTradingSymbol></issuer>{owners}"
        f"<aff10b5One>0</aff10b5One><nonDerivativeTable>{rows}</nonDerivativeTable>"
        f"<footnotes>{notes}</footnotes></ownershipDocument>"
    )
    header = (
        f"<SEC-DOCUMENT>0009999999-26-{n:06d}.txt : 20260202\n<SEC-HEADER>\n"
        "<ACCEPTANCE-DATETIME>20260202170000\n"
        f"ACCESSION NUMBER:\t\t0009999999-26-{n:06d}\nCONFORMED SUBMISSION TYPE:\t4\n"
        "FILED AS OF DATE:\t\t20260202\n</SEC-HEADER>\n<DOCUMENT>\n<TYPE>4\n<TEXT>\n<XML>\n"
    )
    return (header + xml + "\n</XML>\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n").encode()


def _clear_caches() -> None:
    for fn in (normalize._split, normalize._text_reason, normalize._mentions_plan,
               normalize._text_ranges, normalize._security_kind,
               ownership._clean_note, ownership._link, ownership._facts_of):  # fmt: skip
        fn.cache_clear()


def measure(subs: list[bytes], runs: int, *, cold: bool = False) -> tuple[float, float, float]:
    """(filings/s, MB/s, ratio to lxml). ``cold`` clears the footnote caches before each
    filing, as if no two filings shared a footnote (the corpus repeats its filings)."""
    xmls = [parse_submission(s).xml for s in subs]

    def full() -> None:
        for s in subs:
            if cold:
                _clear_caches()
            parse_ownership(parse_submission(s).xml)

    def floor() -> None:
        for x in xmls:
            etree.fromstring(x)

    t_full, t_floor = best_of(runs, full), best_of(runs, floor)
    mb = sum(len(s) for s in subs) / 1e6
    return len(subs) / t_full, mb / t_full, t_full / t_floor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 3_000 if args.quick else 20_000
    base = templates()
    corpus = (base * (n // len(base) + 1))[:n]
    large = [large_filing(i) for i in range(n // 10)]
    runs = 3
    per_s, mb_s, ratio = measure(corpus, runs)
    c_per_s, _, c_ratio = measure(corpus, runs, cold=True)
    l_per_s, l_mb_s, l_ratio = measure(large, runs)
    print(f"corpus x{n}: {per_s:,.0f} filings/s, {mb_s:.1f} MB/s, {ratio:.1f}x lxml.fromstring")
    print(f"corpus x{n}, cold footnote caches: {c_per_s:,.0f} filings/s, {c_ratio:.1f}x lxml")
    print(f"large x{len(large)}: {l_per_s:,.0f} filings/s, {l_mb_s:.1f} MB/s, {l_ratio:.1f}x lxml")
    emit(
        {
            "parse_filings_per_s": per_s,
            "parse_mb_per_s": mb_s,
            "parse_vs_lxml": ratio,
            "parse_cold_filings_per_s": c_per_s,
            "parse_cold_vs_lxml": c_ratio,
            "parse_large_filings_per_s": l_per_s,
            "parse_large_vs_lxml": l_ratio,
        }
    )


if __name__ == "__main__":
    main()
