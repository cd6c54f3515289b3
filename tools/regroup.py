#!/usr/bin/env python3
"""Regroup campaign/services/ into domain packages (issue 27): a scripted move.

Run it from the repository's root on a clean tree (it refuses a dirty tree and refuses to
run twice):

    .venv/bin/python tools/regroup.py --plan   # what would move; lists unmapped modules
    .venv/bin/python tools/regroup.py          # do it; then review `git status`, commit

What it does, driven by PACKAGES and TESTS below:

* `git mv` each mapped module of campaign/services/ into its package (module names are
  kept, so call sites, logs and docs that name a module stay true), and each mapped test
  of tests/services/ into the folder named like its package;
* writes each new package's `__init__.py` (what the domain owns, what it may import) and
  campaign/services/__init__.py (the map, and LAYERS: the order the import test enforces);
* rewrites every import of a moved module in every tracked .py file (relative and
  absolute forms, splitting `from . import a, b` whose names land in different packages,
  re-levelling the moved modules' own relative imports), then every textual reference
  (`campaign.services.x`, `services.x`, `services/x.py`, `tests/services/test_x.py`,
  `tests.services.test_x`) in every tracked text file: monkeypatch strings,
  `python -m`, ALLOWED_LAZY, docs, catalog comments; bumps `Path(__file__).parents[N]`
  in moved tests;
* appends the layer test to tests/test_import_structure.py and redraws the services
  block of docs/architecture.md (grouped per package) with a new section "The services'
  domains" (one line per package, and the life of a signature through them);
* runs `ruff check --fix` and `ruff format`, then reports what it could not place.

Extending it: a module of campaign/services/ that is in no package's list (one added after
this mapping was written) stops the tool before it changes anything: add its name to the
package it belongs to below and run again. A test of tests/services/ missing from TESTS is
left where it is and printed. A package's place in PACKAGES is its layer: it may import
the packages before it, never the ones after it.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import runpy
import subprocess
import sys
import textwrap
import tokenize
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "campaign" / "services"

# The domain packages, bottom first: each may import only the packages listed before it.
# (name, one line for the map, what it owns, its modules). Module names are kept.
PACKAGES: list[tuple[str, str, str, list[str]]] = [
    (
        "verifier",
        "the log's pure half: Merkle math, signed notes, cosignatures, the standalone verifier",
        "The transparency log's pure half: RFC 6962 Merkle math and C2SP tiles (`tlog`),\n"
        "signed notes and checkpoints (`tlog_note`), witness cosignatures (`tlog_cosign`),\n"
        "and the standalone verifier (`tlog_verify`, `tlog_checks`, `tlog_memory`,\n"
        "`tlog_offline`). No Flask, no database: it runs on any machine with this package.",
        [
            "tlog",
            "tlog_note",
            "tlog_cosign",
            "tlog_checks",
            "tlog_memory",
            "tlog_verify",
            "tlog_offline",
        ],
    ),
    (
        "pages",
        "the campaign as shown: its files and row, the count, every cache, the rendered "
        "page, the dashboard's numbers and charts, sharing, HTML made into PDF",
        "The campaign as the public and the dashboard see it: campaigns as files (`content`)\n"
        "and their database row (`campaigns`), the sharded count (`counting`), every cache\n"
        "and its invalidations (`cache`), the rendered public page (`page_cache`), the\n"
        "dashboard's numbers (`stats`) and charts (`charts`), share links and images\n"
        "(`sharing`), and HTML made into PDF (`pdf`, for the pack and the paper sheets;\n"
        "imported only when a PDF is made). Nothing here reads personal data.",
        [
            "cache",
            "content",
            "campaigns",
            "counting",
            "page_cache",
            "stats",
            "charts",
            "sharing",
            "pdf",
        ],
    ),
    (
        "sealing",
        "personal data at rest: keys, encryption, the one decrypt path, blind indexes, the "
        "organizers' key, the audit log of every look, rotation and retention",
        "Personal data at rest: the keys and ciphers (`crypto`), the one path in and out of\n"
        "personal data (`sealed`), the keyed hashes that match signers without knowing them\n"
        "(`blind_index`), the organizers' public key (`organizer_key`), the signer's own copy\n"
        "(`signer_copy`), the append-only audit log that records every look (`audit`), key\n"
        "rotation (`rotation`) and the blind indexes' retention (`index_retention`).",
        [
            "crypto",
            "sealed",
            "blind_index",
            "organizer_key",
            "signer_copy",
            "audit",
            "rotation",
            "index_retention",
        ],
    ),
    (
        "outbox",
        "how mail leaves: the queue, templates to MIME to SMTP, leases, the worker and its "
        "processes",
        "How mail leaves: the outbox queue (`mail`), a template to a MIME message to SMTP\n"
        "(`mail_transport`), the leases and marks that send each message once\n"
        "(`mail_lease`), the delivery worker (`mail_worker`) and its processes\n"
        "(`mail_processes`). What a signer is mailed is decided above, in `letters`: the\n"
        "worker runs the renderers and preparers the app registers.",
        [
            "mail",
            "mail_transport",
            "mail_template",
            "mail_smtp",
            "mail_lease",
            "mail_worker",
            "mail_processes",
        ],
    ),
    (
        "intake",
        "what a submission is read by: the field rules, typo hints, the abuse decision; the "
        "signer links' tokens",
        "What a submission is read by before anything is stored: the field rules\n"
        "(`validation`), likely typos in a domain (`email_typos`), the one abuse decision\n"
        "and the trend alerts (`abuse`); and the signer links' tokens and absolute URLs\n"
        "(`links`), which the log, the letters and the signatures all make.",
        ["validation", "email_typos", "abuse", "links"],
    ),
    (
        "admins",
        "the organizers' accounts: roles, passwords, signing in, the second factor",
        "The organizers' accounts: roles and changes (`accounts`), argon2id passwords\n"
        "(`passwords`), signing in with its lockout (`sign_in`) and the second factor\n"
        "(`totp`).",
        ["accounts", "passwords", "sign_in", "totp"],
    ),
    (
        "log",
        "the server's transparency log: pending rows to leaves, tiles and checkpoints, "
        "receipts, witnesses, evidence bundles",
        "The server's transparency log: pending rows to leaves, tiles and signed checkpoints\n"
        "(`transparency`), the signers' receipts (`receipts`), the signing key and origins\n"
        "(`tlog_keys`), reading tiles and receipts (`tlog_reader`, `tlog_store`), witnesses\n"
        "and their cosignatures (`tlog_witness`, `tlog_push`) and evidence bundles\n"
        "(`tlog_evidence`). The math and the verifier are `verifier`'s.",
        [
            "transparency",
            "receipts",
            "tlog_keys",
            "tlog_reader",
            "tlog_store",
            "tlog_witness",
            "tlog_push",
            "tlog_evidence",
        ],
    ),
    (
        "signer_data",
        "signers' data: the consent registry, records and erasure, what the public may see, "
        "the signers table",
        "Signers' data once stored: every consent declared once (`consents`), records read\n"
        "back and erased (`privacy`), what the public may see of signers (`public`), and the\n"
        "signers table's filters, looks and trends (`signers`).",
        ["consents", "privacy", "public", "signers"],
    ),
    (
        "letters",
        "what each signer is mailed and when: signer mail, mail asked for, reminders, "
        "organizers' updates",
        "What each signer is mailed, and when: signer mail rendered at send time\n"
        "(`signer_mail`), mail a visitor asks for (`mail_requests`), the one reminder\n"
        "(`reminders`), organizers' updates and their preview (`updates`,\n"
        "`update_preview`). The queue and the worker are `outbox`'s.",
        ["signer_mail", "mail_requests", "reminders", "updates", "update_preview"],
    ),
    (
        "signatures",
        "a signature's life: signing, confirming, the batch decisions, the check-inbox note, "
        "organizers' moderation",
        "A signature's life: signing (`signing`), confirming (`confirmation`,\n"
        "`confirm_write`), a claimed batch's decisions before its mail (`signer_batch`), the\n"
        "check-inbox page's note (`inbox`), and organizers' actions on signatures\n"
        '(`moderation`). Each change to "counted" moves the count and the log with it.',
        ["signing", "confirmation", "confirm_write", "signer_batch", "inbox", "moderation"],
    ),
    (
        "paper",
        "paper signatures: printed sheets, their entry and their count",
        "",  # an existing package: its own docstring is kept
        [],
    ),
    (
        "exports",
        "what leaves the server for organizers: exports, the delivery pack and its PDF, the "
        "tools that run beside the private key",
        "What leaves the server for the organizers: the exports' entry point and presets\n"
        "(`export`, `export_presets`), signer rows as CSV or JSON Lines (`export_signers`,\n"
        "`csv_stream`, `export_parallel`), the delivery summary (`export_summary`), the\n"
        "delivery pack (`delivery`, laid out by `pack_layout`), and what organizers run\n"
        "beside their private key (`export_open`, `organizer_tools`).",
        [
            "export",
            "export_presets",
            "export_signers",
            "export_summary",
            "export_parallel",
            "csv_stream",
            "delivery",
            "pack_layout",
            "export_open",
            "organizer_tools",
        ],
    ),
]

# Tests of tests/services/ -> the folder they move to (a test missing here stays put).
TESTS: dict[str, str] = {
    "test_abuse_trends": "tests/services/intake",
    "test_email_typos": "tests/services/intake",
    "test_validation": "tests/services/intake",
    "test_validation_policy": "tests/services/intake",
    "test_cache": "tests/services/pages",
    "test_content": "tests/services/pages",
    "test_counting": "tests/services/pages",
    "test_page_cache": "tests/services/pages",
    "test_sharing": "tests/services/pages",
    "test_crypto_bulk": "tests/services/sealing",
    "test_crypto_fields": "tests/services/sealing",
    "test_decrypt_path": "tests/services/sealing",
    "test_organizer_key": "tests/services/sealing",
    "test_privacy_at_rest": "tests/services/sealing",
    "test_seizure": "tests/services/sealing",
    "test_mail": "tests/services/outbox",
    "test_export_open": "tests/services/exports",
    "test_paper": "tests/services/paper",
    "test_paper_print_runs": "tests/services/paper",
    "test_sealed_default": "tests/services/sealing",
    "test_mail_smtp": "tests/services/outbox",
    "test_mail_template": "tests/services/outbox",
    "test_mail_exactly_once": "tests/services/outbox",
    "test_mail_failures": "tests/services/outbox",
    "test_mail_faults": "tests/services/outbox",
    "test_mail_processes": "tests/services/outbox",
    "test_mail_batch": "tests/services/signatures",
    "test_mail_spam_score": "tests/services/letters",
    "test_privacy_retention": "tests/services/signer_data",
    "test_public": "tests/services/signer_data",
    "test_counted": "tests/services/signatures",
    "test_signing": "tests/services/signatures",
    "test_export": "tests/services/exports",
    "test_sheet_codes": "tests/services/paper",
    # Not services: campaign/dbapi.py and campaign/sqlite_wal.py are top-level modules.
    "test_dbapi": "tests",
    "test_sqlite_wal": "tests",
}

LIFE_OF_A_SIGNATURE = """\
A signature through the packages: the sign form is read by `intake` (`validation`, then
`abuse.check_signing`), and `signatures.signing` stores the submission, sealed by
`sealing`, with a bodiless row in the `outbox`. The `outbox` worker claims it, and
`signatures.signer_batch` and `letters.signer_mail` decide and render its mail with a link
from `intake.links`. The confirm POST is `signatures.confirmation` and `confirm_write`:
the consents of `signer_data.consents`, one shard of `pages.counting`, and a pending row
of the `log` (`transparency`), which the worker's tick publishes with the signer's receipt
(`log.receipts`, mailed through the `outbox`); anyone checks it with the `verifier`.
Organizers see it in `signer_data.signers`, may invalidate it (`signatures.moderation`),
and take it away in an export or the delivery pack (`exports`)."""

LAYER_DOC = """
Between the domain packages of campaign/services, imports only flow downward: the
order is LAYERS in campaign/services/__init__.py, bottom first (issue 27).
"""

LAYER_TEST = '''

# The domain packages of campaign/services (issue 27): imports only flow downward.


def layers() -> list[str]:
    """The domain packages, bottom first, as campaign/services/__init__.py declares them."""
    tree = ast.parse((PACKAGE / "services" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "LAYERS" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("campaign/services/__init__.py declares no LAYERS")


def domain(module: str) -> str | None:
    """`campaign.services.sealing.crypto` -> "sealing"; None outside the services."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["campaign", "services"] and len(parts) > 2 else None


def upward_imports(graph: dict[str, set[str]], order: list[str]) -> list[str]:
    """Every import of a later (higher) domain package from an earlier (lower) one."""
    rank = {name: place for place, name in enumerate(order)}
    found = []
    for module, targets in graph.items():
        for target in targets:
            low, high = domain(module), domain(target)
            if low in rank and high in rank and rank[high] > rank[low]:
                found.append(f"{module} ({low}) imports {target} ({high})")
    return sorted(found)


def test_every_service_module_lives_in_a_declared_domain():
    order = layers()
    services = PACKAGE / "services"
    loose = sorted(p.name for p in services.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"put these in a domain package of campaign/services: {loose}"
    packages = sorted(p.parent.name for p in services.glob("*/__init__.py"))
    assert packages == sorted(order), "LAYERS must name every package of campaign/services"


def test_imports_between_domains_only_flow_downward():
    graph = import_graph()
    for module, target in lazy_imports():
        graph[module].add(target)
    assert upward_imports(graph, layers()) == []


def test_the_layer_check_sees_an_upward_import():
    graph = {
        "campaign.services.low.a": {"campaign.services.high.b", "campaign.models"},
        "campaign.services.high.b": {"campaign.services.low", "campaign.services.low.a"},
    }
    assert upward_imports(graph, ["low", "high"]) == [
        "campaign.services.low.a (low) imports campaign.services.high.b (high)"
    ]
'''


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, check=check, text=True, capture_output=True)  # noqa: S603


def tracked() -> list[str]:
    return run("git", "ls-files").stdout.splitlines()


def fail(message: str) -> None:
    print(f"regroup: {message}", file=sys.stderr)
    sys.exit(2)


# --- the plan ----------------------------------------------------------------------------


def plan() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Old dotted module -> new dotted module (services and tests), and the notes."""
    notes: list[str] = []
    names = [name for name, *_ in PACKAGES]
    mapped: dict[str, str] = {}
    for package, _line, _owns, modules in PACKAGES:
        for module in modules:
            if module in mapped:
                fail(f"{module} is mapped twice ({mapped[module]}, {package})")
            mapped[module] = package
    flat = sorted(p.stem for p in SERVICES.glob("*.py") if p.stem != "__init__")
    subpackages = sorted(p.parent.name for p in SERVICES.glob("*/__init__.py"))
    unmapped = [m for m in flat if m not in mapped]
    if unmapped:
        fail(
            "modules in campaign/services/ that no package lists (add each to PACKAGES in "
            "tools/regroup.py, then run again): " + ", ".join(unmapped)
        )
    stray = [p for p in subpackages if p not in names]
    if stray:
        fail("packages in campaign/services/ that PACKAGES doesn't list: " + ", ".join(stray))
    clash = sorted(set(names) & (set(flat) | set(mapped)))
    if clash:
        fail(f"a package can't share a name with a module: {clash}")
    for module, package in mapped.items():
        if module not in flat:
            notes.append(f"mapped but absent (stale mapping line?): {module} -> {package}")
    moves = {f"campaign.services.{m}": f"campaign.services.{mapped[m]}.{m}" for m in flat}
    tests_dir = ROOT / "tests" / "services"
    test_moves: dict[str, str] = {}
    for path in sorted(tests_dir.glob("test_*.py")):
        folder = TESTS.get(path.stem)
        if folder is None:
            notes.append(f"test left where it is (no folder in TESTS): {path.relative_to(ROOT)}")
            continue
        dotted = folder.replace("/", ".")
        test_moves[f"tests.services.{path.stem}"] = f"{dotted}.{path.stem}"
    return moves, test_moves, notes


def file_module(path: str) -> tuple[str, bool]:
    """A tracked .py path -> its dotted module name and whether it is a package."""
    parts = list(Path(path).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def module_path(dotted: str, is_package: bool) -> str:
    base = dotted.replace(".", "/")
    return f"{base}/__init__.py" if is_package else f"{base}.py"


# --- imports -----------------------------------------------------------------------------


def relative(package: list[str], target: str) -> str:
    parts = target.split(".")
    common = 0
    while common < min(len(package), len(parts)) and package[common] == parts[common]:
        common += 1
    if common == 0:
        return target
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


def renamed(dotted: str, moves: dict[str, str]) -> str:
    for old, new in moves.items():
        if dotted == old or dotted.startswith(old + "."):
            return new + dotted[len(old) :]
    return dotted


def alias_text(name: str, asname: str | None) -> str:
    return name if asname is None else f"{name} as {asname}"


def rewrite_imports(source: str, old: str, new: str, is_package: bool, moves) -> str:
    """The source with every import of a moved module rewritten (and, if the file moved,
    its relative imports re-levelled from its new place)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    old_package = old.split(".") if is_package else old.split(".")[:-1]
    new_package = new.split(".") if is_package else new.split(".")[:-1]
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = old_package[: len(old_package) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            groups: OrderedDict[str, list[str]] = OrderedDict()
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in moves:
                    target_base, name = moves[full].rsplit(".", 1)
                    text = alias_text(name, alias.asname or None)
                else:
                    target_base = renamed(base, moves)
                    text = alias_text(alias.name, alias.asname)
                groups.setdefault(target_base, []).append(text)
            if list(groups) == [base] and (not node.level or old_package == new_package):
                continue
            statements = []
            for target_base, names in groups.items():
                where = relative(new_package, target_base) if node.level else target_base
                statements.append(f"from {where} import {', '.join(names)}")
            edits.append((node.lineno, node.end_lineno, statements, node))
        elif isinstance(node, ast.Import):
            names = [alias_text(renamed(a.name, moves), a.asname) for a in node.names]
            if names != [alias_text(a.name, a.asname) for a in node.names]:
                edits.append((node.lineno, node.end_lineno, [f"import {', '.join(names)}"], node))
    for first, last, statements, node in sorted(edits, key=lambda e: -e[0]):
        head, tail = lines[first - 1], lines[last - 1]
        indent = head[: node.col_offset]
        rest = tail[node.end_col_offset :]
        if indent.strip() or rest.strip() and not rest.strip().startswith("#"):
            fail(f"{new}: line {first}: an import sharing its line; rewrite it by hand")
        inner = "".join(lines[first - 1 : last])[node.col_offset :]
        if "#" in inner.split("\n", 1)[-1] and last > first:
            print(f"regroup: note: {new}:{first}: comments inside this import were dropped")
        comment = rest.rstrip("\n")
        body = "".join(f"{indent}{s}{comment if comment.strip() else ''}\n" for s in statements)
        lines[first - 1 : last] = [body]
    return "".join(lines)


# --- text --------------------------------------------------------------------------------


def text_rules(moves: dict[str, str], test_moves: dict[str, str]) -> list[tuple[re.Pattern, str]]:
    rules = []
    for old, new in moves.items():
        stem = old.rsplit(".", 1)[1]
        package = new.split(".")[2]
        # campaign.services.x, services.x (dotted), campaign/services/x, services/x(.py)
        rules.append(
            (
                re.compile(rf"(?<![\w])((?:campaign\.)?services)\.{stem}(?![\w])"),
                rf"\1.{package}.{stem}",
            )
        )
        rules.append(
            (
                re.compile(rf"(?<![\w])((?:campaign/)?services)/{stem}(?![\w])"),
                rf"\1/{package}/{stem}",
            )
        )
    for old, new in test_moves.items():
        stem = old.rsplit(".", 1)[1]
        rules.append((re.compile(rf"(?<![\w.])tests\.services\.{stem}(?![\w])"), new))
        rules.append(
            (re.compile(rf"(?<![\w/])tests/services/{stem}(?![\w])"), new.replace(".", "/"))
        )
    return rules


def rewrite_text(text: str, rules) -> tuple[str, int]:
    count = 0
    for pattern, replacement in rules:
        text, n = pattern.subn(replacement, text)
        count += n
    return text, count


# Lines a longer name pushes past 100 columns that no general rule can break (a string a
# program prints or compares): (path after the move, the line's text, its replacement).
FIXUPS: list[tuple[str, str, str]] = [
    (  # the check's own example of a hidden import, in a string: the new layout's form
        "tests/test_import_structure.py",
        '"def f():\\n    from ..services import signing\\n"',
        '"def f():\\n    from ..services.signatures import signing\\n"',
    ),
    (
        "campaign/services/verifier/tlog_verify.py",
        '"usage: python -m campaign.services.verifier.tlog_verify URL '
        '[VERIFIER-KEY [WITNESS-KEY…]]"',
        '"usage: python -m campaign.services.verifier.tlog_verify"\n'
        '            " URL [VERIFIER-KEY [WITNESS-KEY…]]"',
    ),
    (
        "tests/services/sealing/test_decrypt_path.py",
        '"services/sealing/organizer_key.py": '
        '"HPKE open with the organizers\' private key (offline tools)",',
        '"services/sealing/organizer_key.py": (\n'
        '        "HPKE open with the organizers\' private key (offline tools)"\n'
        "    ),",
    ),
]

# Files the rewrite leaves alone: this tool, and past benchmark results (records of what
# ran then, under the names it had then).
KEEP = ("tools/regroup.py", "bench/results/")

LIMIT = 100
BULLET = re.compile(r"([*•-]|\d+\.)\s")


def shorten(text: str, before: set[str], where: str, notes: list[str]) -> str:
    """Comments and docstring lines past LIMIT wrapped (the overflow joins the paragraph's
    next line); a trailing comment past LIMIT moved above its code. Code is left alone."""
    lines = text.splitlines(keepends=True)
    if all(len(line.rstrip("\n")) <= LIMIT for line in lines):
        return text
    prose: set[int] = set()
    comments: set[int] = set()
    trailing: dict[int, int] = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        row, col = token.start
        if token.type == tokenize.STRING and token.end[0] > row:
            prose.update(range(row, token.end[0] + 1))
        elif token.type == tokenize.COMMENT:
            if lines[row - 1][:col].strip():
                trailing[row] = col
            else:
                comments.add(row)
    out: list[str] = []
    carry = carry_prefix = ""
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\n")
        indent = body[: len(body) - len(body.lstrip())]
        if carry:
            stripped = body.strip()
            prefix = indent + ("# " if number in comments else "")
            same = (number in comments or number in prose) and body.startswith(prefix)
            rest = stripped[2:] if number in comments else stripped
            if same and rest and not BULLET.match(rest) and not rest.startswith('"""'):
                body = f"{prefix}{carry} {rest}"
            else:
                out.append(f"{carry_prefix}{carry}\n")
            carry = ""
        if len(body) <= LIMIT or body in before:
            out.append(body + "\n")
            continue
        if number in trailing:
            code, comment = body[: trailing[number]].rstrip(), body[trailing[number] :]
            out.append(f"{indent}{comment}\n")
            out.append(f"{code}\n")
            notes.append(f"moved a comment the longer names pushed past {LIMIT}: {where}:{number}")
            continue
        if number in comments or number in prose:
            cut = body.rfind(" ", len(indent) + 3, LIMIT + 1)
            if cut > 0:
                carry = body[cut + 1 :]
                carry_prefix = indent + ("# " if number in comments else "")
                out.append(body[:cut] + "\n")
                notes.append(
                    f"wrapped a line the longer names pushed past {LIMIT}: {where}:{number}"
                )
                continue
        out.append(body + "\n")
    if carry:
        out.append(f"{carry_prefix}{carry}\n")
    result = "".join(out)
    return result if text.endswith("\n") else result.rstrip("\n")


# --- generated text ----------------------------------------------------------------------


def services_init() -> str:
    rows = []
    for name, line, *_ in reversed(PACKAGES):
        first, *more = wrap(line, 72)
        rows.append(f"{name + '/':<14}{first}")
        rows += [" " * 14 + m for m in more]
    names = tuple(name for name, *_ in PACKAGES)
    return (
        '"""Domain services: plain functions with no HTTP in them, called by views and CLI '
        "commands.\n\n"
        "One package per domain, drawn from the top down; each may import only the packages\n"
        "below it (LAYERS, bottom first; tests/test_import_structure.py enforces it):\n\n"
        + "\n".join(rows)
        + '\n"""\n\n'
        + f"LAYERS = {names!r}\n"
    )


def package_init(index: int) -> str:
    name, _line, owns, _modules = PACKAGES[index]
    below = [n for n, *_ in PACKAGES[:index]]
    may = (
        "It may import the models, the app's extensions and these packages below it: "
        + ", ".join(f"`{n}`" for n in below)
        + ". Nothing above it, and nothing from the web layer."
        if below
        else "It imports no other package of the services, nor Flask's app."
    )
    may = textwrap.fill(may, 88)
    return f'"""{owns}\n\n{may}\n"""\n'


def architecture(text: str, moves: dict[str, str]) -> str:
    """The services block of the Layout regrouped per package, and the domains section."""
    lines = text.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("  services/ "))
    except StopIteration:
        print("regroup: note: docs/architecture.md has no services block; left alone")
        return text
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    entries: dict[str, list[str]] = {}
    current = None
    for line in lines[start + 1 : end]:
        match = re.match(r"    (\S+?)(\.py|/)(\s+)(.*)", line)
        if match and not line.startswith("     "):
            current = match.group(1)
            entries[current] = [match.group(4)]
        elif current is not None:
            entries[current].append(line.strip())
    package_of = {old.rsplit(".", 1)[1]: new.split(".")[2] for old, new in moves.items()}
    out = [
        "  services/          domain logic, no HTTP: plain functions that views and CLI call,",
        "                     one package per domain (`__init__.py`: what it owns, what it may",
        "                     import; LAYERS: the order)",
    ]
    for name, line, _owns, _modules in reversed(PACKAGES):
        first, *more = wrap(line, 70)
        out.append(f"    {name + '/':<17}{first}")
        out += [" " * 21 + m for m in more]
        members = sorted(m for m, p in package_of.items() if p == name)
        for module in members:
            description = entries.pop(module, None)
            if description is None:
                print(f"regroup: note: docs/architecture.md had no line for {module}.py")
                description = ["(no line yet)"]
            label = f"      {module}.py"
            first, *more = wrap(" ".join(description), 66)
            out.append(f"{label:<24}  {first}" if len(label) > 24 else f"{label:<26}{first}")
            out += [" " * 26 + m for m in more]
    for module, description in entries.items():  # described, but no moved module: kept
        print(f"regroup: note: docs/architecture.md describes {module}, which didn't move")
        out.append(f"{'    ' + module:<21}{description[0]}")
        out += [" " * 21 + d for d in description[1:]]
    lines[start:end] = out
    text = "\n".join(lines)
    section = domains_section()
    anchor = "## The petition views and the module graph"
    if anchor in text:
        text = text.replace(anchor, section + "\n" + anchor, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    return text


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def domains_section() -> str:
    rows = "\n".join(f"- `{name}/`: {line}." for name, line, *_ in reversed(PACKAGES))
    order = " → ".join(name for name, *_ in reversed(PACKAGES))
    return (
        "## The services' domains\n\n"
        "`campaign/services/` is one package per domain, drawn from the top down. A package\n"
        "imports only the packages below it (`LAYERS` in `campaign/services/__init__.py`,\n"
        "enforced by `tests/test_import_structure.py` with the no-cycle and no-hidden-import\n"
        "checks), and each `__init__.py` says what it owns and what it may import. Tests of\n"
        "the services sit in `tests/services/<package>/`.\n\n"
        f"{rows}\n\n"
        f"Imports flow {order}.\n\n"
        f"{LIFE_OF_A_SIGNATURE}\n"
    )


# --- the run -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", action="store_true", help="print the moves, change nothing")
    args = parser.parse_args()

    if (SERVICES / "__init__.py").read_text().find("LAYERS") >= 0:
        fail("campaign/services is already regrouped (its __init__ declares LAYERS): not twice")
    made = [n for n, _l, owns, _m in PACKAGES if owns and (SERVICES / n).exists()]
    if made:
        fail(f"campaign/services already has {made}: regrouped once, not twice")
    moves, test_moves, notes = plan()
    for old, new in {**moves, **test_moves}.items():
        print(f"{old} -> {new}")
    for note in notes:
        print(f"regroup: note: {note}")
    if args.plan:
        return
    if run("git", "status", "--porcelain", "--untracked-files=no").stdout.strip():
        fail("the work tree has uncommitted changes: commit or drop them first")

    every = {**moves, **test_moves}
    rules = text_rules(moves, test_moves)
    files = [f for f in tracked() if (ROOT / f).is_file() and not f.startswith(KEEP)]

    # 1. Rewrite every file's imports and text in memory, keyed by its new path.
    written: dict[str, str] = {}
    counts: dict[str, int] = {}
    for path in files:
        raw = (ROOT / path).read_bytes()
        if b"\0" in raw or path.endswith(".mo"):
            continue
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            continue
        new_path = path
        if path.endswith(".py"):
            old, is_package = file_module(path)
            new = every.get(old, old)
            new_path = module_path(new, is_package)
            try:
                text = rewrite_imports(text, old, new, is_package, moves)
            except SyntaxError:
                notes.append(f"{path} does not parse: its imports were not rewritten")
            if new != old:
                depth = new.count(".") - old.count(".")
                text = re.sub(
                    r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]",
                    lambda m, depth=depth: (
                        f"Path(__file__).resolve().parents[{int(m.group(1)) + depth}]"
                    ),
                    text,
                )
                if re.search(r"__file__(?!\)\.resolve\(\)\.parents)", text):
                    notes.append(f"{new_path} uses __file__ otherwise: check its paths")
        text, n = rewrite_text(text, rules)
        for where, before, after in FIXUPS:
            if new_path == where and before in text:
                text = text.replace(before, after)
        if new_path.endswith(".py"):
            try:
                text = shorten(text, set(raw.decode().splitlines()), new_path, notes)
            except (tokenize.TokenError, SyntaxError):
                notes.append(f"{new_path}: long lines not wrapped (does not tokenize)")
        if text != raw.decode():
            written[new_path] = text
            counts[new_path] = n

    # 2. Move the files (git mv) and create the packages.
    for old, new in every.items():
        source, target = module_path(old, False), module_path(new, False)
        (ROOT / target).parent.mkdir(parents=True, exist_ok=True)
        run("git", "mv", source, target)
    for index, (name, *_rest) in enumerate(PACKAGES):
        init = SERVICES / name / "__init__.py"
        if init.exists():
            notes.append(f"campaign/services/{name}/__init__.py exists: its docstring is kept")
            continue
        init.parent.mkdir(exist_ok=True)
        init.write_text(package_init(index))
        run("git", "add", str(init.relative_to(ROOT)))
    for folder in sorted({new.rsplit(".", 1)[0] for new in test_moves.values()}):
        init = ROOT / folder.replace(".", "/") / "__init__.py"
        if not init.exists():
            init.write_text("")
            run("git", "add", str(init.relative_to(ROOT)))
    for path, text in written.items():
        (ROOT / path).write_text(text)

    # 3. The map, the layer test, the docs.
    (SERVICES / "__init__.py").write_text(services_init())
    structure = ROOT / "tests" / "test_import_structure.py"
    test_text = structure.read_text()
    closing = 'importing the package\'s own blueprint (`from . import bp`).\n"""\n'
    if closing in test_text:
        test_text = test_text.replace(closing, closing[:-4] + LAYER_DOC + '"""\n', 1)
    else:
        notes.append("tests/test_import_structure.py's docstring: add a line on the layers")
    if "def layers()" in test_text:
        notes.append("tests/test_import_structure.py already has layers(): not appended")
    else:
        structure.write_text(test_text.rstrip("\n") + "\n" + LAYER_TEST)
    doc = ROOT / "docs" / "architecture.md"
    if doc.exists():
        doc.write_text(architecture(doc.read_text(), moves))

    # 4. Lint and format, then what is left for a person.
    ruff = str(ROOT / ".venv" / "bin" / "ruff")
    ruff = ruff if Path(ruff).exists() else "ruff"
    run(ruff, "check", "--fix", "--quiet", ".", check=False)
    run(ruff, "format", "--quiet", ".", check=False)
    checked = run(ruff, "check", "--quiet", ".", check=False)
    if checked.returncode:
        notes.append("ruff check still reports:\n" + checked.stdout + checked.stderr)
    run("git", "add", "--update")
    stale = re.compile(
        r"(?<![\w])(?:campaign\.services\.|services/)(?:"
        + "|".join(re.escape(old.rsplit(".", 1)[1]) for old in moves)
        + r")\b"
    )
    for path in tracked():
        full = ROOT / path
        if not full.is_file() or path.startswith(KEEP) or path.endswith(".mo"):
            continue
        try:
            body = full.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(body.splitlines(), 1):
            if stale.search(line):
                notes.append(f"an old name is left: {path}:{number}: {line.strip()}")
    structure_test = runpy.run_path(str(structure))
    graph = structure_test["import_graph"]()
    for module, target in structure_test["lazy_imports"]():
        graph[module].add(target)
    for edge in structure_test["upward_imports"](graph, structure_test["layers"]()):
        notes.append(f"an import against LAYERS (move a module, or reorder PACKAGES): {edge}")
    for cycle in structure_test["cycles"](graph):
        notes.append(f"an import cycle: {cycle}")
    for note in notes:
        print(f"regroup: note: {note}")
    print(
        f"regroup: moved {len(moves)} modules and {len(test_moves)} tests; rewrote "
        f"{len(written)} files. Next: review `git status`, run ruff and "
        "tests/test_import_structure.py, then the suite (the changes are staged)."
    )


if __name__ == "__main__":
    main()
