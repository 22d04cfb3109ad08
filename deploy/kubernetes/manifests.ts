/**
 * Drover's own Kubernetes objects, built from the code they run: one Deployment and one
 * KEDA ScaledObject per function of functions/registry.ts (each trigger names the stream
 * and durable consumer bus/runtime.ts provisions), the request/reply services, the GUI,
 * the migration Job and the settings. generate.ts writes them as YAML beside this file;
 * the YAML is what a site applies, and kubernetes.test.ts checks it is current.
 *
 * Typed with kubernetes-models, so a misspelt field fails `npm run typecheck`: the
 * models' runtime validation checks types and required fields but lets unknown fields
 * through, and Kubernetes would drop them without a word.
 */
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import {
  ConfigMap,
  type IContainer,
  type IEnvVar,
  type IPodSpec,
  type IProbe,
  Namespace,
  Service,
} from "kubernetes-models/v1";
import { consumerSpec } from "../../bus/runtime.ts";
import { METRICS_PATH } from "../../core/metrics.ts";
import { CHECK_TIMEOUT_MS, HEALTH_PATHS } from "../../functions/health.ts";
import { STOP_BUDGET_MS } from "../../functions/main.ts";
import { createFunctions, services } from "../../functions/registry.ts";
import { GUI_ROLE } from "../../store/read/connect.ts";

export const NAMESPACE = "drover";
/** Overridden per site by kustomize's `images:` (kustomization.yaml). */
export const IMAGE = "drover";
/** Where the Dockerfile puts the repository. */
export const WORKDIR = "/opt/drover";
export const HEALTH_PORT = 8081;
/**
 * Prometheus' /metrics: on the health port in function processes (one server), on a
 * server of its own in the GUI (whose HTTP port is the app's).
 */
export const METRICS_PORT = HEALTH_PORT;

/** The annotations Prometheus' usual pod discovery reads (kubernetes_sd_configs, role pod). */
export const SCRAPE_ANNOTATIONS = {
  "prometheus.io/scrape": "true",
  "prometheus.io/port": String(METRICS_PORT),
  "prometheus.io/path": METRICS_PATH,
};
export const GUI_PORT = 4280;

/** The settings every Drover process reads, without credentials (those are Secrets). */
export const CONFIG_MAP = "drover-config";
/** Created by the site: key `url`, the NATS URL (it may carry a user and password). */
export const NATS_SECRET = { name: "drover-nats", key: "url" };
/** The CloudNativePG Cluster (postgres/cluster.yaml) and what its operator creates. */
export const DB_CLUSTER = "drover-db";
export const DB_SECRET = { name: `${DB_CLUSTER}-app`, key: "uri" };
/** Basic-auth Secret of the GUI's read-only role, created by the site (postgres/cluster.yaml). */
export const GUI_DB_SECRET = { name: "drover-db-gui", key: "password" };
/** The NATS chart's release (nats/values.yaml): its Services are named after it. */
export const NATS_RELEASE = "drover-nats";
export const NATS_MONITOR_PORT = 8222;
/** Labelled objects are applied first on an upgrade: the migration runs before the rollout. */
export const BEFORE_ROLLOUT = { "drover.io/before-rollout": "true" };

/**
 * How each function is sized and scaled. Every function is safe as N replicas (DESIGN.md
 * §4: guarded transitions, deterministic message ids, one durable consumer shared by all
 * replicas); this says which gain from more. KEDA's nats-jetstream trigger counts the
 * consumer's lag (pending + unacked) and asks for ceil(lag / lagThreshold) replicas.
 */
export interface Sizing {
  minReplicas: number;
  maxReplicas: number;
  /** messages waiting per replica before another is added */
  lagThreshold: number;
  cpu: string;
  memoryMi: number;
  why: string;
}

const small = { cpu: "100m", memoryMi: 256 };
const worker = { cpu: "250m", memoryMi: 384 };

export const FUNCTION_SIZING: Record<string, Sizing> = {
  "bind-dag": {
    minReplicas: 1,
    maxReplicas: 4,
    lagThreshold: 1,
    cpu: "500m",
    memoryMi: 1024,
    why:
      "One submission per message, bound in one transaction that streams the DAG from the " +
      "object store: a replica binds one workflow at a time, so replicas bind submissions " +
      "side by side (until Postgres' write rate is the limit). Kept at 1 so a submitter " +
      "does not wait for a pod to start.",
  },
  schedule: {
    minReplicas: 1,
    maxReplicas: 4,
    lagThreshold: 20,
    ...worker,
    why:
      "Has a sweep timer, so never 0. Rounds of one workflow are serialised by its row " +
      "lock; replicas schedule different workflows side by side, and each sweeps.",
  },
  launch: {
    minReplicas: 1,
    maxReplicas: 4,
    lagThreshold: 20,
    ...worker,
    why: "Batches of queued tasks into launch batches; gains with many active workflows.",
  },
  heartbeat: {
    minReplicas: 1,
    maxReplicas: 8,
    lagThreshold: 50,
    ...worker,
    why:
      "The busiest subjects (launched, running and heartbeats of every live instance): " +
      "gains most from replicas when thousands of tasks run at once.",
  },
  complete: {
    minReplicas: 1,
    maxReplicas: 6,
    lagThreshold: 20,
    ...worker,
    why: "One message per finished batch of instances; gains when many tasks end at once.",
  },
  retry: {
    minReplicas: 1,
    maxReplicas: 4,
    lagThreshold: 20,
    ...worker,
    why: "Failed instances: busy only when many fail together (a bad node, a wrong input).",
  },
  reap: {
    minReplicas: 1,
    maxReplicas: 2,
    lagThreshold: 50,
    ...small,
    why:
      "Has a sweep timer, so never 0. The sweep takes an advisory lock, so one replica " +
      "sweeps at a time: a second only stands in; bridge heartbeats are few.",
  },
  "register-queues": {
    minReplicas: 1,
    maxReplicas: 2,
    lagThreshold: 10,
    ...small,
    why:
      "A message when a bridge starts. Could sleep at 0 (no timer) at the cost of a pod " +
      "start before a new bridge's queues are known; one small pod is cheaper than that.",
  },
};

/** The request/reply services: core NATS queue groups, no consumer lag; scaled on CPU. */
export const SERVICE_SIZING: Record<string, Sizing & { cpuUtilization: number }> = {
  query: {
    minReplicas: 2,
    maxReplicas: 6,
    lagThreshold: 0,
    cpuUtilization: 70,
    cpu: "250m",
    memoryMi: 512,
    why: "Read models for the CLI: large task lists cost CPU; two for availability.",
  },
  command: {
    minReplicas: 2,
    maxReplicas: 4,
    lagThreshold: 0,
    cpuUtilization: 70,
    ...worker,
    why: "Stop, resume, concurrency, set status: rare and short; two for availability.",
  },
};

/** SIGTERM to SIGKILL: the process's longest stop plus a margin for its exit. */
export const FUNCTION_GRACE_SECONDS = Math.ceil(STOP_BUDGET_MS / 1000) + 3;
/** The GUI closes at once; the preStop pause lets endpoints drop it first. */
export const GUI_PRESTOP_SECONDS = 5;
export const GUI_GRACE_SECONDS = GUI_PRESTOP_SECONDS + 15;

const partOf = { "app.kubernetes.io/part-of": "drover" };

function meta(name: string, labels: Record<string, string>, extra: IObjectMeta = {}): IObjectMeta {
  return { name, namespace: NAMESPACE, ...extra, labels: { ...partOf, ...labels } };
}

/** Credentials come from Secrets only; everything else from the ConfigMap. */
function settingsEnv(database: "app" | "gui"): { envFrom: IContainer["envFrom"]; env: IEnvVar[] } {
  const nats: IEnvVar = {
    name: "DROVER_NATS_URL",
    valueFrom: { secretKeyRef: NATS_SECRET },
  };
  const db: IEnvVar[] =
    database === "app"
      ? [{ name: "DROVER_DATABASE_URL", valueFrom: { secretKeyRef: DB_SECRET } }]
      : [
          // The GUI reads through the SELECT-only role, from the standbys (-ro): its large
          // reads never compete with the functions' writes on the primary. The password
          // must be URL-safe (hex), since it is placed in the URL as it is.
          { name: "GUI_DB_PASSWORD", valueFrom: { secretKeyRef: GUI_DB_SECRET } },
          {
            name: "DROVER_DATABASE_URL",
            value: `postgresql://${GUI_ROLE}:$(GUI_DB_PASSWORD)@${DB_CLUSTER}-ro:5432/drover`,
          },
        ];
  return { envFrom: [{ configMapRef: { name: CONFIG_MAP } }], env: [nats, ...db] };
}

/** Node's heap is sized from the host's memory, not the container's: cap it below the limit. */
function nodeOptions(memoryMi: number): IEnvVar {
  return { name: "NODE_OPTIONS", value: `--max-old-space-size=${Math.floor(memoryMi * 0.75)}` };
}

/**
 * Memory request = limit (a Node process that outgrows it should be killed and seen, not
 * swap its neighbours out); a CPU request but no CPU limit, since throttling a handler
 * mid-transaction only holds its locks longer.
 */
function resources(s: Pick<Sizing, "cpu" | "memoryMi">): IContainer["resources"] {
  return {
    requests: { cpu: s.cpu, memory: `${s.memoryMi}Mi` },
    limits: { memory: `${s.memoryMi}Mi` },
  };
}

const containerSecurity: IContainer["securityContext"] = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/** Non-root (the image's user), no API token: Drover never talks to Kubernetes. */
function podSpec(containers: IContainer[], grace: number, spreadLabels: Record<string, string>) {
  const spec: IPodSpec = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: grace,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    },
    // Replicas on different nodes, so one node's loss leaves the rest working.
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: spreadLabels },
      },
    ],
    // The root filesystem is read-only; /tmp stays writable for what expects one.
    volumes: [{ name: "tmp", emptyDir: {} }],
    containers,
  };
  return spec;
}

const tmpMount = [{ name: "tmp", mountPath: "/tmp" }];

function healthProbe(path: string, periodSeconds: number, failureThreshold: number): IProbe {
  return {
    httpGet: { path, port: "health" },
    periodSeconds,
    // Longer than one check's own timeout, so a slow check fails as itself.
    timeoutSeconds: Math.ceil(CHECK_TIMEOUT_MS / 1000) + 1,
    failureThreshold,
  };
}

/** A function or service process: `dist/functions/main.js <name>`, as the systemd unit runs it. */
function functionDeployment(name: string, component: string, sizing: Sizing): Deployment {
  const labels = { "app.kubernetes.io/component": component, "drover.io/function": name };
  return new Deployment({
    metadata: meta(`drover-${name}`, labels),
    spec: {
      // No `replicas`: KEDA owns the count, and an apply must not reset it.
      revisionHistoryLimit: 5,
      // A new replica must have bound its consumer before an old one drains.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: { ...partOf, "drover.io/function": name } },
      template: {
        metadata: { labels: { ...partOf, ...labels }, annotations: SCRAPE_ANNOTATIONS },
        spec: podSpec(
          [
            {
              name: "function",
              image: IMAGE,
              workingDir: WORKDIR,
              command: ["node", "dist/functions/main.js", name],
              envFrom: settingsEnv("app").envFrom,
              env: [...settingsEnv("app").env, nodeOptions(sizing.memoryMi)],
              ports: [{ name: "health", containerPort: HEALTH_PORT }],
              // Start-up migrates (a no-op after the Job) and binds the consumer; five
              // minutes covers waiting for NATS or Postgres to come up with the release.
              startupProbe: healthProbe(HEALTH_PATHS.ready, 5, 60),
              readinessProbe: healthProbe(HEALTH_PATHS.ready, 10, 3),
              // Only a closed connection or a vanished consumer fails it (health.ts).
              livenessProbe: healthProbe(HEALTH_PATHS.live, 20, 3),
              resources: resources(sizing),
              securityContext: containerSecurity,
              volumeMounts: tmpMount,
            },
          ],
          FUNCTION_GRACE_SECONDS,
          { ...partOf, "drover.io/function": name },
        ),
      },
    },
  });
}

function scaling(
  name: string,
  sizing: Sizing,
  trigger: NonNullable<ScaledObject["spec"]["triggers"]>[number],
): ScaledObject {
  return new ScaledObject({
    metadata: meta(`drover-${name}`, { "drover.io/function": name }),
    spec: {
      scaleTargetRef: { name: `drover-${name}` },
      pollingInterval: 10,
      cooldownPeriod: 300,
      minReplicaCount: sizing.minReplicas,
      maxReplicaCount: sizing.maxReplicas,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            // Up at once, down slowly: a workflow's tasks end in waves, and each removed
            // replica drains its messages first.
            scaleDown: {
              stabilizationWindowSeconds: 300,
              policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
            },
          },
        },
      },
      triggers: [trigger],
    },
  });
}

/** The headless Service's per-pod names let KEDA ask the consumer's leader directly. */
export const NATS_MONITORING_ENDPOINT = `${NATS_RELEASE}-headless.${NAMESPACE}.svc.cluster.local:${NATS_MONITOR_PORT}`;

export function functionObjects(): { deployments: Deployment[]; scaledObjects: ScaledObject[] } {
  const functions = createFunctions();
  const deployments: Deployment[] = [];
  const scaledObjects: ScaledObject[] = [];
  for (const [name, def] of Object.entries(functions)) {
    const sizing = FUNCTION_SIZING[name];
    if (!sizing) throw new Error(`function ${name} has no sizing in FUNCTION_SIZING`);
    const { stream, durable } = consumerSpec(def);
    deployments.push(functionDeployment(name, "function", sizing));
    scaledObjects.push(
      scaling(name, sizing, {
        type: "nats-jetstream",
        metadata: {
          natsServerMonitoringEndpoint: NATS_MONITORING_ENDPOINT,
          // The global account: the chart's NATS without accounts configured.
          account: "$G",
          stream,
          consumer: durable,
          lagThreshold: String(sizing.lagThreshold),
        },
      }),
    );
  }
  for (const name of Object.keys(services)) {
    const sizing = SERVICE_SIZING[name];
    if (!sizing) throw new Error(`service ${name} has no sizing in SERVICE_SIZING`);
    deployments.push(functionDeployment(name, "service", sizing));
    scaledObjects.push(
      scaling(name, sizing, {
        type: "cpu",
        metricType: "Utilization",
        metadata: { value: String(sizing.cpuUtilization) },
      }),
    );
  }
  return { deployments, scaledObjects };
}

function disruptionBudget(name: string, selector: Record<string, string>): PodDisruptionBudget {
  return new PodDisruptionBudget({
    metadata: meta(`drover-${name}`, {}),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  });
}

export function serviceBudgets(): PodDisruptionBudget[] {
  return Object.keys(services).map((name) =>
    disruptionBudget(name, { ...partOf, "drover.io/function": name }),
  );
}

export const GUI_HOST = "drover.example.org";

export function guiObjects(): (Deployment | Service | Ingress | PodDisruptionBudget)[] {
  const labels = { ...partOf, "app.kubernetes.io/component": "gui" };
  const env = settingsEnv("gui");
  const memoryMi = 384;
  const probe = (periodSeconds: number, failureThreshold: number): IProbe => ({
    httpGet: { path: "/api/health", port: "http" },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  });
  return [
    new Deployment({
      metadata: meta("drover-gui", labels),
      spec: {
        replicas: 2,
        revisionHistoryLimit: 5,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: SCRAPE_ANNOTATIONS },
          spec: podSpec(
            [
              {
                name: "gui",
                image: IMAGE,
                workingDir: WORKDIR,
                command: ["node", "dist/gui/main.js"],
                envFrom: env.envFrom,
                env: [
                  ...env.env,
                  // Every address of the pod: the Service and the Ingress reach it there.
                  { name: "DROVER_GUI_HOST", value: "0.0.0.0" },
                  // The name the Ingress serves it under (the Host header is checked).
                  { name: "DROVER_GUI_HOSTS", value: GUI_HOST },
                  nodeOptions(memoryMi),
                ],
                ports: [
                  { name: "http", containerPort: GUI_PORT },
                  { name: "metrics", containerPort: METRICS_PORT },
                ],
                readinessProbe: probe(10, 3),
                livenessProbe: probe(20, 3),
                // Endpoints drop the pod before it stops answering; its SSE clients
                // reconnect to the other replica.
                lifecycle: {
                  preStop: { exec: { command: ["sleep", String(GUI_PRESTOP_SECONDS)] } },
                },
                resources: resources({ cpu: "100m", memoryMi }),
                securityContext: containerSecurity,
                volumeMounts: tmpMount,
              },
            ],
            GUI_GRACE_SECONDS,
            labels,
          ),
        },
      },
    }),
    new Service({
      metadata: meta("drover-gui", { "app.kubernetes.io/component": "gui" }),
      spec: {
        type: "ClusterIP",
        selector: labels,
        ports: [{ name: "http", port: 80, targetPort: "http" }],
      },
    }),
    new Ingress({
      metadata: meta(
        "drover-gui",
        { "app.kubernetes.io/component": "gui" },
        {
          annotations: {
            // Live updates are Server-Sent Events: no buffering, long reads.
            "nginx.ingress.kubernetes.io/proxy-buffering": "off",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
          },
        },
      ),
      spec: {
        tls: [{ hosts: [GUI_HOST], secretName: "drover-gui-tls" }],
        rules: [
          {
            host: GUI_HOST,
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: "drover-gui", port: { name: "http" } } },
                },
              ],
            },
          },
        ],
      },
    }),
    disruptionBudget("gui", labels),
  ];
}

/** `drover migrate`, once per upgrade, before the rollout (deploy/README.md). */
export function migrationJob(): Job {
  const labels = { "app.kubernetes.io/component": "migrate", ...BEFORE_ROLLOUT };
  const env = settingsEnv("app");
  return new Job({
    metadata: meta("drover-migrate", labels),
    spec: {
      // Migrations are forward-only, each in its own transaction, and `drover migrate`
      // is idempotent: a retry after a failure picks up where it stopped.
      backoffLimit: 3,
      activeDeadlineSeconds: 3600,
      template: {
        metadata: { labels: { ...partOf, "app.kubernetes.io/component": "migrate" } },
        spec: {
          ...podSpec(
            [
              {
                name: "migrate",
                image: IMAGE,
                workingDir: WORKDIR,
                command: ["node", "bin/drover.mjs", "migrate"],
                envFrom: env.envFrom,
                // Only the database: the NATS URL is not needed here.
                env: env.env.filter((e) => e.name !== "DROVER_NATS_URL"),
                resources: resources({ cpu: "100m", memoryMi: 256 }),
                securityContext: containerSecurity,
                volumeMounts: tmpMount,
              },
            ],
            30,
            { ...partOf, "app.kubernetes.io/component": "migrate" },
          ),
          restartPolicy: "Never",
        },
      },
    },
  });
}

/**
 * Settings shared by every process (README, Configuration). The timings must be the same
 * on the login nodes' bridges: the reaper counts missed heartbeats at this period.
 */
export function settings(): (Namespace | ConfigMap)[] {
  return [
    new Namespace({ metadata: { name: NAMESPACE, labels: { ...partOf, ...BEFORE_ROLLOUT } } }),
    new ConfigMap({
      metadata: meta(CONFIG_MAP, BEFORE_ROLLOUT),
      data: {
        DROVER_LOG_LEVEL: "info",
        // Nothing is written there by functions or the GUI; the stack file is not used.
        DROVER_HOME: "/tmp/drover",
        DROVER_HEALTH_PORT: String(HEALTH_PORT),
        DROVER_METRICS_PORT: String(METRICS_PORT),
        DROVER_GUI_PORT: String(GUI_PORT),
        DROVER_HEARTBEAT_SECONDS: "30",
        DROVER_MISSED_HEARTBEATS: "3",
        DROVER_SWEEP_SECONDS: "5",
        // Every stream on all three NATS servers (nats/values.yaml): a server's loss or
        // restart stops no function.
        DROVER_STREAM_REPLICAS: "3",
      },
    }),
  ];
}

type Model = { toJSON(): unknown; validate(): void };

/** The generated files, each a list of objects (one YAML document each) with a comment. */
export function manifestFiles(): { file: string; header: string; objects: Model[] }[] {
  const { deployments, scaledObjects } = functionObjects();
  return [
    {
      file: "settings.yaml",
      header: "The namespace and the settings every Drover process reads (no credentials).",
      objects: settings(),
    },
    {
      file: "migrate-job.yaml",
      header: "Schema migrations: run once per upgrade, before the Deployments roll.",
      objects: [migrationJob()],
    },
    {
      file: "functions.yaml",
      header:
        "One Deployment per function (functions/registry.ts) and per request/reply service;\n" +
        "KEDA sets their replica counts (scaling.yaml).",
      objects: [...deployments, ...serviceBudgets()],
    },
    {
      file: "scaling.yaml",
      header:
        "KEDA ScaledObjects: functions on their JetStream consumer's lag, services on CPU.\n" +
        Object.entries({ ...FUNCTION_SIZING, ...SERVICE_SIZING })
          .map(([name, s]) => `${name}: ${s.why}`)
          .join("\n"),
      objects: scaledObjects,
    },
    {
      file: "gui.yaml",
      header:
        "The web GUI behind an Ingress. Its actions (stop, resume, ...) are not\n" +
        "authenticated by the GUI itself: put the Ingress behind the site's single sign-on.",
      objects: guiObjects(),
    },
  ];
}
