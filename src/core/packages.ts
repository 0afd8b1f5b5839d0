/**
 * Software on the hosts, the host side (pure): the one query that reads a host's OS family and
 * installed packages, its parser, what is missing or at the wrong version, and the install script.
 *
 * - One query per host: /etc/os-release and the whole installed set (`dpkg-query -W` or
 *   `rpm -qa`) in one `sh -s` run.
 * - Only what is missing or not at the pinned version is installed.
 * - Debian: no daemon may start before haforge's configuration is in place. Maintainer scripts
 *   start daemons through invoke-rc.d / deb-systemd-invoke, which ask /usr/sbin/policy-rc.d
 *   first; exit 101 means "action forbidden"
 *   (https://people.debian.org/~hmh/invokerc.d-policyrc.d-specification.txt). The script puts one
 *   in place for the install and removes it afterwards (an operator's own policy-rc.d is kept).
 *   haforge's restarts start the daemons once their files are written.
 * - RHEL family: RPM scriptlets do not start services (Fedora/RHEL packaging guidelines,
 *   "Scriptlets": systemd presets enable at most, never start), so nothing is suppressed.
 */
import { shellQuote as shQuote } from "./escape";

export const OS_FAMILIES = ["debian", "rhel"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

/** os-release IDs (ID and ID_LIKE words) → family. */
const FAMILY_OF: Record<string, OsFamily> = {
  debian: "debian",
  ubuntu: "debian",
  raspbian: "debian",
  rhel: "rhel",
  centos: "rhel",
  fedora: "rhel",
  rocky: "rhel",
  almalinux: "rhel",
  ol: "rhel",
};

/** The family of an os-release ID (or an inventory `os` value), or undefined when unsupported. */
export function osFamily(...ids: readonly string[]): OsFamily | undefined {
  for (const id of ids.flatMap((x) => x.toLowerCase().split(/\s+/)).filter(Boolean)) {
    const f = FAMILY_OF[id];
    if (f) return f;
  }
  return undefined;
}

export interface PackageNeed {
  /** The distribution's package name (`rabbitmq-server`). */
  readonly name: string;
  /** Pinned version as the package manager prints it (`3.10.8-1.1+deb12u1`); absent: any. */
  readonly version?: string;
}

export interface HostPackageFacts {
  /** os-release ID and ID_LIKE words, as read. */
  readonly osIds: readonly string[];
  readonly family?: OsFamily;
  /** Installed packages: name → version. */
  readonly installed: ReadonlyMap<string, string>;
}

const MARK = "HAFORGE-PKG";

/** The one read-only query per host. Output lines: `HAFORGE-PKG os <ID> <ID_LIKE...>` and `HAFORGE-PKG pkg <name> <version> <status>`. */
export function packageQueryScript(): string {
  return [
    "ID=unknown; ID_LIKE=",
    "if [ -r /etc/os-release ]; then . /etc/os-release; fi",
    `printf '${MARK} os %s %s\\n' "$ID" "$ID_LIKE"`,
    "if command -v dpkg-query >/dev/null 2>&1; then",
    `  dpkg-query -W -f='${MARK} pkg \${Package} \${Version} \${db:Status-Abbrev}\\n' 2>/dev/null || true`,
    "elif command -v rpm >/dev/null 2>&1; then",
    `  rpm -qa --qf '${MARK} pkg %{NAME} %{VERSION}-%{RELEASE} ii\\n' 2>/dev/null || true`,
    "fi",
    "",
  ].join("\n");
}

/** Parses the query's output. dpkg's `db:Status-Abbrev` second letter `i` = installed (`ii`, `hi`). */
export function parsePackageQuery(output: string): HostPackageFacts {
  let osIds: string[] = [];
  const installed = new Map<string, string>();
  for (const line of output.split("\n")) {
    const w = line.trim().split(/\s+/);
    if (w[0] !== MARK) continue;
    if (w[1] === "os") osIds = w.slice(2).filter(Boolean);
    else if (w[1] === "pkg" && w[2] && w[3] && (w[4] ?? "")[1] === "i") installed.set(w[2], w[3]);
  }
  const family = osFamily(...osIds);
  return family ? { osIds, family, installed } : { osIds, installed };
}

/** A pin matches the installed version exactly; RPM pins may leave out the release. */
export function versionMatches(family: OsFamily, installed: string, pinned: string): boolean {
  if (installed === pinned) return true;
  return family === "rhel" && installed.startsWith(`${pinned}-`);
}

/** What to install: missing packages, and pinned ones at another version. Sorted by name. */
export function missingPackages(family: OsFamily, needs: readonly PackageNeed[], installed: ReadonlyMap<string, string>): PackageNeed[] {
  const out = new Map<string, PackageNeed>();
  for (const n of needs) {
    const have = installed.get(n.name);
    if (have === undefined || (n.version !== undefined && !versionMatches(family, have, n.version))) out.set(n.name, n);
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** apt `name=version`, dnf `name-version`. */
export function packageSpec(family: OsFamily, n: PackageNeed): string {
  return n.version === undefined ? n.name : family === "debian" ? `${n.name}=${n.version}` : `${n.name}-${n.version}`;
}

export const POLICY_RC_D = "/usr/sbin/policy-rc.d";

/** Installs exactly `install` (already computed as missing); never starts a daemon on Debian. */
export function packageInstallScript(
  family: OsFamily,
  install: readonly PackageNeed[],
  opts: { readonly policyPath?: string } = {},
): string {
  const specs = install.map((n) => shQuote(packageSpec(family, n))).join(" ");
  if (family === "rhel") {
    return ["set -eu", "if command -v dnf >/dev/null 2>&1; then PM=dnf; else PM=yum; fi", `"$PM" -y -q install ${specs}`, ""].join("\n");
  }
  return [
    "set -eu",
    `POLICY=${shQuote(opts.policyPath ?? POLICY_RC_D)}`,
    "OURS=0",
    'if [ ! -e "$POLICY" ]; then',
    "  OURS=1",
    `  printf '#!/bin/sh\\n# haforge: no daemon starts before haforge has written its configuration\\nexit 101\\n' > "$POLICY"`,
    '  chmod 0755 "$POLICY"',
    "fi",
    'trap \'if [ "$OURS" = 1 ]; then rm -f "$POLICY"; fi\' EXIT',
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get -q update",
    `apt-get -q -y --no-install-recommends --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install ${specs}`,
    "",
  ].join("\n");
}
