/**
 * The Kubernetes target's objects, for every k8s inventory (the examples with `target:
 * kubernetes` and variants that change counts, names and options):
 * - every object validates against the Kubernetes API schema (kubernetes-models), and a broken
 *   object does not (the validation can fail);
 * - what the schema cannot see: selectors match pod labels, Services select the right pods on
 *   ports they expose, PDBs keep quorum, anti-affinity spreads each workload's own pods, every
 *   object is in the configured namespace, every reference (ServiceAccount, ConfigMap/Secret
 *   keys, serviceName, roleRef, Ingress backend) resolves, names fit Kubernetes' limits, apply
 *   waves put consumers after what they use;
 * - secrets appear only in Secrets (as stringData), rendering is deterministic;
 * - stolon's flags (as environment variables) are documented ones, its store labels are on the
 *   pods, the keeper uid comes from the pod ordinal; RabbitMQ's node name matches its peer
 *   discovery settings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { majorityQuorum } from "../../src/plan/quorum";
import { rabbitmqOnKubernetes } from "../../src/services/rabbitmq/k8s-topology";
import { stolonOnKubernetes } from "../../src/services/postgres/k8s-topology";
import { STOLON_ENV_PREFIX, type StolonCommand } from "../../src/services/postgres/kubernetes";
import { STOLON_FLAGS, unknownStolonSpecKeys } from "../../src/services/postgres/stolon";
import { towerOnKubernetes, type TowerGroupOnKubernetes } from "../../src/services/tower/k8s-topology";
import { kubernetesTarget } from "../../src/kubernetes";
import {
  allK8sCases,
  containersOf,
  find,
  podTemplate,
  renderObjects,
  schemaErrors,
  selects,
  waveOf,
  WORKLOAD_KINDS,
  type Obj,
} from "./k8s-helpers";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const workloads = (objects: readonly Obj[]) => objects.filter((o) => WORKLOAD_KINDS.has(o.kind) && o.kind !== "Job");

const cases = allK8sCases();

describe("kubernetes target: the k8s inventories", () => {
  it("covers the example inventory and every variant", () => {
    assert.ok(
      cases.some((c) => c.label === "inventories/tower-k8s.yaml"),
      "inventories/tower-k8s.yaml is a k8s example",
    );
    assert.ok(cases.length >= 5);
  });
});

for (const { label, plan } of cases) {
  describe(`kubernetes target: ${label}`, () => {
    const { objects, values } = renderObjects(plan);
    const target = kubernetesTarget(plan);

    it("renders objects, each validating against the Kubernetes API schema", async () => {
      assert.ok(objects.length > 0);
      for (const o of objects) {
        const err = await schemaErrors(o);
        assert.equal(err, undefined, `${o.kind} ${o.metadata.name}: ${err}`);
      }
    });

    it("puts every object in the configured namespace, with unique valid names and label values", () => {
      const seen = new Set<string>();
      for (const o of objects) {
        assert.equal(o.metadata.namespace, target.namespace, `${o.kind} ${o.metadata.name}`);
        const key = `${o.kind}/${o.metadata.name}`;
        assert.ok(!seen.has(key), `${key} rendered twice`);
        seen.add(key);
        assert.ok(o.metadata.name.length <= 52, `${key}: name longer than 52 (StatefulSet pods' revision label)`);
        assert.match(o.metadata.name, o.kind === "Service" ? DNS1035_LABEL : DNS1123_LABEL, key);
        const labelSets = [o.metadata.labels ?? {}, podTemplate(o)?.metadata.labels ?? {}];
        for (const set of labelSets) for (const [k, v] of Object.entries(set)) assert.match(v, LABEL_VALUE, `${key} label ${k}=${v}`);
        for (const s of o.subjects ?? []) assert.equal(s.namespace, target.namespace, `${key} subject`);
      }
    });

    it("workloads select their own pod template, and only their own", () => {
      for (const w of workloads(objects)) {
        const sel = w.spec.selector.matchLabels;
        assert.ok(selects(sel, podTemplate(w)!.metadata.labels), `${w.kind} ${w.metadata.name}: selector does not match its pods`);
        for (const other of workloads(objects)) {
          if (other !== w)
            assert.ok(
              !selects(sel, podTemplate(other)!.metadata.labels),
              `${w.metadata.name}'s selector also matches ${other.metadata.name}'s pods`,
            );
        }
      }
    });

    it("every Service selects pods that expose its target ports", () => {
      for (const svc of objects.filter((o) => o.kind === "Service")) {
        const sel = svc.spec.selector;
        const selected = workloads(objects).filter((w) => selects(sel, podTemplate(w)!.metadata.labels));
        assert.ok(selected.length > 0, `Service ${svc.metadata.name} selects no pods`);
        for (const w of selected) {
          const ports = containersOf(w).flatMap((c) => c.ports ?? []);
          for (const p of svc.spec.ports) {
            const ok = ports.some((cp: { name?: string; containerPort: number }) =>
              typeof p.targetPort === "string" ? cp.name === p.targetPort : cp.containerPort === p.targetPort,
            );
            assert.ok(ok, `Service ${svc.metadata.name} port ${p.name} → ${p.targetPort} not exposed by ${w.metadata.name}`);
          }
        }
        assert.equal(
          waveOf(svc),
          Math.max(...selected.map(waveOf)),
          `Service ${svc.metadata.name} is applied with its pods (the provider waits for endpoints)`,
        );
      }
    });

    it("PodDisruptionBudgets cover one workload each and never allow quorum loss", () => {
      const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget");
      for (const w of workloads(objects)) {
        const mine = budgets.filter((b) => selects(b.spec.selector.matchLabels, podTemplate(w)!.metadata.labels));
        assert.equal(mine.length, 1, `${w.metadata.name} has ${mine.length} PDBs`);
      }
      const r = rabbitmqOnKubernetes(plan);
      if (r) assert.equal(find(objects, "PodDisruptionBudget", r.names.pdb)!.spec.minAvailable, Math.floor(r.replicas / 2) + 1);
      const s = stolonOnKubernetes(plan);
      if (s) {
        assert.equal(find(objects, "PodDisruptionBudget", s.names.keepers)!.spec.minAvailable, majorityQuorum(s.replicas.keepers).quorum);
        assert.equal(find(objects, "PodDisruptionBudget", s.names.sentinels)!.spec.minAvailable, Math.floor(s.replicas.sentinels / 2) + 1);
      }
      for (const b of budgets) {
        if (b.spec.minAvailable === undefined) continue;
        const w = workloads(objects).find((x) => selects(b.spec.selector.matchLabels, podTemplate(x)!.metadata.labels))!;
        // A majority stays up: the pods left after the budget's evictions outnumber those gone.
        assert.ok(
          b.spec.minAvailable > w.spec.replicas / 2,
          `${b.metadata.name}: ${b.spec.minAvailable} of ${w.spec.replicas} is not a majority`,
        );
      }
    });

    it("spreads every workload's pods over nodes (anti-affinity on its own labels, per host)", () => {
      for (const w of workloads(objects)) {
        const terms = podTemplate(w)!.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
        assert.equal(terms.length, 1, `${w.metadata.name} has no anti-affinity`);
        assert.equal(terms[0].podAffinityTerm.topologyKey, "kubernetes.io/hostname");
        assert.deepEqual(
          terms[0].podAffinityTerm.labelSelector.matchLabels,
          w.spec.selector.matchLabels,
          `${w.metadata.name} spreads exactly its own pods`,
        );
      }
    });

    it("every reference resolves: service accounts, config maps and secrets (with their keys), serviceName, roleRef, Ingress backend", () => {
      const need = (kind: string, name: string, from: string) => {
        const o = find(objects, kind, name);
        assert.ok(o, `${from} refers to ${kind} ${name}, which is not rendered`);
        return o;
      };
      const keysOf = (o: Obj) => Object.keys(o.kind === "Secret" ? o.stringData : o.data);
      for (const o of objects) {
        const from = `${o.kind} ${o.metadata.name}`;
        const t = podTemplate(o);
        if (t) {
          if (t.spec.serviceAccountName)
            assert.ok(
              waveOf(need("ServiceAccount", t.spec.serviceAccountName, from)) < waveOf(o),
              `${from}: its ServiceAccount is applied first`,
            );
          for (const v of t.spec.volumes ?? []) {
            const ref = v.configMap
              ? need("ConfigMap", v.configMap.name, from)
              : v.secret
                ? need("Secret", v.secret.secretName, from)
                : undefined;
            if (!ref) continue;
            assert.ok(waveOf(ref) < waveOf(o), `${from}: ${ref.kind} ${ref.metadata.name} is applied first`);
            for (const item of (v.configMap ?? v.secret).items ?? [])
              assert.ok(keysOf(ref).includes(item.key), `${from}: volume item ${item.key}`);
          }
          for (const c of containersOf(o)) {
            for (const e of c.env ?? []) {
              const cm = e.valueFrom?.configMapKeyRef;
              const sk = e.valueFrom?.secretKeyRef;
              if (cm)
                assert.ok(keysOf(need("ConfigMap", cm.name, from)).includes(cm.key), `${from}: env ${e.name} → ConfigMap key ${cm.key}`);
              if (sk) assert.ok(keysOf(need("Secret", sk.name, from)).includes(sk.key), `${from}: env ${e.name} → Secret key ${sk.key}`);
            }
            for (const m of c.volumeMounts ?? []) {
              const known = [
                ...(t.spec.volumes ?? []).map((v: { name: string }) => v.name),
                ...(o.spec.volumeClaimTemplates ?? []).map((v: { metadata: { name: string } }) => v.metadata.name),
              ];
              assert.ok(known.includes(m.name), `${from}: mount of unknown volume ${m.name}`);
            }
          }
        }
        if (o.kind === "StatefulSet") {
          const svc = need("Service", o.spec.serviceName, from);
          assert.equal(svc.spec.clusterIP, "None", `${from}: its governing Service is headless`);
          assert.ok(selects(svc.spec.selector, o.spec.template.metadata.labels));
        }
        if (o.kind === "RoleBinding") {
          need("Role", o.roleRef.name, from);
          for (const s of o.subjects) need("ServiceAccount", s.name, from);
        }
        if (o.kind === "Ingress") {
          for (const rule of o.spec.rules)
            for (const p of rule.http.paths) {
              const svc = need("Service", p.backend.service.name, from);
              assert.ok(
                svc.spec.ports.some((sp: { name: string }) => sp.name === p.backend.service.port.name),
                `${from}: backend port ${p.backend.service.port.name}`,
              );
            }
        }
      }
    });

    it("keeps secret values in Secrets only, as stringData", () => {
      assert.ok(values.length > 0);
      for (const o of objects) {
        const text = JSON.stringify(o.kind === "Secret" ? { ...o, stringData: undefined } : o);
        for (const v of values) assert.ok(!text.includes(v), `${o.kind} ${o.metadata.name} carries a secret outside a Secret's values`);
        if (o.kind === "Secret") {
          assert.equal(o.data, undefined, `${o.metadata.name}: values in stringData, where render masking finds them`);
          for (const v of Object.values(o.stringData)) assert.equal(typeof v, "string");
        }
      }
      const secretText = JSON.stringify(objects.filter((o) => o.kind === "Secret").map((o) => o.stringData));
      for (const v of values) assert.ok(secretText.includes(v), `secret value ${v} reaches no Secret`);
    });

    it("is deterministic: the same inputs render identical objects", () => {
      assert.equal(JSON.stringify(renderObjects(plan).objects), JSON.stringify(objects));
    });

    it("orders objects by apply wave", () => {
      const waves = objects.map(waveOf);
      assert.deepEqual(
        waves,
        [...waves].sort((a, b) => a - b),
      );
    });

    const r = rabbitmqOnKubernetes(plan);
    if (r) {
      it("RabbitMQ: node names are the pods' DNS names, as peer discovery builds them", () => {
        const sts = find(objects, "StatefulSet", r.names.statefulSet)!;
        assert.equal(sts.spec.replicas, target.replicas.rabbitmq);
        const env = Object.fromEntries(
          sts.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
        );
        assert.equal(env.RABBITMQ_USE_LONGNAME, "true");
        const conf: string = find(objects, "ConfigMap", r.names.configMap)!.data["rabbitmq.conf"];
        const entry = (k: string) => new RegExp(`^${k.replace(/\./g, "\\.")} = (.*)$`, "m").exec(conf)?.[1];
        assert.equal(entry("cluster_formation.peer_discovery_backend"), "rabbit_peer_discovery_k8s");
        assert.equal(entry("cluster_formation.k8s.service_name"), sts.spec.serviceName);
        assert.equal(env.RABBITMQ_NODENAME, `rabbit@$(MY_POD_NAME)${entry("cluster_formation.k8s.hostname_suffix")}`);
        assert.equal(entry("cluster_partition_handling"), plan.inventory.rabbitmq?.partitionHandling ?? "pause_minority");
        assert.deepEqual(
          r.rabbitmq.nodes.map((n) => n.nodeName),
          Array.from(
            { length: r.replicas },
            (_, i) => `rabbit@${r.names.statefulSet}-${i}${entry("cluster_formation.k8s.hostname_suffix")}`,
          ),
        );
        assert.match(find(objects, "ConfigMap", r.names.configMap)!.data.enabled_plugins, /rabbitmq_peer_discovery_k8s/);
        const headless = find(objects, "Service", r.names.headless)!;
        assert.equal(headless.spec.publishNotReadyAddresses, true, "peers see each other before they are ready");
      });
    }

    const s = stolonOnKubernetes(plan);
    if (s) {
      it("stolon: documented flags only, the store's labels on every pod, keeper uid from the ordinal", () => {
        const byComponent: Record<string, StolonCommand> = {
          [s.names.keepers]: "stolon-keeper",
          [s.names.sentinels]: "stolon-sentinel",
          [s.names.proxies]: "stolon-proxy",
        };
        for (const [name, cmd] of Object.entries(byComponent)) {
          const w = workloads(objects).find((x) => x.metadata.name === name)!;
          const labels = w.spec.template.metadata.labels;
          assert.equal(labels.component, cmd, `${name}: stolon's store selects pods by component=${cmd}`);
          assert.equal(labels["stolon-cluster"], s.clusterName);
          const env = w.spec.template.spec.containers[0].env as { name: string; value?: string }[];
          const prefix = STOLON_ENV_PREFIX[cmd];
          const flags = env
            .filter((e) => e.name.startsWith(prefix))
            .map((e) => e.name.slice(prefix.length).toLowerCase().replace(/_/g, "-"));
          for (const f of flags) assert.ok(STOLON_FLAGS[cmd].has(f), `${name}: ${prefix}${f} is not a documented ${cmd} flag`);
          const val = (f: string) => env.find((e) => e.name === `${prefix}${f}`)?.value;
          assert.equal(val("CLUSTER_NAME"), s.clusterName);
          assert.equal(val("STORE_BACKEND"), "kubernetes");
          assert.equal(val("KUBE_RESOURCE_KIND"), "configmap");
          assert.ok(
            env.some((e) => e.name === "POD_NAME"),
            `${name}: stolon finds its own pod by POD_NAME`,
          );
        }
        const keeper = find(objects, "StatefulSet", s.names.keepers)!;
        assert.equal(keeper.spec.replicas, target.replicas.keepers);
        const script = keeper.spec.template.spec.containers[0].command.join(" ");
        assert.match(script, /export STKEEPER_UID="keeper\$\{POD_NAME##\*-\}"/);
        assert.equal(keeper.spec.volumeClaimTemplates[0].spec.storageClassName, target.storageClass);
        assert.deepEqual(
          unknownStolonSpecKeys(JSON.parse(find(objects, "ConfigMap", s.names.specConfigMap)!.data["cluster-spec.json"])),
          [],
        );
        const job = find(objects, "Job", s.names.initJob)!;
        const initScript = job.spec.template.spec.containers[0].command.join(" ");
        for (const m of initScript.matchAll(/--([a-z-]+)=/g)) assert.ok(STOLON_FLAGS.stolonctl.has(m[1]), `stolonctl --${m[1]}`);
        assert.match(initScript, /nil cluster data/, "init only on an empty store");
        assert.ok(waveOf(job) < waveOf(keeper), "the cluster is initialised before the keepers start");
      });
    }

    const t = towerOnKubernetes(plan);
    if (t) {
      it("Tower: a web and a task Deployment per instance group; settings point at the broker and database Services", () => {
        for (const g of plan.instanceGroups) {
          const tg: TowerGroupOnKubernetes = t.groups.find((x) => x.name === g.name)!;
          const web: Obj = find(objects, "Deployment", tg.web.name)!;
          const task: Obj = find(objects, "Deployment", tg.task.name)!;
          assert.equal(web.spec.replicas, target.replicas.web);
          assert.equal(task.spec.replicas, Math.max(target.replicas.task, g.policy.minimum));
          for (const d of [web, task]) assert.equal(d.spec.template.metadata.labels["haforge.io/instance-group"].length > 0, true);
        }
        const settings = find(objects, "ConfigMap", t.names.settings)!.data;
        assert.equal(settings.RABBITMQ_HOST, `${t.broker.names.service}.${target.namespace}.svc`);
        assert.ok(find(objects, "Service", t.broker.names.service));
        if (t.stolon) {
          assert.equal(settings.DATABASE_HOST, `${t.stolon.names.proxyService}.${target.namespace}.svc`);
          assert.ok(find(objects, "Service", t.stolon.names.proxyService));
          const job = find(objects, "Job", t.names.dbJob)!;
          assert.ok(
            waveOf(job) > waveOf(find(objects, "Deployment", t.stolon.names.proxies)!) &&
              waveOf(job) < waveOf(find(objects, "Deployment", t.groups[0]!.web.name)!),
          );
        } else assert.equal(settings.DATABASE_HOST, plan.inventory.tower!.database.host);
        // The entry Service reaches every group's web pods.
        const entry = find(objects, "Service", t.names.entry)!;
        const reached = workloads(objects).filter((w) => selects(entry.spec.selector, w.spec.template.metadata.labels));
        assert.deepEqual(reached.map((w) => w.metadata.name).sort(), t.groups.map((g) => g.web.name).sort());
        assert.equal(entry.spec.type, target.loadBalancer ? "LoadBalancer" : "ClusterIP");
        assert.equal(!!find(objects, "Ingress", t.names.ingress), !!target.ingress);
      });
    }
  });
}

describe("kubernetes target: the schema validation can fail", () => {
  const { objects } = renderObjects(cases[0]!.plan);
  const sts = objects.find((o) => o.kind === "StatefulSet")!;

  it("rejects a container port given as text", async () => {
    const broken = structuredClone(sts);
    broken.spec.template.spec.containers[0].ports[0].containerPort = "amqp";
    assert.match((await schemaErrors(broken)) ?? "", /containerPort must be integer/);
  });

  it("rejects a pod template without containers and a Service port out of range", async () => {
    const broken = structuredClone(sts);
    delete broken.spec.template.spec.containers;
    assert.match((await schemaErrors(broken)) ?? "", /containers/);
    const svc = structuredClone(objects.find((o) => o.kind === "Service")!);
    svc.spec.ports[0].port = "five";
    assert.notEqual(await schemaErrors(svc), undefined);
  });
});
