#!/bin/sh
# Managed by haforge: start this etcd member.   etcd-start.sh CONFIG SEED
#
# CONFIG is the member's etcd.yml without the initial-* membership keys; SEED holds them for the
# membership the inventory lists (`initial-cluster`, `initial-cluster-state: "new"`) and, as a
# comment, the other members' client URLs (`# endpoints: URL,...`). etcd reads initial-* only
# when its data dir is empty, so neither a running member nor a restarted one looks at SEED, and
# a changed membership restarts no running member.
#
# - data dir holds a member already: start as it is (membership lives in the data dir).
# - no other member answers: the cluster is being formed: CONFIG + SEED (state new).
# - a running cluster lists this member by its name but with no client URLs: it is one of the
#   members the cluster was formed with and has never run (first deployment, members started one
#   after the other; etcd names the initial members, a member publishes its client URLs when it
#   first runs): CONFIG + SEED.
# - a running cluster lists this member by its name WITH client URLs: it ran before and its data
#   is gone (a replaced host: fresh disk, same name). Started as one of the initial members again
#   (state new, its old member ID, an empty data dir) etcd refuses it ("member ... has already been
#   bootstrapped"), so it is replaced the way etcd says to replace a failed member: `member remove`
#   by its old ID, then added again as below. https://etcd.io/docs/v3.4/op-guide/runtime-configuration/#replace-a-failed-machine
# - otherwise this member joins a running cluster the way etcd's runtime reconfiguration says:
#   `etcdctl member add NAME --peer-urls=URL` on the cluster (skipped when an earlier attempt
#   added it already: listed as unstarted under its peer URL), then start with
#   `initial-cluster-state: existing` and the cluster's own member list as `initial-cluster`
#   (what `member add` prints). https://etcd.io/docs/v3.4/op-guide/runtime-configuration/
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: etcd-start.sh CONFIG SEED" >&2
    exit 2
fi
CONFIG=$1
SEED=$2
ETCD=${HAFORGE_ETCD:-/usr/bin/etcd}

say() { echo "etcd-start: $*" >&2; }
# A top-level `key: value` of CONFIG, quotes removed.
key() { sed -n "s/^$1: *//p" "$CONFIG" | head -n 1 | tr -d '"'; }

DATA=$(key data-dir)
NAME=$(key name)
PEER=$(key initial-advertise-peer-urls)
if [ -z "$DATA" ] || [ -z "$NAME" ] || [ -z "$PEER" ]; then
    say "$CONFIG lacks data-dir, name or initial-advertise-peer-urls"
    exit 2
fi
if [ -d "$DATA/member" ]; then
    exec "$ETCD" --config-file "$CONFIG"
fi

# First start. The effective config is written beside the data dir (the etcd user owns it).
RUNTIME=$DATA.first-start.yml
ctl() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s "$@"; }

list=""
endpoint=""
for ep in $(sed -n 's/^# endpoints: *//p' "$SEED" | tr ',' ' '); do
    if out=$(ctl --endpoints="$ep" member list 2>/dev/null) && [ -n "$out" ]; then
        list=$out
        endpoint=$ep
        break
    fi
done

# member list, simple format: ID, status, name, peer URLs, client URLs[, is learner]
mine=$(printf '%s\n' "$list" | awk -F', ' -v p="$PEER" '$4 == p')
named=$(printf '%s\n' "$mine" | awk -F', ' -v n="$NAME" '$3 == n')
if [ -n "$named" ] && [ -n "$(printf '%s\n' "$named" | awk -F', ' '{ print $5 }')" ]; then
    id=$(printf '%s\n' "$named" | awk -F', ' '{ print $1 }')
    say "$NAME ran before (the cluster lists its client URLs) and its data dir is empty: removing member $id to add it again"
    ctl --endpoints="$endpoint" member remove "$id" >&2
    list=$(ctl --endpoints="$endpoint" member list)
    mine=""
elif [ -z "$list" ] || [ -n "$named" ]; then
    if [ -z "$list" ]; then say "no running member answers: forming the cluster"; else say "$NAME is one of the members the cluster was formed with"; fi
    cat "$CONFIG" "$SEED" > "$RUNTIME"
    exec "$ETCD" --config-file "$RUNTIME"
fi

if [ -z "$mine" ]; then
    say "adding $NAME ($PEER) to the cluster through $endpoint"
    # Right after a membership change (the removal above) the store refuses another for a few
    # seconds ("etcdserver: unhealthy cluster"): ask again until a deadline, unless an answer was
    # lost and the member is listed already.
    deadline=$(($(date +%s) + 60))
    until ctl --endpoints="$endpoint" member add "$NAME" --peer-urls="$PEER" >&2; do
        if ctl --endpoints="$endpoint" member list 2>/dev/null | awk -F', ' -v p="$PEER" '$4 == p { f = 1 } END { exit !f }'; then
            break
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            say "the cluster refused member add $NAME for 60 s"
            exit 1
        fi
        sleep 2
    done
    list=$(ctl --endpoints="$endpoint" member list)
else
    say "$NAME was added before: joining"
fi
# The cluster's members by peer URL, this one by its name (as `member add` prints them).
initial=$(printf '%s\n' "$list" | awk -F', ' -v n="$NAME" -v p="$PEER" 'NF >= 4 { printf "%s%s=%s", sep, ($4 == p ? n : $3), $4; sep = "," }')
{
    cat "$CONFIG"
    printf 'initial-cluster: "%s"\n' "$initial"
    echo 'initial-cluster-state: "existing"'
} > "$RUNTIME"
exec "$ETCD" --config-file "$RUNTIME"
