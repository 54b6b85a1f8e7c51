"""The leak scanner finds a secret in every form a program could write it, and
nothing else."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from devenv.secret_scan import forms, scan, secrets_in_audit_log

TOKEN = "s.Qx7" + secrets.token_urlsafe(18)
SHARE_HEX = secrets.token_bytes(33).hex()


def leaked(tmp_path: Path, content: bytes, secret: str) -> list[str]:
    (tmp_path / "file").write_bytes(content)
    return [leak.form for leak in scan([tmp_path], {"secret": secret})]


def test_found_plain_json_escaped_and_inside_json(tmp_path: Path) -> None:
    assert leaked(tmp_path, f"log: token={TOKEN}\n".encode(), TOKEN)
    odd = 'a"b\\c/' + TOKEN
    assert "JSON-escaped" in leaked(tmp_path, json.dumps({"t": odd}).encode(), odd)
    twice = json.dumps({"outer": json.dumps({"t": odd})}).encode()
    assert "JSON-escaped twice" in leaked(tmp_path, twice, odd)


def test_found_in_base64_at_every_offset_and_in_base64url(tmp_path: Path) -> None:
    for prefix in (b"", b"x", b"xy", b"xyz", b'{"root_token": "'):
        blob = base64.b64encode(prefix + TOKEN.encode() + b'"} and more')
        assert leaked(tmp_path, b"data: " + blob, TOKEN), prefix
        url = base64.urlsafe_b64encode(prefix + TOKEN.encode() + b"\xff\xfe")
        assert leaked(tmp_path, url, TOKEN), prefix


def test_a_share_found_in_its_other_spelling_and_as_bytes(tmp_path: Path) -> None:
    raw = bytes.fromhex(SHARE_HEX)
    assert leaked(tmp_path, base64.b64encode(raw), SHARE_HEX)
    assert leaked(tmp_path, b"\x00" + raw + b"\x00", SHARE_HEX)
    share_b64 = base64.b64encode(raw).decode()
    assert leaked(tmp_path, SHARE_HEX.encode(), share_b64)


def test_nothing_found_in_unrelated_or_encrypted_data(tmp_path: Path) -> None:
    other = secrets.token_bytes(4096)
    content = other + base64.b64encode(other) + other.hex().encode()
    assert leaked(tmp_path, content, TOKEN) == []
    assert leaked(tmp_path, content, SHARE_HEX) == []
    assert all(len(value) >= 8 for value in forms("short").values())


def test_every_file_under_a_directory_is_read(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "keys.json").write_text(json.dumps({"root_token": TOKEN}))
    (tmp_path / "clean.log").write_text("nothing here\n")
    found = scan([tmp_path], {"root token": TOKEN})
    assert [(leak.secret, leak.path.name) for leak in found] == [("root token", "keys.json")]
    assert TOKEN not in str(found[0]), "a report names the secret, never shows it"


def test_secrets_collected_from_a_raw_audit_log(tmp_path: Path) -> None:
    log = tmp_path / "node" / "bao.log"
    log.parent.mkdir()
    entries = [
        {"type": "request", "auth": {"client_token": TOKEN, "policies": ["root"]}},
        {"type": "response", "response": {"auth": {"client_token": "s.child-token-1"}}},
        {"type": "request", "request": {"data": {"key": SHARE_HEX, "nonce": "n-1"}}},
        {"type": "response", "response": {"data": {"keys": ["aa" * 20], "nonce": "n-1"}}},
        {"type": "request", "auth": {"client_token": "hmac-sha256:abc"}},
    ]
    log.write_text("2026 [INFO] a server line\n" + "\n".join(map(json.dumps, entries)) + "\n")
    found = set(secrets_in_audit_log([log]).values())
    assert found == {TOKEN, "s.child-token-1", SHARE_HEX, "aa" * 20}
