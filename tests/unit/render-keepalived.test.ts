import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { analyzeInventoryText } from "../../src/pipeline/analyze";
import { renderDesiredState } from "../../src/pipeline/render";
import { secretKey } from "../../src/core/secrets";
import { renderTemplate } from "../../src/render/templates";
import {
  keepalivedHealth,
  keepalivedSecretFindings,
  renderPart,
  KEEPALIVED_START_SETTINGS,
  KEEPALIVED_VALIDATE,
} from "../../src/services/keepalived/render";
import { authPassValue, scriptCommand } from "../../src/services/keepalived/config";
import type { ClusterPlan } from "../../src/plan/types";
import type { SecretValues } from "../../src/core/secrets";
import {
  API_AUTH_PASS,
  COMPLEX_TRACK,
  examplePlans,
  keepalivedMaterials,
  keepalivedPlan,
  keepalivedSecrets,
} from "../fixtures/keepalived-plan";

const render = (plan: ClusterPlan = keepalivedPlan(), secrets: SecretValues = keepalivedSecrets) =>
  renderPart.render!({ plan, secrets, materials: keepalivedMaterials, template: renderTemplate });

/** keepalived.conf as a tree: `keyword args... { children }`, comments dropped, quotes kept. */
interface Node {
  readonly words: string[];
  readonly children: Node[];
}
function parseConf(text: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    if (line === "}") {
      stack.pop();
      continue;
    }
    const opens = line.endsWith("{");
    const words = (opens ? line.slice(0, -1) : line).trim().match(/"[^"]*"|\S+/g) ?? [];
    const node: Node = { words, children: [] };
    stack[stack.length - 1]!.push(node);
    if (opens) stack.push(node.children);
  }
  assert.equal(stack.length, 1, "balanced braces");
  return root;
}
const find = (nodes: Node[], ...words: string[]) => nodes.filter((n) => words.every((w, i) => n.words[i] === w));
const one = (nodes: Node[], ...words: string[]) => {
  const found = find(nodes, ...words);
  assert.equal(found.length, 1, `exactly one "${words.join(" ")}" (got ${found.length})`);
  return found[0]!;
};
const value = (nodes: Node[], key: string) => one(nodes, key).words.slice(1).join(" ");

function conf(host: string, r = render()) {
  const f = r.files.find((x) => x.host === host && x.path === "/etc/keepalived/keepalived.conf");
  assert.ok(f, `keepalived.conf for ${host}`);
  return { file: f, tree: parseConf(f.content) };
}

describe("keepalived render", () => {
  it("renders one keepalived.conf and one service definition per member host, by init system", () => {
    const r = render();
    assert.deepEqual(
      r.files.map((f) => `${f.host} ${f.path}`),
      [
        "lb1 /etc/keepalived/keepalived.conf",
        "lb2 /etc/keepalived/keepalived.conf",
        "lb3 /etc/keepalived/keepalived.conf",
        "lb3 /etc/supervisor/conf.d/keepalived.conf",
      ],
    );
    assert.deepEqual(r.actions, []);
  });

  it("global_defs names the router after the host and turns script security on", () => {
    for (const host of ["lb1", "lb2", "lb3"]) {
      const g = one(conf(host).tree, "global_defs").children;
      assert.equal(value(g, "router_id"), host);
      one(g, "enable_script_security");
      assert.equal(value(g, "script_user"), "root");
    }
  });

  it("each host carries exactly the instances it is a member of", () => {
    assert.deepEqual(
      find(conf("lb1").tree, "vrrp_instance").map((n) => n.words[1]),
      ["api"],
    );
    assert.deepEqual(
      find(conf("lb2").tree, "vrrp_instance").map((n) => n.words[1]),
      ["api", "db"],
    );
    assert.deepEqual(
      find(conf("lb3").tree, "vrrp_instance").map((n) => n.words[1]),
      ["api", "db"],
    );
  });

  it("unicast instance: state, priority, router id, src ip and every other member as peer", () => {
    const expected = { lb1: ["MASTER", "150", "10.77.0.11"], lb2: ["BACKUP", "140", "10.77.0.12"], lb3: ["BACKUP", "130", "10.77.0.13"] };
    for (const [host, [state, prio, src]] of Object.entries(expected)) {
      const i = one(conf(host).tree, "vrrp_instance", "api").children;
      assert.equal(value(i, "state"), state);
      assert.equal(value(i, "priority"), prio);
      assert.equal(value(i, "virtual_router_id"), "51");
      assert.equal(value(i, "interface"), "eth0");
      assert.equal(value(i, "advert_int"), "1");
      assert.equal(value(i, "unicast_src_ip"), src);
      const peers = one(i, "unicast_peer").children.map((n) => n.words[0]);
      assert.deepEqual(
        peers,
        ["10.77.0.11", "10.77.0.12", "10.77.0.13"].filter((a) => a !== src),
      );
      assert.deepEqual(
        one(i, "virtual_ipaddress").children.map((n) => n.words.join(" ")),
        ["10.77.0.100/24 dev eth0"],
      );
      assert.equal(find(i, "nopreempt").length, 0);
    }
  });

  it("multicast + nopreempt instance: no unicast keywords, every node starts BACKUP", () => {
    for (const [host, prio] of [
      ["lb2", "150"],
      ["lb3", "140"],
    ] as const) {
      const i = one(conf(host).tree, "vrrp_instance", "db").children;
      assert.equal(value(i, "state"), "BACKUP", `${host}: nopreempt needs state BACKUP`);
      assert.equal(value(i, "priority"), prio);
      one(i, "nopreempt");
      assert.equal(find(i, "unicast_src_ip").length, 0);
      assert.equal(find(i, "unicast_peer").length, 0);
      assert.deepEqual(
        one(i, "virtual_ipaddress").children.map((n) => n.words.join(" ")),
        ["10.77.0.101/24 dev eth0"],
      );
    }
  });

  it("auth_pass: resolved from the secret, cut to 8 characters; the file is secret and 0600", () => {
    const { file, tree } = conf("lb1");
    const auth = one(one(tree, "vrrp_instance", "api").children, "authentication").children;
    assert.equal(value(auth, "auth_type"), "PASS");
    assert.equal(value(auth, "auth_pass"), `"${API_AUTH_PASS.slice(0, 8)}"`);
    assert.ok(!file.content.includes(API_AUTH_PASS), "the full secret never reaches the file");
    assert.equal(file.secret, true);
    assert.equal(file.mode, "0600");
    const db = one(one(conf("lb2").tree, "vrrp_instance", "db").children, "authentication").children;
    assert.equal(value(db, "auth_pass"), '"dbvip"');
  });

  it("a plan without authPass renders no authentication block and a non-secret 0644 file", () => {
    const plan = keepalivedPlan();
    const noAuth: ClusterPlan = { ...plan, keepalived: plan.keepalived.map(({ authPass: _a, ...i }) => i) };
    const { file, tree } = conf("lb2", render(noAuth));
    for (const i of find(tree, "vrrp_instance")) assert.equal(find(i.children, "authentication").length, 0);
    assert.equal(file.secret, false);
    assert.equal(file.mode, "0644");
  });

  it("an unresolved secret keeps its whole marker (never cut to 8 characters)", () => {
    const { file } = conf("lb1", render(keepalivedPlan(), {}));
    assert.match(file.content, /auth_pass "__HAFORGE_UNRESOLVED_secret_keepalivedApiPass__"/);
    assert.deepEqual(authPassValue({ secret: "x" }, {}), { value: "__HAFORGE_UNRESOLVED_secret_x__", truncated: false, resolved: false });
  });

  it("vrrp_script per track, named <instance>_<track>, referenced by track_script", () => {
    const tree = conf("lb2").tree;
    const scripts = find(tree, "vrrp_script").map((n) => n.words[1]);
    assert.deepEqual(scripts, ["api_chk_haproxy", "api_chk_api", "db_chk_pg"]);
    const api = one(tree, "vrrp_instance", "api").children;
    assert.deepEqual(
      one(api, "track_script").children.map((n) => n.words[0]),
      ["api_chk_haproxy", "api_chk_api"],
    );
    const chk = one(tree, "vrrp_script", "api_chk_api").children;
    assert.equal(value(chk, "interval"), "3");
    assert.equal(value(chk, "weight"), "-30");
    assert.equal(value(chk, "fall"), "2");
    assert.equal(value(chk, "rise"), "2");
    // lb1 is not in "db": its chk_pg is not rendered there.
    assert.deepEqual(
      find(conf("lb1").tree, "vrrp_script").map((n) => n.words[1]),
      ["api_chk_haproxy", "api_chk_api"],
    );
  });

  it("scripts run under /bin/sh (keepalived would exec pidof's symlink target, killall5)", () => {
    const tree = conf("lb2").tree;
    assert.equal(value(one(tree, "vrrp_script", "api_chk_haproxy").children, "script"), `"/bin/sh -c 'pidof haproxy'"`);
    assert.equal(value(one(tree, "vrrp_script", "db_chk_pg").children, "script"), `"/bin/sh -c 'test -d /run || exit 1'"`);
    const encoded = value(one(tree, "vrrp_script", "api_chk_api").children, "script");
    const m = /^"\/bin\/sh -c 'echo ([A-Za-z0-9+/=]+) \| base64 -d \| \/bin\/sh'"$/.exec(encoded);
    assert.ok(m, encoded);
    assert.equal(Buffer.from(m[1]!, "base64").toString("utf8"), COMPLEX_TRACK);
    assert.deepEqual(scriptCommand("echo $HOME"), {
      command: `"/bin/sh -c 'echo ${Buffer.from("echo $HOME").toString("base64")} | base64 -d | /bin/sh'"`,
      encoded: true,
    });
  });

  it("validate refuses a missing file before keepalived -t (which exits 0 on one)", () => {
    const { file } = conf("lb1");
    assert.equal(file.validate, "test -s {file} && keepalived -t -f {file}");
    assert.equal(KEEPALIVED_VALIDATE, file.validate);
    assert.deepEqual(file.notify, ["keepalived"]);
  });

  it("services: foreground keepalived, HUP reload, host-scoped health, rolling group from the plan", () => {
    const r = render();
    const byHost = new Map(r.services.map((s) => [s.host, s]));
    assert.deepEqual([...byHost.keys()], ["lb1", "lb2", "lb3"]);
    assert.equal(byHost.get("lb1")!.manager, "systemd");
    assert.equal(byHost.get("lb3")!.manager, "supervisor");
    assert.equal(byHost.get("lb3")!.reload, "supervisorctl signal HUP keepalived");
    for (const s of r.services) {
      assert.equal(s.name, "keepalived");
      // the process, and every VIP of the host's instances answering wherever it is held
      const vips = [
        ...r.files
          .find((f) => f.host === s.host && f.path === "/etc/keepalived/keepalived.conf")!
          .content.matchAll(/^\s+(\S+)\/\d+ dev (\S+)/gm),
      ].map((m) => ({ vip: m[1]!, interface: m[2]! }));
      assert.ok(vips.length >= 1);
      assert.equal(s.health, keepalivedHealth(vips));
      // per VIP: held here, or an echo reply, or a solicited layer-2 answer on the VIP's interface
      // (the system test runs it with ICMP echo dropped)
      for (const { vip, interface: dev } of vips) {
        assert.ok(s.health.includes(`ip -o addr show to ${vip} | grep -q .`));
        assert.ok(s.health.includes(`ip neigh flush to ${vip} dev ${dev} 2>/dev/null; ping -c 1 -W 1 ${vip} >/dev/null 2>&1`));
        assert.ok(s.health.includes(`ip neigh show to ${vip} dev ${dev} nud reachable | grep -q .`));
      }
      assert.equal(s.rollGroup, "keepalived:api");
    }
    // systemd: Debian's keepalived.service as packaged (same config path, HUP reload): no unit, no drop-in.
    assert.deepEqual(
      r.files.filter((f) => f.path.startsWith("/etc/systemd/")),
      [],
    );
    const prog = r.files.find((f) => f.host === "lb3" && f.path === "/etc/supervisor/conf.d/keepalived.conf")!;
    assert.match(prog.content, /^command=\/usr\/sbin\/keepalived --dont-fork --log-console -f \/etc\/keepalived\/keepalived.conf$/m);
  });

  it("startupDelayS: vrrp_startup_delay in global_defs and a start-settings file the restart follows; none of it by default", () => {
    const plain = render();
    assert.ok(plain.files.every((f) => f.path !== KEEPALIVED_START_SETTINGS && !/vrrp_startup_delay/.test(f.content)));
    assert.ok(plain.services.every((s) => !s.restart.includes(KEEPALIVED_START_SETTINGS)));
    const plan = keepalivedPlan();
    const delayed = render({
      ...plan,
      inventory: { ...plan.inventory, keepalived: { ...plan.inventory.keepalived!, startupDelayS: 2.5 } },
    });
    for (const s of delayed.services) {
      const conf = delayed.files.find((f) => f.host === s.host && f.path === "/etc/keepalived/keepalived.conf")!;
      const globals = parseConf(conf.content).find((n) => n.words[0] === "global_defs")!;
      assert.deepEqual(
        globals.children.filter((c) => c.words[0] === "vrrp_startup_delay").map((c) => c.words),
        [["vrrp_startup_delay", "2.5"]],
      );
      const marker = delayed.files.find((f) => f.host === s.host && f.path === KEEPALIVED_START_SETTINGS)!;
      assert.match(marker.content, /^vrrp_startup_delay 2\.5$/m);
      assert.deepEqual(marker.notify, ["keepalived"]);
      // the reload is taken only while the start-settings file is not newer than the applied mark
      assert.ok(
        s.restart.includes(`find '${KEEPALIVED_START_SETTINGS}' -maxdepth 0 -cnewer '/var/lib/haforge/applied/keepalived'`),
        s.restart,
      );
    }
  });

  it("rolling group falls back to a later instance's group, or none when the plan has none", () => {
    const plan = keepalivedPlan();
    const onlyDb: ClusterPlan = { ...plan, rollingGroups: plan.rollingGroups.filter((g) => g.id === "keepalived:db") };
    const r = render(onlyDb);
    assert.equal(r.services.find((s) => s.host === "lb2")!.rollGroup, "keepalived:db");
    assert.equal(r.services.find((s) => s.host === "lb1")!.rollGroup, undefined);
    assert.ok(render({ ...plan, rollingGroups: [] }).services.every((s) => s.rollGroup === undefined));
  });

  it("is deterministic and renders nothing without instances", () => {
    assert.deepEqual(render(), render());
    const empty = render({ ...keepalivedPlan(), keepalived: [] });
    assert.deepEqual(empty, { files: [], services: [], actions: [] });
  });

  it("the template never crashes on an empty model", () => {
    const text = renderTemplate("keepalived", "keepalived.conf.hbs", {});
    assert.match(text, /global_defs \{/);
    parseConf(text);
  });

  it("secret findings: truncation warned with the inventory path, values never quoted", () => {
    const f = keepalivedSecretFindings(keepalivedPlan(), keepalivedSecrets);
    assert.deepEqual(
      f.map((x) => [x.severity, x.code, x.path]),
      [["warning", "keepalived.auth-pass-truncated", "keepalived.instances[0].authPass"]],
    );
    assert.ok(!f[0]!.message.includes(API_AUTH_PASS));
    assert.match(f[0]!.message, /"authPass" of instance "api" is 20 characters/);
    assert.deepEqual(keepalivedSecretFindings(keepalivedPlan(), { [secretKey({ secret: "keepalivedApiPass" })]: "short" }), []);
    const quoted = keepalivedSecretFindings(keepalivedPlan(), { [secretKey({ secret: "keepalivedApiPass" })]: 'a"b' });
    assert.deepEqual(
      quoted.map((x) => x.code),
      ["keepalived.auth-pass-unquotable"],
    );
  });

  it("example inventories: planCluster's keepalived slice renders one conf per member with its instances", () => {
    const examples = examplePlans().filter((e) => e.plan.keepalived.length > 0);
    assert.ok(examples.length >= 2, "lab.yaml and cloudify.yaml carry keepalived");
    for (const { file, plan, secrets } of examples) {
      const r = render(plan, secrets);
      const members = [...new Set(plan.keepalived.flatMap((i) => i.members.map((m) => m.host)))];
      const confFiles = r.files.filter((f) => f.path === "/etc/keepalived/keepalived.conf");
      assert.deepEqual(confFiles.map((f) => f.host).sort(), [...members].sort(), file);
      const keys = r.files.map((f) => `${f.host}:${f.path}`);
      assert.equal(new Set(keys).size, keys.length, `${file}: no file rendered twice`);
      for (const f of confFiles) {
        const tree = parseConf(f.content);
        const mine = plan.keepalived.filter((i) => i.members.some((m) => m.host === f.host));
        assert.deepEqual(
          find(tree, "vrrp_instance").map((n) => n.words[1]),
          mine.map((i) => i.name),
          `${file} ${f.host}`,
        );
        assert.ok(!f.content.includes("__HAFORGE_UNRESOLVED_"), `${file}: every secret resolved`);
      }
      assert.deepEqual(keepalivedSecretFindings(plan, secrets), [], `${file}: 8-character stand-in secrets`);
    }
  });
});

describe("keepalived render: unicast keywords only with a peer", () => {
  it("property: every vrrp_instance has unicast_src_ip iff unicast and a second member, and then every other member as a peer", () => {
    const hosts = [1, 2, 3, 4].map((i) => ({
      name: `n${i}`,
      address: `10.9.0.${i}`,
      interfaces: [{ name: "eth0", address: `10.9.0.${i}/24` }],
    }));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ members: fc.subarray(["n1", "n2", "n3", "n4"], { minLength: 1 }), unicast: fc.boolean(), nopreempt: fc.boolean() }),
          { minLength: 1, maxLength: 3 },
        ),
        (specs) => {
          const instances = specs.map((s, i) => ({
            name: `vi${i}`,
            vip: `10.9.0.${100 + i}/24`,
            routerId: 51 + i,
            interface: "eth0",
            hosts: s.members,
            unicast: s.unicast,
            nopreempt: s.nopreempt,
          }));
          const a = analyzeInventoryText(JSON.stringify({ hosts, keepalived: { instances } }), "k.json");
          assert.ok(a.plan, JSON.stringify(a.findings));
          const state = renderDesiredState(a.plan, {}, {});
          for (const h of state.hosts) {
            const f = h.files.find((x) => x.path === "/etc/keepalived/keepalived.conf");
            if (!f) continue;
            for (const vi of find(parseConf(f.content), "vrrp_instance")) {
              const spec = specs[Number(vi.words[1]!.slice(2))]!;
              const peers = find(vi.children, "unicast_peer");
              const unicast = spec.unicast && spec.members.length > 1;
              assert.equal(find(vi.children, "unicast_src_ip").length, unicast ? 1 : 0, `${h.host} ${vi.words[1]}: ${f.content}`);
              assert.equal(peers.length, unicast ? 1 : 0, `${h.host} ${vi.words[1]}: unicast_peer`);
              if (unicast)
                assert.deepEqual(
                  peers[0]!.children.map((c) => c.words[0]).sort(),
                  spec.members
                    .filter((m) => m !== h.host)
                    .map((m) => `10.9.0.${m.slice(1)}`)
                    .sort(),
                );
            }
          }
        },
      ),
      { numRuns: 60, seed: 1313 },
    );
  });
});
