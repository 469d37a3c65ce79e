"""Collecting from nbgrader's exchange without letting one student hand in work as another.

On a hub, ``nbgrader submit`` names a submission ``STUDENT+ASSIGNMENT+TIMESTAMP+RANDOM`` in
the exchange's ``inbound/`` folder, and STUDENT is whatever the submitter says: ``nbgrader
submit --student someone-else`` (or a copy made in a terminal) puts work under another
student's name.  The Linux account that owns the folder is the only proof of who handed it
in.  nbgrader's collect compares the two but only logs a warning ("cheating attempt?") and
collects the submission anyway; since it takes each student's latest (``init_src`` of
nbgrader 0.9.6's ``ExchangeCollect``), a late forgery replaces the real work.
tests/hub/test_hub.py hands one in on a real hub and checks that this collect refuses it.

:class:`CheckedCollect` is the collect step of the course (``c.ExchangeFactory.collect`` in
``nbgrader_config.py``), used by ``nbgrader collect`` and by the formgrader's *Collect*
button alike.  It takes each student's latest submission **that the student owns**, never
one owned by another account, and, once the genuine submissions are collected, fails
(``nbgrader collect`` exits with 1; the formgrader shows the error) naming every forgery:
who claimed to be whom, and the folder to keep as evidence.

Who owns a folder is read one of two ways (``c.CheckedCollect.owners``):

- ``"accounts"`` (the default): the folder's owner is a Linux account named like the student,
  as on a hub whose servers run as the students' own accounts (hub/jupyterhub_config.py);
- ``"uid_of_name"``: the folder's uid must be :func:`uid_of` the student's name, as on a
  Kubernetes hub (Zero to JupyterHub) whose pods have no accounts but each run as a uid of
  their own, that same function of the user's name (hub/kubernetes/values.yaml).

With ``c.ExchangeCollect.check_owner = False`` it collects as nbgrader does: only for a hub
where every server runs as one account, which cannot tell students apart by owner at all.
"""

from __future__ import annotations

import hashlib
import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Enum

UID_BASE = 1_000_000  # above the uids of system accounts and of the usual local users
UID_SPAN = 2**30  # so uids stay below 2**31; for 1,000 users two share one with probability 5e-4


def uid_of(name: str) -> int:
    """Return the uid a Kubernetes hub runs ``name``'s server as: a fixed function of the name.

    The hub's spawner (hub/kubernetes/values.yaml, which holds a copy checked equal by
    tests/test_exchange.py) and the course's collect compute it alike, so no table of users
    has to be shared between them.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN


def owner_of(path: str) -> str:
    """Return the account name that owns ``path`` (its uid in brackets when no account has it)."""
    uid = os.stat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"[uid {uid}]"


class CheckedCollect(ExchangeCollect):
    """nbgrader's collect that takes only submissions their student owns, and fails naming the others."""

    owners = Enum(
        ["accounts", "uid_of_name"], default_value="accounts",
        help="How a submission's owner is checked against the student it names: 'accounts', the folder's owner "
             "is the student's Linux account (a hub of local accounts); 'uid_of_name', the folder's uid is "
             "te_course._exchange.uid_of(student) (a Kubernetes hub that runs each pod as that uid).",
    ).tag(config=True)

    def init_src(self) -> None:
        self.forged = []  # (inbound folder, claimed student, owner), sorted, filled by _path_to_record
        self.genuine = 0  # how many submissions their student owns
        super().init_src()
        self.forged.sort()

    def _path_to_record(self, path: str) -> dict:
        record = super()._path_to_record(path)
        record["genuine"] = True
        if self.check_owner:
            if self.owners == "accounts":
                owner = owner_of(path)
                genuine = owner == record["username"]
            else:
                uid = os.stat(path).st_uid
                genuine = uid == uid_of(record["username"])
                owner = f"uid {uid} (not {uid_of(record['username'])}, theirs)"
            if not genuine:
                record["genuine"] = False
                self.forged.append((record["filename"], record["username"], owner))
            else:
                self.genuine += 1
        return record

    def _sort_by_timestamp(self, records: list[dict]) -> list[dict]:
        # nbgrader takes the first of each student's records: the latest genuine one, forgeries last.
        return sorted(records, key=lambda r: (r["genuine"], r["timestamp"]), reverse=True)

    def copy_files(self) -> None:
        self.src_records = [r for r in self.src_records if r["genuine"]]
        super().copy_files()
        claimed = {c for _, c, _ in self.forged}
        owners = {o for _, _, o in self.forged}
        if self.forged and not self.genuine and len(claimed) > 1 and len(owners) == 1:
            self.fail(
                f"every submission of '{self.coursedir.assignment_id}' in {self.inbound_path} is owned by "
                f"{owners.pop()}, none by the student it names: this hub runs every server as one account (as "
                "Zero to JupyterHub does by default, uid 1000), so the folders' owners prove nothing, and nothing "
                "was collected. Give each server a uid of its own and set c.CheckedCollect.owners = 'uid_of_name' "
                "(hub/kubernetes/values.yaml does both), or use an exchange that knows who submitted (ngshare, "
                "nbexchange) with c.ExchangeCollect.check_owner = False.")
        if self.forged:
            lines = "\n".join(f"  {name}: claims to be {claimed}'s, but {owner} owns it"
                              for name, claimed, owner in self.forged)
            self.fail(
                f"{len(self.forged)} submission(s) of '{self.coursedir.assignment_id}' in {self.inbound_path} were "
                f"handed in under another student's name and were NOT collected:\n{lines}\n"
                "Each student's latest submission of their own was collected. Keep the folders above as "
                "evidence; only an administrator (or their owner) can remove them, and this collect reports "
                "them again until then.")
