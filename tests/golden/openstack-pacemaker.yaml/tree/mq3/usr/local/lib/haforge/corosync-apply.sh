#!/bin/sh
# Managed by haforge: apply /etc/corosync/corosync.conf on this node without risking a fence (systemd host).
#
# Run as the corosync "restart" of a roll: one node at a time, the next node only once this one
# is back (quorate, Pacemaker "CLUSTER OK"). What it does:
#  - a transport, crypto or cluster_name change (nodes on other values cannot talk to each other; the whole
#    cluster is stopped and started for it, `pcs cluster stop --all` / `start --all`): with
#    corosync running here, refused (nothing stopped); with corosync stopped, the file is in place
#    and corosync is NOT started (/run/haforge/corosync-held marks it for the roll's gate): the operator starts the
#    cluster on every node.
#  - a node keeping its name with another id, or an id passing to another node (default ids are
#    the lowest free ones in inventory order: removing the first node renumbers the others):
#    refused, running or not (nothing stopped). Corosync cannot reload a node's id, and Pacemaker
#    keeps the node entries of its CIB by id: pin each node's `nodeid:` to the one it runs with.
#  - corosync not running here (first start): start it.
#  - the file equals the config corosync runs (/var/lib/haforge/corosync/corosync.conf.applied): nothing.
#  - nodes removed from the nodelist that still run (in the membership now): no reload. Reloading
#    now would cut them off while Pacemaker runs there (the nodes that stay would see them lost:
#    UNCLEAN, fenced). They are marked leaving (node attribute haforge-leaving) and the file is
#    recorded; each leaving node is stopped first (its deprovisioning: Pacemaker, then corosync,
#    quorum checked before), then the nodes that stay reload and Pacemaker forgets it (its member
#    action's delete): pcs `cluster node remove`'s order.
#  - only reloadable keys changed (nodes added or removed, totem timeouts, logging, expected
#    votes): `corosync-cfgtool -R`, no restart (corosync-cfgtool(8)). Nodes added are recorded
#    (/run/haforge/corosync-joining): Pacemaker shows them offline until they start, later in the roll, and the
#    roll's gate lets that pass. Before that reload, with Pacemaker running here, the cluster
#    property startup-fencing is set to false: from the reload on, the controller lists the
#    nodes being added (it reads the nodelist at its next membership change), and a node it lists
#    but has never seen is UNCLEAN under startup-fencing (its default, true): a device able to
#    fence it fences it while it is being installed. The CIB apply, which runs once every added
#    node is a member, puts back the inventory's properties (it drops every other property of
#    cib-bootstrap-options).
#  - anything else (an existing node's address or id, quorum
#    provider/flags, ...: keys corosync cannot change at runtime, exec/main.c
#    set_icmap_ro_keys_flag, exec/totemconfig.c check_things_have_not_changed), or no record of
#    the running config: take the node out cleanly, the pcs way — check the cluster keeps quorum
#    without this node, stop Pacemaker first (its resources move away; stopping corosync under a
#    running Pacemaker gets the node fenced), then corosync, start corosync, wait for quorum,
#    start Pacemaker again.
set -u
CONF=/etc/corosync/corosync.conf
APPLIED=/var/lib/haforge/corosync/corosync.conf.applied
HELD=/run/haforge/corosync-held
JOINING=/run/haforge/corosync-joining

say() { echo "corosync-apply: $*"; }
fail() { echo "corosync-apply: $*" >&2; exit 1; }
running() { systemctl is-active --quiet "$1"; }
start_unit() { systemctl daemon-reload && systemctl enable --quiet "$1" && systemctl start "$1"; }
stop_unit() { systemctl stop "$1"; }

# corosync.conf as sorted `section.key=value` lines; a nodelist node is keyed by its nodeid.
flatten() {
    awk '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    { sub(/#.*/, ""); line = trim($0) }
    line == "" { next }
    line ~ /\{$/ {
        n = trim(substr(line, 1, length(line) - 1)); depth++; sect[depth] = n
        if (n == "node") { innode = 1; nb = 0; nid = "?" }
        next
    }
    line == "}" {
        if (innode && sect[depth] == "node") { for (j = 1; j <= nb; j++) print "nodelist.node." nid "." buf[j]; innode = 0 }
        depth--; next
    }
    {
        i = index(line, ":"); k = trim(substr(line, 1, i - 1)); v = trim(substr(line, i + 1))
        if (innode) { buf[++nb] = k "=" v; if (k == "nodeid") nid = v; next }
        p = ""; for (j = 1; j <= depth; j++) p = p sect[j] "."
        print p k "=" v
    }' "$1" | LC_ALL=C sort
}

# The nodes (names) corosync.conf $1 lists and $2 does not, that are in corosync's membership now.
leavers() {
    newids=$(flatten "$2" | sed -n 's/^nodelist\.node\.\([^.]*\)\..*/\1/p' | sort -u)
    flatten "$1" | sed -n 's/^nodelist\.node\.\([^.]*\)\.name=\(.*\)$/\1 \2/p' | while read -r id name; do
        printf '%s\n' "$newids" | grep -qxF "$id" && continue
        corosync-cmapctl -b "runtime.members.$id.status" 2>/dev/null | grep -q joined && echo "$name"
    done
}

# The node names corosync.conf $2 lists and $1 does not (nodes being added).
joiners() {
    oldnames=$(flatten "$1" | sed -n 's/^nodelist\.node\.[^.]*\.name=//p')
    flatten "$2" | sed -n 's/^nodelist\.node\.[^.]*\.name=//p' | while read -r name; do
        printf '%s\n' "$oldnames" | grep -qxF "$name" || echo "$name"
    done
}

# Node id changes from corosync.conf $1 to $2: "NAME OLD->NEW" for a node whose id changes,
# "id N OLD->NEW" for an id that passes to another node's name.
idmoves() {
    { flatten "$1" | sed -n 's/^nodelist\.node\.\([^.]*\)\.name=\(.*\)$/o \1 \2/p'
      flatten "$2" | sed -n 's/^nodelist\.node\.\([^.]*\)\.name=\(.*\)$/n \1 \2/p'; } | awk '
        $1 == "o" { oid[$3] = $2; oname[$2] = $3; next }
        { nid[$3] = $2; nname[$2] = $3 }
        END {
            for (n in nid) if ((n in oid) && oid[n] != nid[n]) print n " " oid[n] "->" nid[n]
            for (i in nname) if ((i in oname) && oname[i] != nname[i]) print "id " i " " oname[i] "->" nname[i]
        }' | LC_ALL=C sort
}

# The transport and crypto settings of corosync.conf $1 (sorted key:value lines).
wire() { grep -E '^[[:space:]]*(transport|cluster_name|crypto_cipher|crypto_hash|crypto_model|secauth|ip_version|knet_transport|mcastport)[[:space:]]*:' "$1" | sed 's/#.*//; s/[[:space:]]//g' | LC_ALL=C sort; }

# rc 0 when every difference between $1 (running) and $2 (new) can be applied by a reload.
reloadable() {
    old=$(flatten "$1") || return 1
    new=$(flatten "$2") || return 1
    changed=$( { printf '%s\n' "$old" | sed 's/^/-/'; printf '%s\n' "$new" | sed 's/^/+/'; } | awk '
        { key = substr($0, 2); side = substr($0, 1, 1); seen[key] = seen[key] side }
        END { for (k in seen) if (seen[k] != "-+" && seen[k] != "+-") print k }')
    [ -z "$changed" ] && return 0
    printf '%s\n' "$changed" | while IFS= read -r kv; do
        key=${kv%%=*}
        case "$key" in
            nodelist.node.*)
                id=${key#nodelist.node.}; id=${id%%.*}
                # A node present in both files changed: an address or name, not reloadable.
                if printf '%s\n' "$old" | grep -q "^nodelist\.node\.$id\." && printf '%s\n' "$new" | grep -q "^nodelist\.node\.$id\."; then
                    say "not reloadable: node $id changed ($kv)" >&2; echo x
                else
                    # An address or a name moving to another node id is a renumbering, not an addition.
                    case "$key" in
                        *_addr | *.name)
                            field=${key##*.}; value=${kv#*=}
                            if printf '%s\n%s\n' "$old" "$new" | grep "^nodelist\.node\.[^.]*\.$field=" | grep -v "^nodelist\.node\.$id\." | cut -d= -f2- | grep -qxF "$value"; then
                                say "not reloadable: $field $value moves to node $id" >&2; echo x
                            fi ;;
                    esac
                fi ;;
            logging.*|totem.token|totem.token_retransmit|totem.token_retransmits_before_loss_const|totem.token_warning|totem.hold|totem.join|totem.consensus|totem.merge|totem.downcheck|totem.fail_recv_const|totem.seqno_unchanged_const|totem.send_join|totem.max_network_delay|totem.window_size|totem.max_messages|totem.miss_count_const|totem.knet_pmtud_interval|quorum.expected_votes) ;;
            *) say "not reloadable: $kv" >&2; echo x ;;
        esac
    done | grep -q '^x$' && return 1
    return 0
}

rm -f "$HELD" "$JOINING"
if [ -f "$APPLIED" ] && [ "$(wire "$APPLIED")" != "$(wire "$CONF")" ]; then
    if running corosync; then
        echo 'haforge: refusing to change the corosync transport or crypto settings or the cluster name (transport, cluster_name, crypto_cipher, crypto_hash, ...) while corosync runs: nodes with different settings cannot talk to each other, so restarting the nodes one at a time would leave each restarted node alone. To change them: stop the cluster on every node (crm cluster stop --all, or pcs cluster stop --all), run haforge again (it writes corosync.conf on every node and starts nothing), then start the cluster on every node (crm cluster start --all / pcs cluster start --all). See README.md, "Changing the corosync transport or crypto".' >&2
        fail "transport/crypto in place: $(wire "$APPLIED" | tr '\n' ' ')-> new: $(wire "$CONF" | tr '\n' ' ')(nothing stopped)"
    fi
    say "transport/crypto change with corosync stopped: the new configuration is in place, corosync NOT started here; start the cluster on every node once every node has it (crm cluster start --all / pcs cluster start --all)"
    mkdir -p "$(dirname "$HELD")" && touch "$HELD"
    cp "$CONF" "$APPLIED"
    exit 0
fi
if [ -f "$APPLIED" ]; then
    moved=$(idmoves "$APPLIED" "$CONF")
    [ -z "$moved" ] || fail "node ids would change ($(printf '%s\n' "$moved" | paste -sd, -)): corosync and Pacemaker know a node by its id and cannot change it; pin each node's nodeid (\`nodeid:\` in the inventory) to the id it runs with (nothing stopped)"
fi
if ! running corosync; then
    say "corosync is not running here: starting it"
    start_unit corosync || fail "corosync did not start"
    mkdir -p "$(dirname "$APPLIED")" && cp "$CONF" "$APPLIED"
    exit 0
fi
if [ -f "$APPLIED" ] && cmp -s "$CONF" "$APPLIED"; then
    say "corosync already runs this configuration"
    exit 0
fi
leaving=""
[ -f "$APPLIED" ] && leaving=$(leavers "$APPLIED" "$CONF")
if [ -n "$leaving" ]; then
    reloadable "$APPLIED" "$CONF" || fail "nodes leave ($(echo $leaving)) together with a change corosync cannot reload: remove the nodes first, then make the other change"
    if running pacemaker; then
        for n in $leaving; do
            crm_attribute --type nodes --node "$n" --name haforge-leaving --update true >/dev/null 2>&1 || say "could not mark $n as leaving"
        done
    fi
    say "leaving while they run: $(echo $leaving); no reload now: each is stopped first, then the nodes that stay reload the nodelist without it and Pacemaker forgets it (its removal)"
    cp "$CONF" "$APPLIED"
    exit 0
fi
if [ -f "$APPLIED" ] && reloadable "$APPLIED" "$CONF"; then
    joining=$(joiners "$APPLIED" "$CONF")
    if [ -n "$joining" ]; then
        # never seen by Pacemaker until they start, later in this roll: not fenced for it
        if running pacemaker; then
            crm_attribute --type crm_config --name startup-fencing --update false >/dev/null 2>&1 ||
                fail "could not set startup-fencing=false for the nodes being added ($(echo $joining)): Pacemaker would fence them before they start; nothing reloaded"
            say "startup-fencing=false until the nodes being added are members (the CIB apply sets the inventory's properties back)"
        fi
        # offline in Pacemaker until they start, later in this roll: the gate lets them be
        mkdir -p "$(dirname "$JOINING")" && printf '%s\n' $joining > "$JOINING"
        say "nodes being added (offline until they start): $(echo $joining)"
    fi
    say "reloadable change: corosync-cfgtool -R"
    corosync-cfgtool -R || fail "corosync-cfgtool -R failed"
    cp "$CONF" "$APPLIED"
    exit 0
fi
[ -f "$APPLIED" ] || say "no record of the configuration corosync runs: taking the node out to apply it"

# The cluster must stay quorate while this node is out.
q=$(corosync-quorumtool -s 2>&1)
printf '%s\n' "$q" | grep -q '^Quorate: *Yes' || fail "the cluster is not quorate now: not taking this node out"
total=$(printf '%s\n' "$q" | awk -F: '/^Total votes:/ { gsub(/ /, "", $2); print $2 }')
need=$(printf '%s\n' "$q" | awk -F: '/^Quorum:/ { gsub(/ /, "", $2); sub(/[^0-9].*/, "", $2); print $2 }')
[ -n "$total" ] && [ -n "$need" ] || fail "cannot read the votes from corosync-quorumtool -s"
[ $((total - 1)) -ge "$need" ] || fail "without this node the cluster would have $((total - 1)) of the $need votes it needs: not taking it out"

pcmk=0
if running pacemaker; then
    pcmk=1
    say "stopping pacemaker (its resources move to the other nodes)"
    stop_unit pacemaker || fail "pacemaker did not stop: corosync left running"
fi
say "restarting corosync"
stop_unit corosync || fail "corosync did not stop"
start_unit corosync || fail "corosync did not start"
i=0
until corosync-quorumtool -s >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge 120 ] && fail "corosync is not quorate 120 s after its restart (pacemaker left stopped)"
    sleep 1
done
mkdir -p "$(dirname "$APPLIED")" && cp "$CONF" "$APPLIED"
if [ "$pcmk" = 1 ]; then
    say "starting pacemaker"
    start_unit pacemaker || fail "pacemaker did not start"
fi
exit 0
