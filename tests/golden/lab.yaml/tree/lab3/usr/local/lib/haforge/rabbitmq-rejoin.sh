#!/bin/sh
# Managed by haforge: a RabbitMQ node that lost its database (a replaced host: fresh disk, same
# node name) rejoins its cluster the RabbitMQ way. Run around haforge's restart of the node:
#
#   rabbitmq-rejoin.sh before NODE [PEER...] before the start
#   rabbitmq-rejoin.sh after NODE            after it
#
# PEER...: the nodes to ask; none given, the node list of the cluster-formation seed file (the
# restart command then names no other node, so a grow or a shrink does not change it).
# before: only when the node's database directory is empty (RabbitMQ's own test for a blank node)
# and a running peer lists NODE among its disk nodes: that peer forgets NODE
# (forget_cluster_node, which also takes NODE out of every quorum queue), so the blank node joins
# as a new member through peer discovery instead of coming back with empty quorum queue replicas
# under its old identity (they would count, and vote, as members holding the log). A node with a
# database, or one no peer lists (a new node), is started as it is.
# after: only when `before` made a peer forget NODE: waits (deadline) until the node runs, then
# `rabbitmq-queues grow NODE all` gives every quorum queue a replica on it again, which the
# leader fills with the log.
# https://www.rabbitmq.com/clustering.html#removing-nodes, https://www.rabbitmq.com/quorum-queues.html#replica-management
set -u
step=${1:-} node=${2:-}
if [ -z "$step" ] || [ -z "$node" ]; then
  echo "usage: $0 before NODE [PEER...] | after NODE" >&2
  exit 2
fi
shift 2
seeds=${HAFORGE_RABBITMQ_SEEDS:-/etc/rabbitmq/conf.d/10-haforge-cluster-formation.conf}
base=${RABBITMQ_MNESIA_BASE:-/var/lib/rabbitmq/mnesia}
mark="$base/haforge-rejoin-$node"
# Whole seconds of waiting for the node to run after the start (a boot under load: ~40 s).
wait_s=${HAFORGE_REJOIN_WAIT_S:-300}

case $step in
before)
  if [ -n "$(ls -A "$base/$node" 2>/dev/null)" ]; then exit 0; fi
  if [ "$#" -eq 0 ] && [ -r "$seeds" ]; then
    # Node names hold no blanks (rabbit@host): one word each.
    # shellcheck disable=SC2046
    set -- $(sed -n 's/^cluster_formation\.classic_config\.nodes\.[0-9][0-9]*[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$seeds")
  fi
  for peer in "$@"; do
    [ "$peer" = "$node" ] && continue
    status=$(timeout 60 rabbitmqctl -q -n "$peer" cluster_status --formatter json 2>/dev/null) || continue
    disk=$(printf '%s\n' "$status" | sed -n 's/.*"disk_nodes":\[\([^]]*\)\].*/\1/p')
    case ",$disk," in
    *",\"$node\","*) ;;
    *) exit 0 ;; # a running member does not know it: a new node, peer discovery joins it
    esac
    echo "rabbitmq-rejoin: $node has an empty database and $peer lists it as a member: $peer forgets it, it joins blank"
    rabbitmqctl -q -n "$peer" forget_cluster_node "$node" || {
      echo "rabbitmq-rejoin: forget_cluster_node $node on $peer failed; not starting $node" >&2
      exit 1
    }
    : >"$mark" || exit 1
    exit 0
  done
  # No peer answers: the cluster's first start, or none of it runs; peer discovery decides.
  exit 0
  ;;
after)
  [ -e "$mark" ] || exit 0
  deadline=$(($(date +%s) + wait_s))
  until rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "rabbitmq-rejoin: $node not running ${wait_s} s after its start; quorum queues not grown ($mark kept)" >&2
      exit 1
    fi
    sleep 2
  done
  rabbitmq-queues -q grow "$node" all || exit 1
  rm -f "$mark"
  echo "rabbitmq-rejoin: quorum queues grown onto $node"
  ;;
*)
  echo "usage: $0 before NODE [PEER...] | after NODE" >&2
  exit 2
  ;;
esac
