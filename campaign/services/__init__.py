"""Domain services: plain functions with no HTTP in them, called by views and CLI commands.

One package per domain, drawn from the top down; each may import only the packages
below it (LAYERS, bottom first; tests/test_import_structure.py enforces it):

exports/      what leaves the server for organizers: exports, the delivery pack and
              its layout, the tools that run beside the private key
paper/        paper signatures: printed sheets, their entry and their count
signatures/   a signature's life: signing, confirming, the batch decisions, the
              check-inbox note, organizers' moderation
letters/      what each signer is mailed and when: signer mail, mail asked for,
              reminders, organizers' updates
signer_data/  signers' data: the consent registry, records and erasure, what the
              public may see, the signers table
log/          the server's transparency log: pending rows to leaves, tiles and
              checkpoints, receipts, witnesses, evidence bundles
admins/       the organizers' accounts: roles, passwords, signing in, the second
              factor
intake/       what a submission is read by: the field rules, typo hints, the abuse
              decision; the signer links' tokens
outbox/       how mail leaves: the queue, templates to MIME to SMTP, leases, the
              worker and its processes
sealing/      personal data at rest: keys, encryption, the one decrypt path, blind
              indexes, the organizers' key, the audit log of every look, rotation and
              retention
pages/        the campaign as shown: its files and row, the count, every cache, the
              rendered page, the dashboard's numbers and charts, sharing, HTML made
              into PDF
verifier/     the log's pure half: Merkle math, signed notes, cosignatures, the
              standalone verifier
"""

LAYERS = (
    "verifier",
    "pages",
    "sealing",
    "outbox",
    "intake",
    "admins",
    "log",
    "signer_data",
    "letters",
    "signatures",
    "paper",
    "exports",
)
