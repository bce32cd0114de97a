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
    t = account.ground_truth()
    videos = t.videos
    states = videos["state"].value_counts().to_dict()
    minutes = t.minutes_viewed
    live = int(minutes.loc[minutes["is_live"], "minutes_viewed"].sum())
    total = int(minutes["minutes_viewed"].sum())
    usage = t.storage_usage
    lines = [
        f"Sandbox account {account.account_id} (preset {account.preset.name}, seed {account.seed})",
        f"  period            {t.start} .. {t.end} ({account.days} days); "
        f"clock {t.now:%Y-%m-%dT%H:%MZ}",
        f"  broadcasters      {len(account.draws.broadcasters)} with "
        f"{len(t.live_inputs)} live inputs",
        f"  videos            {len(videos)} listed ("
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")",
        f"  minutes viewed    {total:,} ({live:,} live, {total - live:,} on demand)",
        f"  stored minutes    {usage['totalStorageMinutes']:,.1f} of "
        f"{usage['totalStorageMinutesLimit']:,} prepaid; full on {t.exhaustion_date}",
    ]
    for row in t.r2_objects_summary.itertuples():
        lines.append(f"  r2 {row.bucket:<22} {row.storage_class:<12} "
                     f"{row.objects:>6,} objects {row.bytes / 1e9:>10,.2f} GB")
    lines.append("  planted situations:")
    for p in t.planted:
        tag = "healthy look-alike" if p.healthy else "to find"
        lines.append(f"    - [{tag}] {p.kind} @ {p.target}: {p.detail}")
    return "\n".join(lines)
