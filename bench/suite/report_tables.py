"""The report's table of all measurements of a run, SQLite beside PostgreSQL."""

from __future__ import annotations

from suite.report_figures import dig, fmt


def measurements(run: dict) -> list[str]:
    ceiling = dig(run, "ceiling", "get", "rps") or 0
    lines = [
        "| Measure | SQLite | PostgreSQL |",
        "|---|---|---|",
        f"| Ceiling (fixed page) GET, at the start | {fmt(ceiling)} req/s, p50 "
        f"{fmt(dig(run, 'ceiling', 'get', 'p50_ms'), 2)} ms, p99 "
        f"{fmt(dig(run, 'ceiling', 'get', 'p99_ms'), 2)} ms | (same) |",
    ]
    steps = ("get", "sign", "confirm")
    if any(dig(run, db, step, "ceiling_rps") for db in ("sqlite", "postgresql") for step in steps):
        beside_each = [
            ", ".join(f"{step} {fmt(dig(run, db, step, 'ceiling_rps'), 0)}" for step in steps)
            for db in ("sqlite", "postgresql")
        ]
        lines.append(
            "| Ceiling beside each step (req/s, measured alternating with it) | "
            + " | ".join(beside_each)
            + " |"
        )

    def cell(db: str, *keys, rate: str, unit: str) -> str:
        data = dig(run, db, *keys)
        if not data:
            return "–"
        value = data.get(rate)
        against = data.get("ceiling_rps") or ceiling  # the ceiling beside it, if measured
        share = f" ({value / against:.2f} × ceiling)" if value and against else ""
        return (
            f"{fmt(value)} {unit}{share}, p50 {fmt(data.get('p50_ms'), 2)} ms, "
            f"p99 {fmt(data.get('p99_ms'), 2)} ms"
        )

    for label, keys, rate, unit in (
        ("Campaign page GET", ("get",), "rps", "req/s"),
        ("Campaign page GET through nginx's cache", ("get_nginx",), "rps", "req/s"),
        ("Sign POST", ("sign",), "signatures_per_s", "sig/s"),
        ("Confirm POST", ("confirm",), "confirmations_per_s", "conf/s"),
    ):
        lines.append(
            f"| {label} | {cell('sqlite', *keys, rate=rate, unit=unit)} | "
            f"{cell('postgresql', *keys, rate=rate, unit=unit)} |"
        )

    def checks(db: str, kind: str) -> str:
        check = dig(run, db, kind, "check")
        if not check:
            return "–"
        errors = dig(run, db, kind, "errors") or 0
        other = dig(run, db, kind, "other_status") or 0
        other_note = f"{other} other answers"
        if check.get("tokens_exhausted"):
            # bench.lua stops a connection that used its share of the tokens.
            other_note += " (a connection ran out of tokens and stopped)"
        return (
            f"{check['acknowledged']:,} answered 303, {check['lost']} lost, {errors} errors, "
            f"{other_note}, {check.get('unacknowledged_rows', 0)} rows cut off unanswered "
            "by wrk's stop"
        )

    lines.append(
        f"| Sign: rows vs answers | {checks('sqlite', 'sign')} | {checks('postgresql', 'sign')} |"
    )
    lines.append(
        f"| Confirm: rows vs answers | {checks('sqlite', 'confirm')} | "
        f"{checks('postgresql', 'confirm')} |"
    )

    def latency(db: str, key: str) -> str:
        data = dig(run, db, key)
        return f"p50 {fmt(data['p50_ms'], 2)} ms, p99 {fmt(data['p99_ms'], 2)} ms" if data else "–"

    lines.append(
        f"| Page latency, 1 connection, 0 signatures | {latency('sqlite', 'latency_0')} | "
        f"{latency('postgresql', 'latency_0')} |"
    )
    lines.append(
        "| Page latency, 1 connection, empty control campaign beside the full one | "
        f"{latency('sqlite', 'latency_control')} | "
        f"{latency('postgresql', 'latency_control')} |"
    )
    lines.append(
        f"| Page latency, 1 connection, {run.get('rows', 0):,} signatures | "
        f"{latency('sqlite', 'latency_full')} | {latency('postgresql', 'latency_full')} |"
    )

    def export(db: str, rows: str) -> str:
        data = dig(run, db, "export", rows)
        if not data:
            return "–"
        ours, base = data["export"], data["baseline"]
        return (
            f"{ours['seconds']:.1f} s, {ours['peak_rss_mb']:.0f} MB peak RSS; "
            f"{base['tool']} {base['seconds']:.2f} s, {base['peak_rss_mb']:.0f} MB "
            f"({data['time_ratio']:.1f} ×)"
        )

    for rows in sorted(
        {*dig(run, "sqlite", "export", default={}), *dig(run, "postgresql", "export", default={})},
        key=int,
    ):
        lines.append(
            f"| CSV export, {int(rows):,} rows | {export('sqlite', rows)} | "
            f"{export('postgresql', rows)} |"
        )

    pack = dig(run, "sqlite", "delivery_pack")
    if pack:
        lines.append(
            f"| Delivery pack PDF, {pack['named']:,} signers named | "
            f"{pack['seconds']:.1f} s, {pack['peak_rss_mb']:.0f} MB peak RSS "
            f"(target < 60 s, < 300 MB) | – |"
        )

    def mail(db: str) -> str:
        data = dig(run, db, "mail")
        if not data:
            return "–"
        beside = data.get("signings_per_s")
        beside = f", signing {beside:,.0f}/s" if beside else ""
        return f"{data['messages_per_s']:,.0f} msg/s ({data['sent']:,} sent{beside})"

    lines.append(f"| Mail delivery to an SMTP sink | {mail('sqlite')} | {mail('postgresql')} |")
    inbox = dig(run, "postgresql", "time_to_inbox")
    if inbox:
        lines.append(
            f"| Sign 303 → mail accepted, {inbox['rate']}/s for {inbox['seconds']} s | | "
            f"p50 {inbox['p50_s']:.2f} s, p95 {inbox['p95_s']:.2f} s, worst "
            f"{inbox['max_s']:.2f} s, {inbox['missing']} missing, {inbox['twice']} twice "
            f"(target p95 < 5 s, worst < 15 s) |"
        )
    scale = dig(run, "postgresql", "scale_out")
    if scale and "one" in scale:
        lines.append(
            f"| Signing, 1 instance (PostgreSQL + Redis) | | "
            f"{fmt(scale['one']['signatures_per_s'])} sig/s, p99 "
            f"{fmt(scale['one']['p99_ms'], 1)} ms |"
        )
        lines.append(
            f"| Signing, 2 instances (PostgreSQL + Redis) | | "
            f"{fmt(scale['two']['signatures_per_s'])} sig/s "
            f"({' + '.join(fmt(x) for x in scale['two']['per_instance'])}), p99 "
            f"{fmt(scale['two']['p99_ms'], 1)} ms, {scale['two']['lost']} lost |"
        )
    return lines
