/**
 * Isolated instance groups (Tower 3.x), the way Tower's installer sets them up (AWX
 * docs/clustering.md, "Isolated Instance Authentication"): ONE randomized RSA key for the whole
 * Tower, "distributed as an authorized key to all isolated instances"; its private half
 * "encrypted and stored within Tower" — the AWX_ISOLATED_PRIVATE_KEY / AWX_ISOLATED_PUBLIC_KEY
 * settings that `awx-manage generate_isolated_key` creates (AWX_ISOLATED_PRIVATE_KEY is
 * registered `encrypted=True`; Setting.save() encrypts it) and that the controller hands to
 * ansible-runner as its ssh key for every isolated job (awx/main/isolated/manager.py, with
 * AWX_ISOLATED_KEY_GENERATION on). So:
 *
 * - no private key file on any controller: one cluster action stores the pair in Tower's settings
 *   (secret: the command carries the key, fed to `awx-manage shell` on stdin, never in argv);
 * - every isolated host gets the public key in the awx user's authorized_keys as ONE line marked
 *   with haforge's comment, added or replacing haforge's earlier lines: the other keys in the file
 *   are left alone (never a rewrite of the whole file), and removing the host removes only that
 *   line;
 * - what jobs need on an isolated host, the "minimal set of utilities used to run jobs": the
 *   AWX_ISOLATED_USERNAME account (`awx`), ansible-runner (the controller starts and polls jobs
 *   with it; awx_capacity requires it), ansible-playbook, rsync (job payload and artifacts both
 *   ways), bwrap (process isolation, on by default) and Python's psutil (awx_capacity). Installed
 *   with the host's packages when haforge manages them; otherwise `tower.isolated-minimal-set`
 *   says what must be present, and the host's action checks it before it touches the host.
 * - controllers keep an ssh client config for the awx user mapping each isolated hostname (what
 *   Tower passes to ansible) to its internal address; the key comes from Tower, not from a file.
 */
import { shellQuote } from "../../core/escape";
import { MATERIAL_LINE_PREFIX, type MaterialSpec } from "../../core/materials";
import type { ClusterPlan } from "../../plan/types";

export const AWX_USER = "awx";
export const AWX_HOME = "/var/lib/awx";
export const AWX_SSH_DIR = `${AWX_HOME}/.ssh`;
export const AWX_SSH_CONFIG = `${AWX_SSH_DIR}/config`;

/** The one key pair of the Tower install (Tower keeps exactly one: AWX_ISOLATED_PRIVATE_KEY). */
export const ISOLATED_KEY_MATERIAL = "tower/isolated/keypair";
/** The comment ending haforge's authorized_keys line: how haforge finds its own line again. */
export const KEY_MARKER = "haforge-tower-isolated";

/** The key only runs ansible and rsync: no agent, port or X11 forwarding. */
export const AUTHORIZED_KEY_OPTIONS = "no-agent-forwarding,no-port-forwarding,no-X11-forwarding";

/** Commands a job needs on an isolated host (see the header). */
export const MINIMAL_COMMANDS = ["ansible-runner", "ansible-playbook", "rsync", "bwrap"] as const;
/** Python modules it needs there (awx_capacity imports psutil). */
export const MINIMAL_PYTHON_MODULES = ["psutil"] as const;
/** The whole set, as a finding states it. */
export const MINIMAL_SET_TEXT = `the ${AWX_USER} user, ${MINIMAL_COMMANDS.join(", ")} and Python's ${MINIMAL_PYTHON_MODULES.join(", ")}`;

/**
 * `runner`: the Tower instance that stores the pair in Tower's settings (the isolated key
 * action's host). With no state the pair Tower holds is read back from there (adopted), so a
 * second operator's or a lost state's `up` rotates nothing.
 */
export function isolatedMaterials(plan: ClusterPlan, runner?: string): MaterialSpec[] {
  if (plan.isolatedGroups.length === 0) return [];
  return [
    {
      key: ISOLATED_KEY_MATERIAL,
      // 4096 bits as AWX's own generate_isolated_key.
      kind: { type: "rsa-keypair", bits: 4096, comment: KEY_MARKER },
      description: "SSH key pair Tower's controller instances use to reach every isolated instance (AWX_ISOLATED_PRIVATE_KEY)",
      ...(runner
        ? {
            readBack: [
              {
                host: runner,
                path: "Tower settings AWX_ISOLATED_PRIVATE_KEY/AWX_ISOLATED_PUBLIC_KEY",
                base64: false,
                script: readIsolatedKeyScript(),
              },
            ],
          }
        : {}),
    },
  ];
}

/**
 * On the runner: print the pair Tower's settings hold (what storeIsolatedKeyScript stored, the
 * private key decrypted by the settings layer) as one `HAFORGE-MATERIAL <base64 JSON>` line; no
 * line when Tower is not installed yet or holds no pair. The key goes to stdout only (never argv).
 */
export function readIsolatedKeyScript(): string {
  const py = [
    "import base64, json",
    "from django.conf import settings",
    'priv = getattr(settings, "AWX_ISOLATED_PRIVATE_KEY", None)',
    'pub = getattr(settings, "AWX_ISOLATED_PUBLIC_KEY", None)',
    "if priv and pub:",
    `    print(${JSON.stringify(MATERIAL_LINE_PREFIX)} + base64.b64encode(json.dumps({"privateKey": priv, "publicKey": pub}).encode()).decode())`,
  ].join("\n");
  return ["command -v awx-manage >/dev/null 2>&1 || exit 0", "awx-manage shell <<'HAFORGE_PY'", py, "HAFORGE_PY"].join("\n");
}

export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * The generated pair, or deterministic markers when the material is missing or malformed (render
 * never throws; the actions refuse the marker on the host and `haforge validate` reports it).
 */
export function keyPair(materials: Readonly<Record<string, string>>): KeyPair {
  const raw = materials[ISOLATED_KEY_MATERIAL];
  const missing = `__HAFORGE_MISSING_MATERIAL_${ISOLATED_KEY_MATERIAL.replace(/[^A-Za-z0-9]/g, "_")}__`;
  if (raw !== undefined) {
    try {
      const v = JSON.parse(raw) as Partial<KeyPair>;
      if (typeof v.privateKey === "string" && typeof v.publicKey === "string") {
        return { privateKey: v.privateKey, publicKey: v.publicKey.trim() };
      }
    } catch {
      // fall through to the marker
    }
  }
  return { privateKey: missing + "\n", publicKey: missing };
}

/** The authorized_keys line: options, the key's type and base64, and haforge's marker as comment. */
export function authorizedKeyLine(publicKey: string): string {
  const [type = "", body = ""] = publicKey.split(/\s+/);
  return `${AUTHORIZED_KEY_OPTIONS} ${type} ${body} ${KEY_MARKER}`;
}

/** The awx account's authorized_keys, found from its home directory (not assumed). */
const AUTH_FILE = `home=$(getent passwd ${AWX_USER} | cut -d: -f6); f="$home/.ssh/authorized_keys"`;
/**
 * haforge's lines (grep -E): its key line, and what haforge 0.2 wrote when it owned the whole
 * file (per-group keys commented `haforge-isolated-<group>` and that template's comment lines).
 */
export const OWN_LINES_RE = [
  ` ${KEY_MARKER}$`,
  " haforge-isolated-[A-Za-z0-9_.-]+$",
  "^# Managed by haforge: the isolated-group keys ",
  "^# Replaced whole; do not add keys here\\.$",
  "^# isolated group [^ ]+ \\(controller: [^)]*\\)$",
].join("|");

/**
 * On an isolated host: check the minimal set, then put haforge's key line in the awx user's
 * authorized_keys — replacing only a previous haforge line (a rotated key), appending otherwise,
 * keeping every other line as it is; rewritten (atomically, same owner and mode) only when it
 * changes.
 */
export function ensureIsolatedHostScript(host: string, publicKey: string): string {
  const line = authorizedKeyLine(publicKey);
  const q = shellQuote;
  return [
    "set -eu",
    `missing=""`,
    `getent passwd ${AWX_USER} >/dev/null || missing="$missing user:${AWX_USER}"`,
    `for c in ${MINIMAL_COMMANDS.join(" ")}; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done`,
    ...MINIMAL_PYTHON_MODULES.map((m) => `python3 -c ${q(`import ${m}`)} >/dev/null 2>&1 || missing="$missing python3:${m}"`),
    `if [ -n "$missing" ]; then echo ${q(`isolated host ${host} lacks what Tower jobs need there:`)}"$missing" >&2; exit 1; fi`,
    `line=${q(line)}`,
    `case "$line" in *__HAFORGE_MISSING_MATERIAL_*) echo "the isolated key material is missing: nothing written" >&2; exit 1 ;; esac`,
    AUTH_FILE,
    `install -d -m 0700 -o ${AWX_USER} -g "$(id -gn ${AWX_USER})" "$home/.ssh"`,
    `[ -e "$f" ] || install -m 0600 -o ${AWX_USER} -g "$(id -gn ${AWX_USER})" /dev/null "$f"`,
    `tmp=$(mktemp "$f.haforge.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `{ grep -v -E -e ${q(OWN_LINES_RE)} "$f" || true; printf '%s\\n' "$line"; } > "$tmp"`,
    `if cmp -s "$tmp" "$f"; then echo "authorized_keys already has the key"; exit 0; fi`,
    `chown --reference="$f" "$tmp" && chmod --reference="$f" "$tmp" && mv -f "$tmp" "$f"`,
    `trap - EXIT`,
    `echo "authorized_keys: haforge's key line set ($(grep -c . "$f") line(s) in the file)"`,
  ].join("\n");
}

/** On removal: only haforge's own line goes; the file and every other key stay. */
export function removeIsolatedKeyScript(): string {
  const q = shellQuote;
  return [
    "set -eu",
    AUTH_FILE,
    `[ -f "$f" ] || exit 0`,
    `grep -q -E -e ${q(OWN_LINES_RE)} "$f" || exit 0`,
    `tmp=$(mktemp "$f.haforge.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `grep -v -E -e ${q(OWN_LINES_RE)} "$f" > "$tmp" || true`,
    `chown --reference="$f" "$tmp" && chmod --reference="$f" "$tmp" && mv -f "$tmp" "$f"`,
    `trap - EXIT`,
  ].join("\n");
}

/**
 * On a Tower instance: store the pair as Tower's own isolated key settings, the way
 * generate_isolated_key does (Setting.objects.create; the private key is encrypted by
 * Setting.save()), replacing other values; AWX_ISOLATED_KEY_GENERATION on (Tower then hands the
 * key to ansible-runner). The Python goes to `awx-manage shell` on stdin: the key is never an
 * argument.
 */
export function storeIsolatedKeyScript(pair: KeyPair): string {
  const py = [
    "from django.conf import settings",
    "from awx.conf.models import Setting",
    `wanted = {"AWX_ISOLATED_PRIVATE_KEY": ${JSON.stringify(pair.privateKey)}, "AWX_ISOLATED_PUBLIC_KEY": ${JSON.stringify(pair.publicKey)}, "AWX_ISOLATED_KEY_GENERATION": True}`,
    "changed = []",
    "for key, value in wanted.items():",
    "    if getattr(settings, key, None) == value:",
    "        continue",
    "    Setting.objects.filter(key=key, user=None).delete()",
    "    Setting.objects.create(key=key, value=value).save()",
    "    changed.append(key)",
    'print("isolated key settings: " + (", ".join(changed) if changed else "unchanged"))',
  ].join("\n");
  return [
    "set -eu",
    `case ${shellQuote(pair.publicKey)} in *__HAFORGE_MISSING_MATERIAL_*) echo "the isolated key material is missing: Tower's settings left alone" >&2; exit 1 ;; esac`,
    "awx-manage shell <<'HAFORGE_PY'",
    py,
    "HAFORGE_PY",
  ].join("\n");
}
