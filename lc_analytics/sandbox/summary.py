"""A plain-text summary of a simulated account: what it holds and what was planted in it."""

from __future__ import annotations

from .account import SimulatedAccount


def describe(account: SimulatedAccount) -> str:
    """Summarise the account as of its clock.

    >>> from datetime import date
    >>> acct = SimulatedAccount.build("small", end=date(2026, 6, 30))
    >>> print(describe(acct))  # doctest: +ELLIPSIS
    Sandbox account ... (preset small, seed 7)
    ...
    """
    videos = account.visible_videos()
    states = videos["state"].value_counts().to_dict()
    live = total = 0
    for first, last in account.months():  # a month at a time: large accounts stay bounded
        minutes = account.minutes_viewed_between(first, last)
        live += int(minutes.loc[minutes["is_live"], "minutes_viewed"].sum())
        total += int(minutes["minutes_viewed"].sum())
    usage = account.storage_usage()
    objects = account.visible_objects()
    summary = objects.groupby(["bucket", "storage_class"], as_index=False).agg(
        objects=("key", "size"), bytes=("size", "sum"))
    lines = [
        f"Sandbox account {account.account_id} (preset {account.preset.name}, seed {account.seed})",
        f"  period            {account.start} .. {account.end} ({account.days} days); "
        f"clock {account.now:%Y-%m-%dT%H:%MZ}",
        f"  broadcasters      {len(account.draws.broadcasters)} with "
        f"{len(account.visible_live_inputs())} live inputs",
        f"  videos            {len(videos)} listed ("
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")",
        f"  minutes viewed    {total:,} ({live:,} live, {total - live:,} on demand)",
        f"  stored minutes    {usage['totalStorageMinutes']:,.1f} of "
        f"{usage['totalStorageMinutesLimit']:,} prepaid; full on {account.exhaustion_date()}",
    ]
    for row in summary.itertuples():
        lines.append(f"  r2 {row.bucket:<22} {row.storage_class:<12} "
                     f"{row.objects:>6,} objects {row.bytes / 1e9:>10,.2f} GB")
    lines.append("  planted situations:")
    from .billing_truth import planted as billing_planted  # the bill's planted differences

    for p in [*account.planted, *billing_planted(account)]:
        tag = "healthy look-alike" if p.healthy else "to find"
        lines.append(f"    - [{tag}] {p.kind} @ {p.target}: {p.detail}")
    return "\n".join(lines)
