"""A witness for the tests, written from the text of c2sp.org/tlog-witness (no outside
implementation builds here: litewitness and omniwitness are Go modules outside the
registries this machine reaches). It keeps, per log origin, the last checkpoint it
cosigned, and answers POST <prefix>/add-checkpoint as the spec says: 404 for an unknown
origin, 403 for no trusted signature, 400 for an old size over the checkpoint's, 409
with its own size (text/x.tlog.size) when the old size is not the one it holds, or when
the sizes match and the roots don't, 422 for a consistency proof that fails, and 200
with its cosignature lines. Check and update are one step under a lock."""

from __future__ import annotations

import base64
import http.server
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign.services.verifier import tlog, tlog_cosign, tlog_note
from tests.helpers import free_port


class SpecWitness:
    def __init__(self, name: str, log_vkeys: list[str], *, plain: bool = False, delay=0.0):
        self.name = name
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes_raw()
        # cosignature/v1 (0x04), or a plain Ed25519 note key (0x01) when `plain`.
        self.plain = plain
        self.vkey = (
            tlog_note.verifier_key(name, public) if plain else tlog_cosign.witness_key(name, public)
        )
        self.logs = {tlog_note.parse_verifier_key(v)[0]: v for v in log_vkeys}
        self.state: dict[str, tuple[int, bytes]] = {}  # origin → (size, root) cosigned
        self.lock = threading.Lock()
        self.delay = delay
        self.asked = threading.Event()  # set as a request arrives, before any delay
        self.requests: list[str] = []
        self.server: http.server.ThreadingHTTPServer | None = None

    # --- the protocol -------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> tuple[int, str, bytes]:
        text = body.decode("utf-8")
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old ") or len(lines) > 64:
            return 400, "text/plain", b"malformed\n"
        old_text = lines[0][4:]
        if not tlog_note.SIZE_LINE.match(old_text):
            return 400, "text/plain", b"bad old size\n"
        old = int(old_text)
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
        origin = note.split("\n", 1)[0]
        if origin not in self.logs:
            return 404, "text/plain", b"unknown log\n"
        try:
            _, size, root = tlog_note.open_checkpoint(note, self.logs[origin])
        except ValueError:
            return 403, "text/plain", b"no trusted signature\n"
        if old > size:
            return 400, "text/plain", b"old size over the checkpoint's\n"
        with self.lock:
            held_size, held_root = self.state.get(origin, (0, b""))
            if old != held_size:
                return 409, "text/x.tlog.size", f"{held_size}\n".encode()
            if old == size and held_size and root != held_root:
                return 409, "text/x.tlog.size", f"{held_size}\n".encode()
            if old == 0 and proof:
                return 422, "text/plain", b"a proof from size 0\n"
            if 0 < old < size and not tlog.verify_consistency(old, size, held_root, root, proof):
                return 422, "text/plain", b"inconsistent\n"
            self.state[origin] = (size, root)
        body_text = tlog_note.note_parts(note)[0]
        if self.plain:
            signed = tlog_note.sign_note(body_text, self.name, self.key)
            line = signed.rstrip("\n").split("\n")[-1]
        else:
            line = tlog_cosign.cosign(body_text, self.name, self.key, int(time.time()))
        return 200, "text/plain", (line + "\n").encode()

    # --- the HTTP server ----------------------------------------------------------

    def start(self) -> str:
        witness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                witness.asked.set()
                if witness.delay:
                    time.sleep(witness.delay)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                witness.requests.append(body.decode("utf-8", "replace"))
                if self.path != "/w/add-checkpoint":
                    status, kind, answer = 404, "text/plain", b"no such endpoint\n"
                else:
                    status, kind, answer = witness.add_checkpoint(body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/w"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
