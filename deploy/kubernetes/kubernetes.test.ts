// The Kubernetes manifests against the code they run, offline: every object validates
// (kubernetes-models, @kubernetes-models/keda); each function of the registry has one
// Deployment and one ScaledObject on the stream and consumer the runtime provisions; the
// probes, ports, grace periods and settings agree with the processes; the NATS chart
// values and the CloudNativePG Cluster agree with what the manifests expect. Then each
// container's command runs here, with its manifest's settings pointed at a real NATS and
// Postgres: it must serve its probes and stop within its grace period.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { jetstreamManager } from "@nats-io/jetstream";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, type IContainer, Namespace, Service } from "kubernetes-models/v1";
import { parse, parseAllDocuments } from "yaml";
import { z } from "zod";
import { connectBus } from "../../bus/connect.ts";
import { consumerSpec } from "../../bus/runtime.ts";
import { ENV_KEYS, loadConfig } from "../../core/config.ts";
import { METRICS_PATH } from "../../core/metrics.ts";
import { CHECK_TIMEOUT_MS, HEALTH_PATHS } from "../../functions/health.ts";
import { STOP_BUDGET_MS } from "../../functions/main.ts";
import { createFunctions, services } from "../../functions/registry.ts";
import { GUI_ROLE } from "../../store/read/connect.ts";
import { fromSources } from "../../test/helpers/built.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { freePort, startNats, type TestNats } from "../../test/helpers/nats.ts";
import { HERE, renderManifests } from "./generate.ts";
import { WORKDIR } from "./manifests.ts";

const ROOT = join(HERE, "..", "..");

/** The API objects Drover's manifests may hold, by apiVersion and kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/Ingress": Ingress,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: checked by the models' validation first
  spec?: any;
  data?: Record<string, string>;
}

const read = (file: string) => readFileSync(join(HERE, file), "utf8");
const kustomization = parse(read("kustomization.yaml")) as {
  resources: string[];
  images: { name: string; newName: string; newTag: string }[];
};
const objects: Obj[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(file)).map((d) => d.toJS() as Obj),
);
const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
const deployments = ofKind("Deployment");
const scaledObjects = ofKind("ScaledObject");
const configMap = ofKind("ConfigMap")[0]!;
const functions = createFunctions();
const serviceNames = Object.keys(services);

const containerOf = (o: Obj): IContainer => o.spec.template.spec.containers[0];
/** The Deployment whose command runs `dist/functions/main.js <name>`, asserted to be unique. */
function deploymentFor(name: string): Obj {
  const found = deployments.filter((d) => {
    const cmd = containerOf(d).command ?? [];
    return cmd.includes("dist/functions/main.js") && cmd.at(-1) === name;
  });
  assert.equal(found.length, 1, `Deployments running ${name}: ${found.length}`);
  return found[0]!;
}

test("the written manifests are what the code gives (else: npm run k8s:manifests)", () => {
  const rendered = renderManifests();
  for (const [file, text] of rendered) assert.equal(read(file), text, `${file} is out of date`);
  assert.deepEqual([...rendered.keys()].sort(), [...kustomization.resources].sort());
});

test("every object validates against its API schema", () => {
  assert.ok(objects.length > 20);
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `unexpected object ${o.apiVersion} ${o.kind} ${o.metadata?.name}`);
    new Model(o as never).validate();
  }
  const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
  assert.equal(new Set(names).size, names.length, "a name is used twice");
});

test("each function has one Deployment and one ScaledObject on the consumer it pulls from", () => {
  for (const [name, def] of Object.entries(functions)) {
    const deployment = deploymentFor(name);
    const container = containerOf(deployment);
    assert.deepEqual(container.command, ["node", "dist/functions/main.js", name]);
    assert.equal(deployment.spec.replicas, undefined, `${name}: replicas are KEDA's`);
    const scalers = scaledObjects.filter(
      (s) => s.spec.scaleTargetRef.name === deployment.metadata.name,
    );
    assert.equal(scalers.length, 1, `${name}: ScaledObjects`);
    const triggers = scalers[0]!.spec.triggers;
    assert.equal(triggers.length, 1);
    const { type, metadata } = triggers[0];
    const spec = consumerSpec(def);
    assert.equal(type, "nats-jetstream");
    assert.equal(metadata.stream, spec.stream, `${name}: stream`);
    assert.equal(metadata.consumer, spec.durable, `${name}: consumer`);
    assert.match(metadata.lagThreshold, /^[1-9]\d*$/);
    assert.equal(metadata.account, "$G");
    // A timer runs only in a running replica: such functions never scale to zero.
    if ((def.timers ?? []).length > 0) {
      assert.ok(scalers[0]!.spec.minReplicaCount >= 1, `${name} has timers: min ≥ 1`);
    }
  }
  for (const name of serviceNames) {
    const deployment = deploymentFor(name);
    const scalers = scaledObjects.filter(
      (s) => s.spec.scaleTargetRef.name === deployment.metadata.name,
    );
    assert.equal(scalers.length, 1, `${name}: ScaledObjects`);
    assert.equal(scalers[0]!.spec.triggers[0].type, "cpu");
    assert.ok(
      containerOf(deployment).resources?.requests?.cpu,
      `${name}: CPU scaling needs a request`,
    );
  }
  const fnDeployments = deployments.filter((d) =>
    (containerOf(d).command ?? []).includes("dist/functions/main.js"),
  );
  assert.equal(fnDeployments.length, Object.keys(functions).length + serviceNames.length);
  assert.equal(scaledObjects.length, fnDeployments.length);
});

test("probes point at the port and paths the process serves; grace covers its stop", () => {
  const healthPort = Number(configMap.data?.DROVER_HEALTH_PORT);
  assert.ok(healthPort > 0, "the ConfigMap turns the health endpoint on");
  for (const name of [...Object.keys(functions), ...serviceNames]) {
    const deployment = deploymentFor(name);
    const c = containerOf(deployment);
    const port = c.ports?.find((p) => p.name === "health");
    assert.equal(port?.containerPort, healthPort, `${name}: health port`);
    const probes = { startup: c.startupProbe, ready: c.readinessProbe, live: c.livenessProbe };
    assert.equal(probes.startup?.httpGet?.path, HEALTH_PATHS.ready, name);
    assert.equal(probes.ready?.httpGet?.path, HEALTH_PATHS.ready, name);
    assert.equal(probes.live?.httpGet?.path, HEALTH_PATHS.live, name);
    for (const probe of Object.values(probes)) {
      assert.equal(probe?.httpGet?.port, "health", name);
      assert.ok((probe?.timeoutSeconds ?? 1) * 1000 > CHECK_TIMEOUT_MS, `${name}: probe timeout`);
    }
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
    assert.ok(grace * 1000 >= STOP_BUDGET_MS, `${name}: grace ${grace}s < stop budget`);
    assert.equal(c.workingDir, WORKDIR);
  }
});

test("every pod is scraped at the port and path its process serves metrics on", () => {
  const metricsPort = Number(configMap.data?.DROVER_METRICS_PORT);
  assert.ok(metricsPort > 0, "the ConfigMap turns metrics on");
  const pods = [
    ...[...Object.keys(functions), ...serviceNames].map(deploymentFor),
    deployments.find((d) => d.metadata.name === "drover-gui")!,
  ];
  for (const deployment of pods) {
    const name = deployment.metadata.name;
    const a = deployment.spec.template.metadata.annotations ?? {};
    assert.equal(a["prometheus.io/scrape"], "true", name);
    assert.equal(a["prometheus.io/path"], METRICS_PATH, name);
    assert.equal(Number(a["prometheus.io/port"]), metricsPort, name);
    const ports = (containerOf(deployment).ports ?? []).map((p) => p.containerPort);
    assert.ok(ports.includes(metricsPort), `${name}: the metrics port is declared`);
  }
  // Functions serve metrics on their health server: one port for both.
  assert.equal(metricsPort, Number(configMap.data?.DROVER_HEALTH_PORT));
});

test("settings come from the ConfigMap, credentials only from Secrets", () => {
  const known = new Set(Object.values(ENV_KEYS));
  for (const key of Object.keys(configMap.data ?? {})) {
    assert.ok(known.has(key), `ConfigMap: ${key} is not a Drover setting`);
  }
  for (const secret of ["DROVER_NATS_URL", "DROVER_DATABASE_URL"]) {
    assert.ok(!(secret in (configMap.data ?? {})), `${secret} is in the ConfigMap`);
  }
  assert.doesNotThrow(() =>
    loadConfig(
      {},
      {
        ...configMap.data,
        DROVER_NATS_URL: "nats://x:4222",
        DROVER_DATABASE_URL: "postgres://x/y",
      },
    ),
  );
  for (const o of [...deployments, ...ofKind("Job")]) {
    const c = containerOf(o);
    assert.deepEqual(c.envFrom, [{ configMapRef: { name: configMap.metadata.name } }]);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
    for (const name of ["DROVER_NATS_URL", "DROVER_DATABASE_URL"]) {
      const e = env[name];
      if (!e) continue;
      // A literal value may only assemble a URL from Secret-held variables.
      if (e.value !== undefined) {
        for (const [, ref] of e.value.matchAll(/\$\((\w+)\)/g)) {
          assert.ok(env[ref!]?.valueFrom?.secretKeyRef, `${o.metadata.name}: ${ref}`);
        }
        assert.doesNotMatch(e.value.replace(/\$\(\w+\)/g, ""), /:[^/@:]+@/, "a password");
      } else {
        assert.ok(e.valueFrom?.secretKeyRef, `${o.metadata.name}: ${name} from a Secret`);
      }
    }
    assert.ok(env.DROVER_DATABASE_URL, `${o.metadata.name} has a database`);
  }
});

test("the image: one for every container, as kustomize sets it and the Dockerfile builds it", () => {
  const dockerfile = read("Dockerfile");
  const images = new Set(
    [...deployments, ...ofKind("Job")].flatMap((o) =>
      o.spec.template.spec.containers.map((c: IContainer) => c.image),
    ),
  );
  assert.deepEqual([...images], [kustomization.images[0]?.name]);
  assert.match(dockerfile, new RegExp(`^WORKDIR ${WORKDIR}$`, "m"));
  const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
  for (const o of [...deployments, ...ofKind("Job")]) {
    const pod = o.spec.template.spec;
    assert.equal(String(pod.securityContext.runAsUser), user?.[1], o.metadata.name);
  }
});

// The chart's values (1.x layout), for the keys set here: strict, so a key in the wrong
// place (the old 0.x layout, a typo) fails instead of being ignored by the chart.
const NatsValues = z.strictObject({
  config: z.strictObject({
    cluster: z.strictObject({ enabled: z.literal(true), replicas: z.number().int().min(3) }),
    jetstream: z.strictObject({
      enabled: z.literal(true),
      fileStore: z.strictObject({
        enabled: z.literal(true),
        dir: z.string(),
        pvc: z.strictObject({ enabled: z.literal(true), size: z.string().regex(/^\d+[GT]i$/) }),
      }),
      memoryStore: z.strictObject({ enabled: z.boolean() }),
    }),
    monitor: z.strictObject({ enabled: z.literal(true), port: z.number().int() }),
  }),
  container: z.strictObject({
    env: z.record(z.string(), z.string()),
    resources: z.strictObject({
      requests: z.strictObject({ cpu: z.string(), memory: z.string() }),
      limits: z.strictObject({ memory: z.string() }),
    }),
  }),
  podTemplate: z.strictObject({
    topologySpreadConstraints: z.record(
      z.string(),
      z.strictObject({ maxSkew: z.number(), whenUnsatisfiable: z.string() }),
    ),
  }),
  podDisruptionBudget: z.strictObject({ enabled: z.boolean() }),
  natsBox: z.strictObject({ enabled: z.boolean() }),
});

test("the NATS chart values: a JetStream cluster whose monitoring port KEDA reads", () => {
  const text = read("nats/values.yaml");
  const values = NatsValues.parse(parse(text));
  const release = /helm install (\S+) nats\/nats --namespace (\S+)/.exec(text);
  assert.ok(release, "the values say how the chart is installed");
  for (const s of scaledObjects.filter((o) => o.spec.triggers[0].type === "nats-jetstream")) {
    assert.equal(
      s.spec.triggers[0].metadata.natsServerMonitoringEndpoint,
      `${release[1]}-headless.${release[2]}.svc.cluster.local:${values.config.monitor.port}`,
    );
  }
  assert.equal(release[2], ofKind("Namespace")[0]?.metadata.name);
  // Each stream on more than one server, and never on more servers than there are.
  const replicas = Number(configMap.data?.DROVER_STREAM_REPLICAS);
  assert.ok(
    replicas > 1 && replicas <= values.config.cluster.replicas,
    `stream replicas ${replicas}`,
  );
});

// CloudNativePG's Cluster (postgresql.cnpg.io/v1), for the fields used here, strictly.
const Quantity = z.string().regex(/^\d+(\.\d+)?(m|Mi|Gi|Ti)?$/);
const CnpgCluster = z.strictObject({
  apiVersion: z.literal("postgresql.cnpg.io/v1"),
  kind: z.literal("Cluster"),
  metadata: z.strictObject({ name: z.string(), namespace: z.string() }),
  spec: z.strictObject({
    description: z.string(),
    imageName: z.string().regex(/^[\w./-]+:[\w.-]+$/),
    instances: z.number().int().min(1),
    primaryUpdateStrategy: z.enum(["unsupervised", "supervised"]),
    primaryUpdateMethod: z.enum(["switchover", "restart"]),
    bootstrap: z.strictObject({
      initdb: z.strictObject({ database: z.string(), owner: z.string() }),
    }),
    managed: z.strictObject({
      roles: z.array(
        z.strictObject({
          name: z.string(),
          ensure: z.enum(["present", "absent"]),
          login: z.boolean(),
          inherit: z.boolean(),
          connectionLimit: z.number().int(),
          passwordSecret: z.strictObject({ name: z.string() }),
        }),
      ),
    }),
    postgresql: z.strictObject({ parameters: z.record(z.string(), z.string()) }),
    storage: z.strictObject({ size: Quantity }),
    walStorage: z.strictObject({ size: Quantity }),
    resources: z.strictObject({
      requests: z.strictObject({ cpu: Quantity, memory: Quantity }),
      limits: z.strictObject({ memory: Quantity }),
    }),
    affinity: z.strictObject({
      enablePodAntiAffinity: z.boolean(),
      podAntiAffinityType: z.enum(["preferred", "required"]),
      topologyKey: z.string(),
    }),
  }),
});

test("the CloudNativePG Cluster: the Secret, roles and connections the manifests rely on", () => {
  const cluster = CnpgCluster.parse(parse(read("postgres/cluster.yaml")));
  const name = cluster.metadata.name;
  assert.ok(cluster.spec.instances >= 3, "a primary and two standbys");
  const dbEnv = (o: Obj) => containerOf(o).env?.find((e) => e.name === "DROVER_DATABASE_URL");
  for (const o of [...deployments, ...ofKind("Job")]) {
    const e = dbEnv(o)!;
    if (e.valueFrom) {
      assert.deepEqual(e.valueFrom.secretKeyRef, { name: `${name}-app`, key: "uri" });
    } else {
      // The GUI: the SELECT-only role the Cluster manages, on the standbys' Service.
      const url = new URL(e.value!.replace(/\$\(\w+\)/, "password"));
      assert.equal(url.username, GUI_ROLE);
      assert.equal(url.hostname, `${name}-ro`);
      assert.equal(url.pathname, `/${cluster.spec.bootstrap.initdb.database}`);
      const role = cluster.spec.managed.roles.find((r) => r.name === GUI_ROLE);
      assert.ok(role?.login, "the GUI's role can log in");
      const password = containerOf(o).env?.find((v) => e.value!.includes(`$(${v.name})`));
      assert.equal(password?.valueFrom?.secretKeyRef?.name, role.passwordSecret.name);
    }
  }
  // Every process at its largest scale, with its pool: the GUI 8, the others 10.
  const maxProcesses = scaledObjects.reduce((n, s) => n + s.spec.maxReplicaCount, 0);
  const gui = deployments.find((d) => d.metadata.name === "drover-gui")!;
  const needed = maxProcesses * 10 + gui.spec.replicas * 8 + 1;
  const max = Number(cluster.spec.postgresql.parameters.max_connections);
  assert.ok(max >= needed, `max_connections ${max} < ${needed}`);
});

describe("each container's command, run with its manifest's settings", { timeout: 300_000 }, () => {
  let nats: TestNats;
  let db: FreshDatabase;
  before(async () => {
    [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  });
  after(async () => {
    await Promise.all([nats.stop(), db.drop()]);
  });

  /** The container's environment as the kubelet would give it, Secrets from `secrets`. */
  function environment(c: IContainer): Record<string, string> {
    const secrets: Record<string, string> = {
      "drover-nats/url": nats.url,
      "drover-db-app/uri": db.url,
      "drover-db-gui/password": "0123abcd",
    };
    const env: Record<string, string> = { ...configMap.data };
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const value = secrets[`${ref.name}/${ref.key}`];
        assert.ok(value !== undefined, `unknown Secret ${ref.name}/${ref.key}`);
        env[e.name] = value;
      } else {
        env[e.name] = (e.value ?? "").replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? "");
      }
    }
    return env;
  }

  function run(c: IContainer, overrides: Record<string, string>) {
    const [program, ...args] = c.command!;
    assert.equal(program, "node");
    // The image runs the built JavaScript; here the same modules run from the sources
    // (test/package.test.ts runs the built ones).
    const child = spawn(process.execPath, fromSources(args), {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ...environment(c),
        DROVER_LOG_LEVEL: "warn",
        // One server here: stream copies need a cluster (bus/stream-replicas.test.ts).
        DROVER_STREAM_REPLICAS: "1",
        ...overrides,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { child, exited, stderr: () => stderr };
  }

  async function until(what: string, ok: () => Promise<boolean>, alive: () => void) {
    const deadline = Date.now() + 120_000;
    while (!(await ok())) {
      alive();
      assert.ok(Date.now() < deadline, `${what}: not ready in time`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const status = (port: number, path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`).then(
      (r) => r.status,
      () => 0,
    );

  test("the migration Job's command migrates and exits 0", async () => {
    const job = ofKind("Job")[0]!;
    const p = run(containerOf(job), {});
    assert.equal(await p.exited, 0, p.stderr());
  });

  test("every function and service: probes answer 200 once bound; SIGTERM exits 0 in its grace", async () => {
    const names = [...Object.keys(functions), ...serviceNames];
    const nc = await connectBus(nats.url, "k8s-test");
    const jsm = await jetstreamManager(nc);
    const started = await Promise.all(
      names.map(async (name) => {
        const deployment = deploymentFor(name);
        const port = await freePort();
        return {
          name,
          deployment,
          port,
          // One free port for both, as the ConfigMap has one port for both.
          p: run(containerOf(deployment), {
            DROVER_HEALTH_PORT: String(port),
            DROVER_METRICS_PORT: String(port),
          }),
        };
      }),
    );
    try {
      for (const { name, deployment, port, p } of started) {
        const c = containerOf(deployment);
        const alive = () => assert.equal(p.child.exitCode, null, `${name} exited: ${p.stderr()}`);
        await until(
          name,
          async () => (await status(port, c.readinessProbe!.httpGet!.path!)) === 200,
          alive,
        );
        assert.equal(await status(port, c.livenessProbe!.httpGet!.path!), 200, name);
        assert.equal(await status(port, c.startupProbe!.httpGet!.path!), 200, name);
        const scrapePath = deployment.spec.template.metadata.annotations["prometheus.io/path"];
        assert.equal(await status(port, scrapePath), 200, `${name}: metrics`);
        const trigger = scaledObjects.find(
          (s) => s.spec.scaleTargetRef.name === deployment.metadata.name,
        )!.spec.triggers[0];
        if (trigger.type === "nats-jetstream") {
          // The consumer KEDA watches is the one the process pulls from.
          const info = await jsm.consumers.info(trigger.metadata.stream, trigger.metadata.consumer);
          assert.equal(info.config.durable_name, name);
        }
      }
      await Promise.all(
        started.map(async ({ name, deployment, p }) => {
          p.child.kill("SIGTERM");
          const graceMs = deployment.spec.template.spec.terminationGracePeriodSeconds * 1000;
          const code = await Promise.race([
            p.exited,
            new Promise((r) => setTimeout(() => r("SIGKILL"), graceMs)),
          ]);
          assert.equal(code, 0, `${name} after SIGTERM: ${p.stderr()}`);
        }),
      );
    } finally {
      for (const { p } of started) p.child.kill("SIGKILL");
      await nc.close();
    }
  });

  test("the GUI: its probe path answers 200 on its port; SIGTERM exits 0 in its grace", async () => {
    const gui = deployments.find((d) => d.metadata.name === "drover-gui")!;
    const c = containerOf(gui);
    const port = await freePort();
    assert.equal(
      c.ports?.find((x) => x.name === c.readinessProbe?.httpGet?.port)?.containerPort,
      Number(configMap.data?.DROVER_GUI_PORT),
    );
    // Its database URL names the cluster's Service; here, the test database stands in.
    const metricsPort = await freePort();
    const p = run(c, {
      DROVER_GUI_PORT: String(port),
      DROVER_METRICS_PORT: String(metricsPort),
      DROVER_DATABASE_URL: db.url,
    });
    try {
      const alive = () => assert.equal(p.child.exitCode, null, `gui exited: ${p.stderr()}`);
      await until(
        "gui",
        async () => (await status(port, c.readinessProbe!.httpGet!.path!)) === 200,
        alive,
      );
      assert.equal(await status(port, c.livenessProbe!.httpGet!.path!), 200);
      const scrapePath = gui.spec.template.metadata.annotations["prometheus.io/path"];
      assert.equal(await status(metricsPort, scrapePath), 200, "gui: metrics");
      p.child.kill("SIGTERM");
      const graceMs = gui.spec.template.spec.terminationGracePeriodSeconds * 1000;
      const code = await Promise.race([
        p.exited,
        new Promise((r) => setTimeout(() => r("late"), graceMs)),
      ]);
      assert.equal(code, 0, p.stderr());
    } finally {
      p.child.kill("SIGKILL");
    }
  });
});
