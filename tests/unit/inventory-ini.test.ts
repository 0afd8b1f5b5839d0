/**
 * Tower INI reader (src/inventory/tower-ini.ts): Ansible's host-line tokenizing, :vars values,
 * host patterns, group semantics, the mapping to the Inventory, and INI-notation paths.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { expandHostPattern, parentPath, parseIniValue, shellSplit } from "../../src/inventory/tower-ini";
import { parseInventoryText } from "../../src/inventory/load";

const load = (text: string) => parseInventoryText(text, "inventory.ini");
const codes = (r: ReturnType<typeof load>) => r.findings.map((f) => `${f.code} @ ${f.path}`);

describe("shellSplit (shlex.split(line, comments=True))", () => {
  const cases: [string, string[]][] = [
    ["hostA rabbitmq_host=10.1.0.1", ["hostA", "rabbitmq_host=10.1.0.1"]],
    ["  hostA\t a=1   b=2  ", ["hostA", "a=1", "b=2"]],
    ['h pw=\'a b c\' x="q \\"z\\" \\n"', ["h", "pw=a b c", 'x=q "z" \\n']],
    ["h x='it''s'", ["h", "x=its"]],
    ["h a=b # a comment", ["h", "a=b"]],
    ["h a=b#c", ["h", "a=b"]], // shlex: an unquoted # ends the word and the line
    ["h a='b#c' d=\"e#f\"", ["h", "a=b#c", "d=e#f"]],
    ["h a=x\\ y", ["h", "a=x y"]],
    ["h empty='' other=\"\"", ["h", "empty=", "other="]],
    ["# only a comment", []],
  ];
  for (const [line, tokens] of cases) {
    it(JSON.stringify(line), () => assert.deepEqual(shellSplit(line), { tokens }));
  }
  it("unclosed quotes and a trailing backslash are errors, not exceptions", () => {
    assert.match(shellSplit("h a='open").error!, /closing quotation/);
    assert.match(shellSplit('h a="open').error!, /closing quotation/);
    assert.match(shellSplit("h a=\\").error!, /escaped/);
  });
});

describe("parseIniValue (Ansible's _parse_value)", () => {
  const cases: [string, string][] = [
    ["''", ""],
    ["'changeme'", "changeme"],
    ['"it\'s"', "it's"],
    ["'a' 'b'", "ab"],
    ["5672", "5672"],
    ["5672   # default", "5672"],
    ["'tower'  # quoted, then a comment", "tower"],
    ["tower # not a literal: kept whole", "tower # not a literal: kept whole"],
    ["abc;def#ghi", "abc;def#ghi"], // the `ini` package would cut this password to "abc"
    ["True", "True"],
    ["None", ""],
    ["'a\\tb\\x41'", "a\tbA"],
    ["0755", "0755"],
    ["['a', 'b']", "['a', 'b']"],
  ];
  for (const [raw, value] of cases) it(JSON.stringify(raw), () => assert.equal(parseIniValue(raw), value));
});

describe("expandHostPattern", () => {
  it("ports", () => {
    assert.deepEqual(expandHostPattern("hostA:2222"), { names: ["hostA"], port: "2222" });
    assert.deepEqual(expandHostPattern("[fd00::1]:22"), { names: ["fd00::1"], port: "22" });
    assert.deepEqual(expandHostPattern("hostA"), { names: ["hostA"] });
  });
  it("ranges: numeric with padding, letters, steps, nested", () => {
    assert.deepEqual(expandHostPattern("web[01:03].example.com").names, ["web01.example.com", "web02.example.com", "web03.example.com"]);
    assert.deepEqual(expandHostPattern("db-[a:c]").names, ["db-a", "db-b", "db-c"]);
    assert.deepEqual(expandHostPattern("n[0:6:3]").names, ["n0", "n3", "n6"]);
    assert.deepEqual(expandHostPattern("r[1:2]c[1:2]:2200"), { names: ["r1c1", "r1c2", "r2c1", "r2c2"], port: "2200" });
  });
  it("bad or huge ranges are errors", () => {
    assert.match(expandHostPattern("x[5:1]").error!, /start is after end/);
    assert.match(expandHostPattern("x[a:5]").error!, /numeric|letters/);
    assert.match(expandHostPattern("x[0:99999]").error!, /more than/);
    assert.match(expandHostPattern("x[0:40]y[0:40]").error!, /more than/);
  });
});

describe("parentPath", () => {
  it("strips one segment at a time", () => {
    assert.equal(parentPath("tower.instanceGroups[1].hosts[0]"), "tower.instanceGroups[1].hosts");
    assert.equal(parentPath("tower.instanceGroups[1].hosts"), "tower.instanceGroups[1]");
    assert.equal(parentPath('hosts[0].vars["a b"]'), "hosts[0].vars");
    assert.equal(parentPath("tower"), "");
  });
});

const TOWER_CLUSTER = `
# Tower 3.x cluster inventory
[tower]
hostA rabbitmq_host=10.1.0.1 ansible_host=203.0.113.1
hostB rabbitmq_host=10.1.0.2 ansible_host=203.0.113.2 ansible_user=admin ansible_port=2222
hostC:2200 rabbitmq_host=10.1.0.3 managed_by_policy=false custom_fact=blue ansible_become_pass=hunter2

[instance_group_east]
hostB
hostC

[instance_group_east:vars]
policy_instance_percentage=50
policy_instance_minimum=1
policy_instance_list=hostA, hostB

[instance_group_west]
hostD ansible_host=203.0.113.4 rabbitmq_host=10.1.0.4

[isolated_group_gov]
isoA
isoB controller=east

[isolated_group_gov:vars]
controller=east

[database]
db1

[all:vars]
ansible_user=root
admin_password='p4ss;word'
pg_host='10.1.0.50'
pg_port=''
pg_database='awx'
pg_username='awx'
pg_password='pg;secret#1'
rabbitmq_port=5673
rabbitmq_vhost=tower
rabbitmq_username=tower
rabbitmq_password=''
rabbitmq_cookie=cookiemonster
rabbitmq_use_long_names=true
rabbitmq_enable_manager=true
`;

describe("Tower INI → Inventory", () => {
  const r = load(TOWER_CLUSTER);
  const inv = r.inventory!;

  it("reads with no findings", () => {
    assert.equal(r.format, "tower-ini");
    assert.deepEqual(r.findings, []);
  });

  it("hosts in first-appearance order with their address, internal address, SSH settings", () => {
    assert.deepEqual(
      inv.hosts.map((h) => [h.name, h.address, h.internalAddress, h.ssh.user, h.ssh.port, h.managedByPolicy]),
      [
        ["hostA", "203.0.113.1", "10.1.0.1", "root", 22, true],
        ["hostB", "203.0.113.2", "10.1.0.2", "admin", 2222, true],
        ["hostC", "hostC", "10.1.0.3", "root", 2200, false],
        ["hostD", "203.0.113.4", "10.1.0.4", "root", 22, true],
        ["isoA", "isoA", undefined, "root", 22, true],
        ["isoB", "isoB", undefined, "root", 22, true],
        ["db1", "db1", undefined, "root", 22, true],
      ],
    );
  });

  it("unknown vars stay in host.vars; secret-named ones and [all:vars] do not", () => {
    assert.deepEqual(inv.hosts[2]!.vars, { custom_fact: "blue" });
    assert.deepEqual(inv.hosts[5]!.vars, { controller: "east" }); // host-line controller kept for the plan's check
    assert.deepEqual(inv.hosts[4]!.vars, {}); // the group's controller is the group's field
  });

  it("tower groups: [tower] first, instance_group_<name> without prefix, lists and policies", () => {
    const t = inv.tower!;
    assert.deepEqual(
      t.instanceGroups.map((g) => [g.name, g.hosts, g.policy]),
      [
        ["tower", ["hostA", "hostB", "hostC"], { percentage: 0, minimum: 0, list: [] }],
        ["east", ["hostB", "hostC"], { percentage: 50, minimum: 1, list: ["hostA", "hostB"] }],
        ["west", ["hostD"], { percentage: 0, minimum: 0, list: [] }],
      ],
    );
    assert.deepEqual(t.isolatedGroups, [{ name: "gov", controller: "east", hosts: ["isoA", "isoB"] }]);
  });

  it("database and secrets from [all:vars] (INI literals as { value }), empty pg_port = default", () => {
    const t = inv.tower!;
    assert.deepEqual(t.database, {
      hosts: ["db1"],
      host: "10.1.0.50",
      port: 5432,
      name: "awx",
      username: "awx",
      password: { value: "pg;secret#1" },
    });
    assert.deepEqual(t.adminPassword, { value: "p4ss;word" });
  });

  it("rabbitmq vars, including the rabbitmq_use_long_names spelling", () => {
    const m = inv.rabbitmq!;
    assert.deepEqual(
      [m.port, m.vhost, m.username, m.password, m.cookie, m.useLongName, m.enableManagement],
      [5673, "tower", "tower", { value: "" }, { value: "cookiemonster" }, true, true],
    );
  });

  it("sourcePath translates YAML paths to the INI notation", () => {
    const cases: [string, string][] = [
      ["tower.instanceGroups[1].hosts[0]", "[instance_group_east] hostB"],
      ["tower.instanceGroups[1].policy.percentage", "[instance_group_east:vars] policy_instance_percentage"],
      ["tower.instanceGroups[1].policy.list[1]", "[instance_group_east:vars] policy_instance_list"],
      ["tower.instanceGroups[0].hosts", "[tower]"],
      ["tower.isolatedGroups[0].controller", "[isolated_group_gov:vars] controller"],
      ["tower.database.host", "[all:vars] pg_host"],
      ["rabbitmq.useLongName", "[all:vars] rabbitmq_use_long_names"],
      ["rabbitmq.cookie", "[all:vars] rabbitmq_cookie"],
      ["hosts[2].address", "[tower] hostC"],
      ["hosts[2].internalAddress", "[tower] hostC"],
      ["hosts[1].ssh.user", "[tower] hostB"],
      ["hosts[0].ssh.user", "[all:vars] ansible_user"],
      ["hosts[2].ssh.port", "[tower] hostC"],
      ["hosts[3].name", "[instance_group_west] hostD"],
      ["hosts[5].vars.controller", "[isolated_group_gov] isoB"],
      ["[tower] hostC", "[tower] hostC"],
      ["not.a.mapped.path", "not.a.mapped.path"],
    ];
    for (const [yaml, ini] of cases) assert.equal(r.sourcePath(yaml), ini, yaml);
  });
});

describe("Tower INI findings (with INI paths)", () => {
  it("numbers and booleans that are not", () => {
    const r = load(
      "[tower]\na ansible_port=twenty-two managed_by_policy=perhaps\n[instance_group_x:vars]\npolicy_instance_percentage=half\n[instance_group_x]\na\n[all:vars]\nrabbitmq_port=amqp\nrabbitmq_use_long_name=maybe\npg_port=5432x\n",
    );
    assert.deepEqual(codes(r).sort(), [
      "ini.not-a-boolean @ [all:vars] rabbitmq_use_long_name",
      "ini.not-a-boolean @ [tower] a",
      "ini.not-a-number @ [all:vars] pg_port",
      "ini.not-a-number @ [all:vars] rabbitmq_port",
      "ini.not-a-number @ [instance_group_x:vars] policy_instance_percentage",
      "ini.not-a-number @ [tower] a",
    ]);
    assert.ok(r.inventory, "the inventory is still produced, without the bad values");
    assert.ok(
      r.findings.every((f) => f.message.includes('"')),
      "messages quote the var and the value",
    );
  });

  it("a trailing comment after an unquoted word in :vars stays in the value (warning)", () => {
    const r = load("[tower]\na\n[all:vars]\nrabbitmq_vhost=tower # the vhost\nrabbitmq_port=5672 # fine: a number\n");
    assert.deepEqual(codes(r), ["ini.inline-comment @ [all:vars] rabbitmq_vhost"]);
    assert.equal(r.inventory!.rabbitmq!.vhost, "tower # the vhost");
    assert.equal(r.inventory!.rabbitmq!.port, 5672);
  });

  it("out-of-range values reach the schema and are reported at the INI var", () => {
    const r = load(
      "[tower]\na\n[instance_group_x]\na\n[instance_group_x:vars]\npolicy_instance_percentage=150\n[all:vars]\nrabbitmq_port=70000\n",
    );
    assert.deepEqual(codes(r).sort(), [
      "schema.invalid @ [all:vars] rabbitmq_port",
      "schema.invalid @ [instance_group_x:vars] policy_instance_percentage",
    ]);
    assert.equal(r.inventory, undefined);
  });

  it("syntax: bad section header, unknown section type, host var without '=', unclosed quote, bad range", () => {
    const r = load("[tower\na\n[x:hostvars]\nb\n[tower]\nc oops\nd pw='open\ne[3:1]\n");
    assert.deepEqual(codes(r).sort(), [
      "ini.host-range @ [tower] e[3:1]",
      "ini.host-syntax @ [tower] d",
      "ini.host-var-syntax @ [tower] c",
      "ini.section-syntax @ line 1",
      "ini.section-type @ [x:hostvars]",
    ]);
    assert.deepEqual(
      r.inventory!.hosts.map((h) => h.name),
      ["c"],
    ); // lines under broken headers are skipped
  });

  it("vars: a line without '=' is an error", () => {
    assert.deepEqual(codes(load("[tower]\na\n[all:vars]\njust_a_word\n")), ["ini.var-syntax @ [all:vars]"]);
  });

  it(":children membership is transitive; cycles and undeclared groups are reported", () => {
    const ok = load("[tower:children]\nfront\n[front]\nw1\nw2\n[database]\ndb\n");
    assert.deepEqual(ok.inventory!.tower!.instanceGroups[0]!.hosts, ["w1", "w2"]);
    const cyc = load("[a:children]\nb\n[b:children]\na\n[tower]\nx\n");
    assert.ok(codes(cyc).some((c) => c.startsWith("ini.children-cycle")));
    const undeclared = load("[tower]\nx\n[ghost:vars]\nk=v\n");
    assert.deepEqual(codes(undeclared), ["ini.undefined-group @ [ghost]"]);
  });

  it("global vars are read from [all:vars] only (warning elsewhere); policy vars not from [all:vars]", () => {
    const r = load("[tower]\na rabbitmq_port=1\n[tower:vars]\nrabbitmq_cookie=x\n[all:vars]\npolicy_instance_minimum=1\n");
    assert.deepEqual(codes(r).sort(), [
      "ini.global-var-scope @ [tower:vars] rabbitmq_cookie",
      "ini.global-var-scope @ [tower] a",
      "ini.policy-var-scope @ [all:vars] policy_instance_minimum",
    ]);
    assert.equal(r.inventory!.rabbitmq, undefined);
  });

  it("the same host var set differently on two lines: warning, last wins (Ansible)", () => {
    const r = load("[tower]\na rabbitmq_host=10.0.0.1\n[instance_group_x]\na rabbitmq_host=10.0.0.2\n");
    assert.deepEqual(codes(r), ["ini.host-var-conflict @ [instance_group_x] a"]);
    assert.equal(r.inventory!.hosts[0]!.internalAddress, "10.0.0.2");
  });

  it("two groups giving a host different ansible_user: warning", () => {
    const r = load("[tower]\na\n[instance_group_x]\na\n[tower:vars]\nansible_user=u1\n[instance_group_x:vars]\nansible_user=u2\n");
    assert.deepEqual(codes(r), ["ini.var-conflict @ [tower:vars] ansible_user"]);
  });

  it("both spellings of use_long_name disagreeing is an error", () => {
    assert.deepEqual(codes(load("[tower]\na\n[all:vars]\nrabbitmq_use_long_name=true\nrabbitmq_use_long_names=false\n")), [
      "ini.conflicting-vars @ [all:vars] rabbitmq_use_long_names",
    ]);
  });

  it("isolated groups ignore policy vars (warning)", () => {
    assert.deepEqual(
      codes(load("[tower]\na\n[isolated_group_g]\ni\n[isolated_group_g:vars]\ncontroller=tower\npolicy_instance_minimum=2\n")),
      ["ini.isolated-policy @ [isolated_group_g:vars] policy_instance_minimum"],
    );
  });

  it("a generic Ansible inventory (no tower sections) maps hosts only", () => {
    const r = load("web1 ansible_host=10.0.0.1\n[web]\nweb2\n");
    assert.deepEqual(r.findings, []);
    assert.deepEqual(
      r.inventory!.hosts.map((h) => h.name),
      ["web1", "web2"],
    );
    assert.equal(r.inventory!.tower, undefined);
    assert.equal(r.sourcePath("hosts[0]"), "[ungrouped] web1");
  });

  it("haforge_* host vars map to SSH pinning, bastion and init", () => {
    const r = load(
      "[tower]\na haforge_host_key='ssh-ed25519 AAAA' haforge_bastion=jump haforge_init=supervisor haforge_trust_on_first_use=yes\njump haforge_known_hosts_file=/k\n",
    );
    const [a, jump] = r.inventory!.hosts;
    assert.deepEqual([a!.ssh.hostKey, a!.ssh.bastion, a!.init, a!.ssh.trustOnFirstUse], ["ssh-ed25519 AAAA", "jump", "supervisor", true]);
    assert.equal(jump!.ssh.knownHostsFile, "/k");
  });
});
