"""The data model (SQLAlchemy 2.0): import every model from here.

Personal data (name, email, comment) lives only in `Signature`, encrypted, and is
encrypted and decrypted only through `campaign.services.sealing.sealed` (the one decrypt path).
Lookups use keyed hashes ("blind indexes"), so the database alone reveals no one.

One module per group of tables: `signatures` (campaigns, counts, consent wordings,
signatures, name tokens), `outbox`, `paper` (sheets entered), `print_runs` (paper
sheets printed), `organizers` (accounts, audit log, updates) and `tlog` (the
transparency log); `common` holds what they share. Importing this package registers
every table on `db.metadata`.
"""

from .common import utc_iso, utcnow
from .organizers import AdminUser, AuditEvent, CampaignUpdate, UpdatePublication
from .outbox import OutboxMessage
from .paper import ONLINE, PAPER, CheckResult, PaperSheet
from .print_runs import PrintRun
from .signatures import (
    COUNT_SHARDS,
    Campaign,
    ConsentWording,
    CountShard,
    NameToken,
    Signature,
    SignatureStatus,
    is_counted,
)
from .superseded import SupersededLink
from .tlog import (
    TlogCheckpoint,
    TlogCosignature,
    TlogEntry,
    TlogPending,
    TlogTile,
    TlogWitness,
)

__all__ = [
    "COUNT_SHARDS",
    "ONLINE",
    "PAPER",
    "AdminUser",
    "AuditEvent",
    "Campaign",
    "CampaignUpdate",
    "CheckResult",
    "ConsentWording",
    "CountShard",
    "NameToken",
    "OutboxMessage",
    "PaperSheet",
    "PrintRun",
    "Signature",
    "SignatureStatus",
    "SupersededLink",
    "TlogCheckpoint",
    "TlogCosignature",
    "TlogEntry",
    "TlogPending",
    "TlogTile",
    "TlogWitness",
    "UpdatePublication",
    "is_counted",
    "utc_iso",
    "utcnow",
]
