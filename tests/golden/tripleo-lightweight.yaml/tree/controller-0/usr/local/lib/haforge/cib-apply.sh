#!/bin/sh
# Managed by haforge: apply a rendered Pacemaker CIB to the running cluster, never blindly.
# A plain script, copied to the host as it is; every value comes from its arguments.
#
# Usage: cib-apply.sh -a ATTEMPTS -r QUERY_RETRIES -k PROPERTY [-k PROPERTY]... RENDERED_CIB
#   -a ATTEMPTS       how many times a refused patch is recomputed against a CIB that moved on
#   -r QUERY_RETRIES  how many times (2 s apart) the live CIB is queried before giving up
#   -k PROPERTY       a cib-bootstrap-options property Pacemaker owns (dc-version, ...): kept
#   Set CIB_file=PATH to work on a CIB file instead of the live cluster (tests, like `pcs -f`).
# Exit codes: 0 applied or already up to date; 2 usage or unreadable file; 3 the rendered CIB does
# not verify; 4 local file error; 5 an offline edit failed; 6 the CIB kept changing; 7 the CIB
# cannot be queried; 8 crm_diff failed; 9 the merged CIB does not verify; 10 patch refused.
#
# The linux-system-roles/ha_cluster way: build the new CIB offline from the LIVE one, diff, patch.
#  1. crm_verify the rendered file: a broken configuration never reaches the cluster.
#  2. live.xml = the live CIB; new.xml = a copy where haforge's sections are swapped for ours:
#     - crm_config: the nvpairs of cib-bootstrap-options that Pacemaker does not own (-k) are
#       dropped, then ours are merged in; the controller's own are kept;
#     - nodes: ours are merged in; nodes are never removed here and their attributes (standby,
#       maintenance: runtime state) are kept; node removal is `crm_node --force -R`;
#     - resources, constraints, rsc_defaults, op_defaults: replaced by ours;
#     - everything else (status, alerts, acls, tags, fencing-topology) is left as it is.
#  3. `crm_diff --no-version` live vs new: no difference -> nothing to do (rc 0).
#  4. Otherwise crm_verify the merged CIB, then `cibadmin --patch` with a VERSIONED diff: the
#     patch only applies to the exact live version it was computed from (admin_epoch, epoch,
#     num_updates). If the cluster changed meanwhile, the patch is refused and we start over from
#     the new live CIB (bounded). The cluster moves to new.xml's epoch, which is always above the
#     live one (every offline edit bumps it), so the rendered file's own epoch never matters.
# Pacemaker Explained, "Editing the CIB": https://clusterlabs.org/pacemaker/doc/2.1/Pacemaker_Administration/html/configuring.html
set -u
usage() {
  echo "usage: cib-apply.sh -a ATTEMPTS -r QUERY_RETRIES -k PROPERTY [-k PROPERTY]... RENDERED_CIB" >&2
  exit 2
}
is_count() {
  case $1 in
    '' | *[!0-9]*) return 1 ;;
    *) [ "$1" -ge 1 ] ;;
  esac
}
attempts=
query_retries=
keep=
while getopts a:r:k: opt; do
  case $opt in
    a) attempts=$OPTARG ;;
    r) query_retries=$OPTARG ;;
    k)
      # A property name goes into an XPath literal: names as Pacemaker spells them, nothing else.
      case $OPTARG in
        '' | *[!A-Za-z0-9_-]*) echo "cib-apply: -k '$OPTARG' is not a property name" >&2; exit 2 ;;
      esac
      keep="${keep:+$keep or }@name='$OPTARG'"
      ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
is_count "$attempts" || { echo "cib-apply: -a ATTEMPTS must be a positive integer" >&2; usage; }
is_count "$query_retries" || { echo "cib-apply: -r QUERY_RETRIES must be a positive integer" >&2; usage; }
[ -n "$keep" ] || { echo "cib-apply: name the properties Pacemaker owns with -k" >&2; usage; }
purge_xpath="/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']/nvpair[not($keep)]"
ours=$1
[ -r "$ours" ] || { echo "cib-apply: cannot read $ours" >&2; exit 2; }
crm_verify --xml-file "$ours" || { echo "cib-apply: $ours does not verify (crm_verify rc $?)" >&2; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}/haforge-cib.XXXXXX") || exit 4
trap 'rm -rf "$work"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Our sections, extracted by cibadmin itself (rc 105: the section is absent from our file).
for s in crm_config nodes resources constraints rsc_defaults op_defaults; do
  CIB_file="$ours" cibadmin --query --scope "$s" > "$work/ours-$s.xml" 2>/dev/null || rm -f "$work/ours-$s.xml"
done

# cibadmin on the offline copy; every call must succeed.
offline() {
  CIB_file="$work/new.xml" cibadmin "$@" || { echo "cib-apply: offline cibadmin $* failed" >&2; exit 5; }
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  if [ "$attempt" -gt "$attempts" ]; then echo "cib-apply: the CIB kept changing; giving up after $attempts attempts" >&2; exit 6; fi

  # The live CIB; right after start the CIB manager may not answer yet (bounded wait).
  i=0
  until cibadmin --query > "$work/live-raw.xml" 2> "$work/err"; do
    i=$((i + 1))
    if [ "$i" -ge "$query_retries" ]; then cat "$work/err" >&2; echo "cib-apply: cannot query the CIB" >&2; exit 7; fi
    sleep 2
  done
  # The live root carries the daemons' crm_feature_set, which can be newer than the one the
  # command-line tools accept for offline edits (Debian 12: 3.16.2 vs 3.16.1, cibadmin "Protocol
  # not supported", rc 76). Both working copies drop it, so the diff never mentions it and the
  # live value stays as it is.
  sed '/^<cib /s/ crm_feature_set="[^"]*"//' "$work/live-raw.xml" > "$work/live.xml" || exit 4
  cp "$work/live.xml" "$work/new.xml" || exit 4

  offline --delete-all --force --xpath "$purge_xpath"
  [ -f "$work/ours-crm_config.xml" ] && offline --modify --scope crm_config --xml-file "$work/ours-crm_config.xml"
  [ -f "$work/ours-nodes.xml" ] && offline --modify --scope nodes --xml-file "$work/ours-nodes.xml"
  # Every CIB edit is schema-checked, and constraints reference resources by IDREF: empty the
  # constraints first (old ones may name resources we remove), then resources, then ours.
  offline --replace --scope constraints --xml-text '<constraints/>'
  for s in resources constraints; do
    [ -f "$work/ours-$s.xml" ] && offline --replace --scope "$s" --xml-file "$work/ours-$s.xml"
  done
  # Optional sections: removed, then created from ours when we have them.
  for s in rsc_defaults op_defaults; do
    offline --delete-all --force --xpath "/cib/configuration/$s"
    [ -f "$work/ours-$s.xml" ] && offline --create --scope configuration --xml-file "$work/ours-$s.xml"
  done

  crm_diff --no-version --original "$work/live.xml" --new "$work/new.xml" > /dev/null
  rc=$?
  if [ "$rc" -eq 0 ]; then echo "cib-apply: CIB already up to date"; exit 0; fi
  if [ "$rc" -ne 1 ]; then echo "cib-apply: crm_diff failed (rc $rc)" >&2; exit 8; fi

  # The merged CIB carries the live status: nodes not seen yet or down make crm_verify warn (and
  # exit 78) about fencing them, which is runtime state, not configuration. Only errors stop us.
  if ! crm_verify --xml-file "$work/new.xml" > "$work/verify" 2>&1; then
    if grep -q "Errors found" "$work/verify"; then
      cat "$work/verify" >&2; echo "cib-apply: the merged CIB does not verify" >&2; exit 9
    fi
    echo "cib-apply: crm_verify warnings on the merged CIB (runtime state):" >&2; cat "$work/verify" >&2
  fi
  # The patch goes from the live CIB as queried to new.xml with the live crm_feature_set put
  # back, so the patch leaves that attribute alone.
  fs=$(sed -n '1s/^<cib.* crm_feature_set="\([^"]*\)".*/\1/p' "$work/live-raw.xml")
  if [ -n "$fs" ]; then
    sed "1s/^<cib /<cib crm_feature_set=\"$fs\" /" "$work/new.xml" > "$work/new-fs.xml" || exit 4
  else
    cp "$work/new.xml" "$work/new-fs.xml" || exit 4
  fi
  crm_diff --original "$work/live-raw.xml" --new "$work/new-fs.xml" > "$work/patch.xml"
  [ $? -eq 1 ] || { echo "cib-apply: crm_diff produced no patch" >&2; exit 8; }
  if cibadmin --patch --xml-file "$work/patch.xml" 2> "$work/err"; then
    echo "cib-apply: CIB patched"
    exit 0
  fi
  echo "cib-apply: patch refused (attempt $attempt): $(cat "$work/err")" >&2
  # Start over only when the live CIB moved on since we read it (its root carries the version);
  # a patch refused against an unchanged CIB would be refused again.
  now=$(cibadmin --query 2>/dev/null | head -n 1)
  if [ "$now" = "$(head -n 1 "$work/live-raw.xml")" ]; then
    echo "cib-apply: the live CIB did not change; not retrying" >&2
    exit 10
  fi
  sleep 1
done
