#!/usr/bin/python3
# Managed by haforge (templates/postgres/patroni-pending-restarts.py, shipped as it is).
#
# Restarts the members of a Patroni cluster whose PostgreSQL has a setting waiting for a restart
# (Patroni's "pending restart": a parameter such as max_connections or shared_buffers changed by
# a reload or by `patronictl edit-config`), the way Patroni's documentation does it: the replicas
# first, one at a time, each back and running before the next; then a switchover to a replica
# already restarted (in synchronous mode: the synchronous standby, the only one Patroni may
# promote), which restarts the old leader as a replica; a leader is restarted in place only when
# no healthy replica is left to switch over to.
# https://patroni.readthedocs.io/en/latest/patroni_configuration.html (restart, pending_restart)
#
# Usage: patroni-pending-restarts.py CONFIG CLUSTER SETTLE_SECONDS
#   SETTLE_SECONDS: how long a member may take to notice a change (its loop_wait, twice): the
#   script waits that long for a pending restart to show before it concludes there is none.
# Exit 0 when no member is pending any more; 1 when a member does not come back, 2 on usage.
import json
import subprocess
import sys
import time

if len(sys.argv) != 4:
    sys.stderr.write("usage: patroni-pending-restarts.py CONFIG CLUSTER SETTLE_SECONDS\n")
    sys.exit(2)
CONFIG, CLUSTER, SETTLE = sys.argv[1], sys.argv[2], float(sys.argv[3])
DEADLINE = time.time() + 900


def ctl(*args):
    return subprocess.run(["patronictl", "-c", CONFIG] + list(args), capture_output=True, text=True, timeout=180)


def members():
    r = ctl("list", CLUSTER, "-f", "json")
    if r.returncode != 0:
        return None
    return json.loads(r.stdout or "[]")


def leader_of(ms):
    return next((m for m in ms if m["Role"] == "Leader"), None)


def healthy(m):
    return m["State"] in ("running", "streaming") and not m.get("Pending restart")


def wait(what, pred, seconds=180):
    end = time.time() + seconds
    while time.time() < min(end, DEADLINE):
        ms = members()
        if ms is not None and pred(ms):
            return ms
        time.sleep(1)
    sys.stderr.write("patroni-pending-restarts: %s did not happen within %d s\n" % (what, seconds))
    sys.exit(1)


def settle():
    # a change reaches each member within its loop: wait that long for a pending flag to show
    end = time.time() + SETTLE
    while True:
        ms = members()
        if ms is not None and any(m.get("Pending restart") for m in ms):
            return ms
        if time.time() >= end:
            return ms or []
        time.sleep(1)


ms = settle()
for _ in range(2 * len(ms) + 2):
    pending = [m for m in ms if m.get("Pending restart")]
    if not pending:
        print("patroni-pending-restarts: nothing pending")
        sys.exit(0)
    replicas = [m for m in pending if m["Role"] != "Leader"]
    if replicas:
        name = replicas[0]["Member"]
        print("patroni-pending-restarts: restart replica %s" % name, flush=True)
        r = ctl("restart", CLUSTER, name, "--pending", "--force")
        print(r.stdout.strip(), flush=True)
        ms = wait("%s running without a pending restart" % name, lambda l: any(m["Member"] == name and healthy(m) for m in l))
        continue
    old = pending[0]["Member"]
    ready = [m for m in ms if m["Role"] != "Leader" and healthy(m)]
    ready.sort(key=lambda m: m["Role"] != "Sync Standby")
    if not ready:
        print("patroni-pending-restarts: no healthy replica to switch over to: restart leader %s in place" % old, flush=True)
        r = ctl("restart", CLUSTER, old, "--pending", "--force")
        print(r.stdout.strip(), flush=True)
        ms = wait("%s running without a pending restart" % old, lambda l: any(m["Member"] == old and healthy(m) for m in l))
        continue
    new = ready[0]["Member"]
    print("patroni-pending-restarts: switchover %s -> %s" % (old, new), flush=True)
    r = ctl("switchover", CLUSTER, "--leader", old, "--candidate", new, "--force")
    print(r.stdout.strip(), flush=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(1)
    ms = wait(
        "%s leading and %s back as a replica" % (new, old),
        lambda l: (leader_of(l) or {}).get("Member") == new and any(m["Member"] == old and m["State"] in ("running", "streaming") for m in l),
    )
sys.stderr.write("patroni-pending-restarts: members still pending after every restart\n")
sys.exit(1)
