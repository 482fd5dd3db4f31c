"""The token `fwjr replay` presents to the store's owner (scope replay:write).

In production it comes from FWJR_REPLAY_TOKEN (a token an admin created with `fwjr tokens
create`). The local default stack makes its own at `fwjr up`, for a local service account,
and leaves it in FWJR_HOME for the replay process of the same user to read.
"""

from __future__ import annotations

from fwjr.config import Settings
from fwjr.ops import accounts, audit, tokens
from fwjr.ops.database import session
from fwjr.ops.migrate import upgrade
from fwjr.ops.roles import Role
from fwjr.ops.secrets_file import read_private, write_private

LOCAL_ACCOUNT = "fwjr-local"
LABEL = "local replay"
SCOPE = "replay:write"


def read(settings: Settings) -> str | None:
    """The token to send: FWJR_REPLAY_TOKEN, else the local stack's file."""
    return settings.replay_token or read_private(settings.replay_token_file)


def ensure_local(settings: Settings) -> None:
    """Migrate the operational database and leave a working replay token in FWJR_HOME.

    A token still valid is kept; otherwise the local account's earlier replay tokens are
    revoked and a new one is written.
    """
    upgrade(settings.ops_url)
    existing = read_private(settings.replay_token_file)
    with session(settings.ops_url) as opened:
        if existing:
            bearer = tokens.resolve(opened, existing)
            if bearer is not None and SCOPE in bearer.scopes:
                return
        account = accounts.find(opened, LOCAL_ACCOUNT)
        if account is None:
            account = accounts.create(opened, LOCAL_ACCOUNT, role=Role.admin, source="local")
        for old in account.tokens:
            if old.label == LABEL and old.revoked is None:
                tokens.revoke(opened, old.id)
        row, text = tokens.create(opened, account, [SCOPE], LABEL)
        audit.record(opened, f"local:{LOCAL_ACCOUNT}", "token.create", f"token {row.id}", {"scopes": [SCOPE]})
    write_private(settings.replay_token_file, text)
