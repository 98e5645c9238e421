/**
 * The Kubernetes manifests in ops/k8s, checked statically. No Kubernetes cluster or KEDA ran here: the
 * manifests are validated against the Kubernetes schemas (kubernetes-models, Kubernetes 1.27) and the
 * KEDA schemas (@kubernetes-models/keda) only, plus the checks below: what the processes need (ports,
 * probes, the environment they parse), what a graceful handover needs (preStop, grace period), what the
 * KEDA trigger reads (BullMQ's lists, shown with a real Redis and BullMQ), and that no secret is in them.
 * Those schemas accept fields they do not know, so a misspelt optional field would pass them; the fields
 * that matter are checked by name here.
 *
 * The last block checks the hash tags the README's "Redis Cluster" relies on: the keys each Lua script
 * (and each BullMQ queue) touches map to one cluster slot. No Redis Cluster ran either.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type IScaledObject,
  type ITriggerAuthentication,
  ScaledObject,
  TriggerAuthentication,
} from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { loadApiKeyring } from '@plainloop/api';
import { loadConfig, type PlainloopConfig, parseRedisAddress } from '@plainloop/config';
import { runJob } from '@plainloop/contracts';
import { createKeySchema, createRunQueue, queueNames } from '@plainloop/redis';
import { useTestRedis } from '@plainloop/testing';
import { type Job, QueueKeys, Worker } from 'bullmq';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  type IConfigMap,
  type IContainer,
  type INamespace,
  type ISecret,
  type IService,
  Namespace,
  Secret,
  Service,
} from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const run = promisify(execFile);
const directory = fileURLToPath(new URL('../../../ops/k8s/', import.meta.url));
const exampleSecretFile = 'secret.example.yaml';

type Manifest = { apiVersion?: string; kind?: string; metadata?: { name?: string } };
type Kustomization = {
  namespace?: string;
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
};

/** Every document of a manifest file, each checked by the model of its apiVersion and kind. */
function readManifests(file: string) {
  const documents = parseAllDocuments(readFileSync(join(directory, file), 'utf8'));
  return documents.map((document, index) => {
    if (document.errors.length > 0)
      throw new Error(`${file} document ${index + 1}: ${document.errors[0]?.message}`);
    const object = document.toJS() as Manifest;
    if (!object?.apiVersion || !object.kind) throw new Error(`${file} document ${index + 1} has no kind`);
    return validated(object, `${file} ${object.kind}/${object.metadata?.name}`);
  });
}

/** The model for an object (its `validate()` checks it against the JSON schema), or an error. */
function validated(object: Manifest, where: string) {
  const model = modelOf(object);
  try {
    model.validate();
  } catch (error) {
    throw new Error(`${where} does not fit its schema: ${(error as Error).message}`);
  }
  return model;
}

function modelOf(object: Manifest) {
  switch (`${object.apiVersion}/${object.kind}`) {
    case 'v1/Namespace':
      return new Namespace(object as INamespace);
    case 'v1/ConfigMap':
      return new ConfigMap(object as IConfigMap);
    case 'v1/Secret':
      return new Secret(object as ISecret);
    case 'v1/Service':
      return new Service(object as IService);
    case 'apps/v1/Deployment':
      return new Deployment(object as IDeployment);
    case 'policy/v1/PodDisruptionBudget':
      return new PodDisruptionBudget(object as IPodDisruptionBudget);
    case 'keda.sh/v1alpha1/ScaledObject':
      return new ScaledObject(object as IScaledObject);
    case 'keda.sh/v1alpha1/TriggerAuthentication':
      return new TriggerAuthentication(object as ITriggerAuthentication);
    default:
      throw new Error(`no model for ${object.apiVersion} ${object.kind}: add one to this test`);
  }
}

const kustomization = parse(readFileSync(join(directory, 'kustomization.yaml'), 'utf8')) as Kustomization;
const resources = kustomization.resources ?? [];
/** What `kubectl apply -k ops/k8s` applies. */
const applied = resources.flatMap((file) => readManifests(file));

function only<T>(items: T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0] as T;
}
const deployments = applied.filter((object): object is Deployment => object instanceof Deployment);
const deploymentNamed = (name: string) =>
  only(
    deployments.filter((deployment) => deployment.metadata?.name === name),
    `the Deployment ${name}`,
  );
const configMap = only(
  applied.filter((object): object is ConfigMap => object instanceof ConfigMap),
  'one ConfigMap',
);
const scaledObject = only(
  applied.filter((object): object is ScaledObject => object instanceof ScaledObject),
  'one ScaledObject',
);
const worker = deploymentNamed('plainloop-worker');
const api = deploymentNamed('plainloop-api');
const metrics = deploymentNamed('plainloop-metrics');

function containerOf(deployment: Deployment): IContainer {
  return only(deployment.spec?.template.spec?.containers ?? [], `${deployment.metadata?.name}'s container`);
}

/** The environment a container starts with, as far as the manifests say: the ConfigMap, then literal env. */
function environmentOf(container: IContainer): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    expect(source.configMapRef?.name, 'envFrom names the ConfigMap').toBe(configMap.metadata?.name);
    Object.assign(environment, configMap.data);
  }
  for (const variable of container.env ?? [])
    if (variable.value !== undefined) environment[variable.name] = variable.value;
  return environment;
}

/** The configuration the process will load: the manifests' environment, parsed by plainloop itself. */
function configOf(deployment: Deployment): PlainloopConfig {
  return loadConfig(environmentOf(containerOf(deployment)));
}

/** A probe's or Service's port, by number or by the name of a container port. */
function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** How long a preStop hook of the form `node -e "setTimeout(() => {}, <ms>)"` pauses, in seconds. */
function preStopSeconds(container: IContainer): number {
  const command = container.lifecycle?.preStop?.exec?.command ?? [];
  expect(command.slice(0, 2), 'the pause runs on node: the image has little else').toEqual(['node', '-e']);
  const pause = /^setTimeout\(\(\) => \{\}, (\d+)\)$/.exec(command[2] ?? '');
  expect(pause, `a preStop pause, not ${command.join(' ')}`).not.toBeNull();
  return Number(pause?.[1]) / 1000;
}

/** The variables a Deployment takes from the Secret, by key. */
function secretKeysOf(container: IContainer): Array<{ name: string; key: string; optional: boolean }> {
  return (container.env ?? []).flatMap((variable) => {
    const reference = variable.valueFrom?.secretKeyRef;
    return reference
      ? [{ name: variable.name, key: reference.key, optional: reference.optional === true }]
      : [];
  });
}

/** Environment variables whose values are secrets: never in the ConfigMap. */
const secretVariables = [
  'PLAINLOOP_API_KEYS',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'GEMINI_API_KEY',
  'TELEGRAM_BOT_TOKEN',
  'PLAINLOOP_WEBHOOK_SECRET',
  'REDIS_PASSWORD',
];

/** A secret value that cannot be a real one: empty, or a REPLACE_ME placeholder (in a URL, after a tenant). */
function isPlaceholder(value: string): boolean {
  return value === '' || /^(?:[a-z0-9.-]+:)?REPLACE_ME$/.test(value) || /^redis:\/\/:REPLACE_ME@/.test(value);
}

describe('the Kubernetes manifests (ops/k8s)', () => {
  it('are what kustomization.yaml lists, and every object fits the Kubernetes or KEDA schema', () => {
    const files = readdirSync(directory).filter((file) => file.endsWith('.yaml'));
    expect(files).toContain(exampleSecretFile);
    // Every manifest is applied, except the example Secret: nobody applies its placeholders by accident.
    expect(resources).not.toContain(exampleSecretFile);
    expect([...resources].sort()).toEqual(
      files.filter((file) => file !== 'kustomization.yaml' && file !== exampleSecretFile).sort(),
    );
    expect(applied.map((object) => `${object.kind}/${object.metadata?.name}`).sort()).toEqual([
      'ConfigMap/plainloop-config',
      'Deployment/plainloop-api',
      'Deployment/plainloop-metrics',
      'Deployment/plainloop-worker',
      'Namespace/plainloop',
      'PodDisruptionBudget/plainloop-api',
      'PodDisruptionBudget/plainloop-worker',
      'ScaledObject/plainloop-worker',
      'Service/plainloop-api',
      'Service/plainloop-metrics',
      'TriggerAuthentication/plainloop-redis',
    ]);
    // The example Secret fits the schema too.
    expect(readManifests(exampleSecretFile).map((object) => object.kind)).toEqual(['Secret']);
    const namespace = only(
      applied.filter((object) => object instanceof Namespace),
      'one Namespace',
    );
    expect(kustomization.namespace).toBe(namespace.metadata?.name);
  });

  it('passes yamllint (relaxed), warnings included', async () => {
    const { stdout } = await run('yamllint', [
      '--strict',
      '-f',
      'parsable',
      '-d',
      'relaxed',
      directory,
    ]).catch((error: NodeJS.ErrnoException & { stdout?: string }) => {
      if (error.code === 'ENOENT') throw new Error('yamllint is not installed: apt-get install yamllint');
      throw new Error(`yamllint found problems:\n${error.stdout}`);
    });
    expect(stdout).toBe('');
  });

  it('names the three images of Dockerfile.worker, which kustomization.yaml can point elsewhere', () => {
    const images = kustomization.images ?? [];
    for (const [deployment, target] of [
      [worker, 'worker'],
      [api, 'api'],
      [metrics, 'metrics'],
    ] as const) {
      const image = containerOf(deployment).image ?? '';
      const [name, tag] = image.split(/:(?=[^:/]+$)/);
      expect(name).toBe(`ghcr.io/OWNER/plainloop-${target}`);
      // kustomize overrides only images named exactly as in its `images:`.
      expect(images.find((entry) => entry.name === name)?.newTag).toBe(tag);
    }
    expect(images).toHaveLength(3);
  });

  it('gives every container resource requests and limits, probes on its port and a locked-down context', () => {
    const expected = [
      { deployment: worker, port: 9465, configured: (config: PlainloopConfig) => config.worker.health.port },
      { deployment: api, port: 3000, configured: (config: PlainloopConfig) => config.api.port },
      { deployment: metrics, port: 9464, configured: (config: PlainloopConfig) => config.metrics.port },
    ];
    for (const { deployment, port, configured } of expected) {
      const name = deployment.metadata?.name;
      const pod = deployment.spec?.template.spec;
      const container = containerOf(deployment);
      const config = configOf(deployment);
      // The process listens where the probes knock, on every interface.
      expect(configured(config), `${name}'s port`).toBe(port);
      expect(config.api.host, `${name} listens on every interface`).toBe('0.0.0.0');
      expect(container.ports?.map((entry) => entry.containerPort)).toEqual([port]);

      for (const resource of ['cpu', 'memory']) {
        expect(container.resources?.requests?.[resource], `${name} requests ${resource}`).toBeDefined();
        expect(container.resources?.limits?.[resource], `${name} limits ${resource}`).toBeDefined();
      }
      const probes = {
        startup: container.startupProbe,
        liveness: container.livenessProbe,
        readiness: container.readinessProbe,
      };
      for (const [kind, probe] of Object.entries(probes)) {
        expect(probe?.httpGet, `${name} has a ${kind} probe`).toBeDefined();
        expect(portNumber(container, probe?.httpGet?.port), `${name}'s ${kind} probe port`).toBe(port);
        // Liveness never depends on Redis (/healthz); readiness does (/readyz).
        expect(probe?.httpGet?.path).toBe(kind === 'readiness' ? '/readyz' : '/healthz');
      }

      // The restricted Pod Security Standard (namespace.yaml enforces it), and a read-only root.
      expect(pod?.securityContext?.runAsNonRoot, `${name} runs as non-root`).toBe(true);
      expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(pod?.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(container.securityContext?.capabilities?.drop).toEqual(['ALL']);
      expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
      // tsx caches compiled modules in the temporary directory, the one place written.
      const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
      expect(pod?.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
      expect(pod?.volumes?.every((volume) => volume.emptyDir !== undefined)).toBe(true);
      expect(pod?.automountServiceAccountToken).toBe(false);
      // Service links would set e.g. PLAINLOOP_METRICS_PORT=tcp://…, which the configuration refuses.
      expect(pod?.enableServiceLinks, `${name} turns service links off`).toBe(false);
      // Every pod selected by its Deployment's selector.
      expect(deployment.spec?.template.metadata?.labels).toMatchObject(
        deployment.spec?.selector.matchLabels ?? { missing: 'selector' },
      );
    }
    expect(() => loadConfig({ PLAINLOOP_METRICS_PORT: 'tcp://10.96.0.12:9464' })).toThrow(
      /PLAINLOOP_METRICS_PORT/,
    );
  });

  it('lets a worker hand its runs over: a preStop pause, then a grace period longer than the shutdown', () => {
    const pod = worker.spec?.template.spec;
    const container = containerOf(worker);
    const config = configOf(worker);
    const pause = preStopSeconds(container);
    expect(pause).toBeGreaterThan(0);
    expect(pause).toBeLessThanOrEqual(10);
    // After SIGTERM: up to the shutdown timeout for runs to reach a checkpoint, then 10 s before the
    // worker closes regardless, then five closes bounded at 2 s each even with Redis gone
    // (start-worker.ts). The grace period counts from before the preStop.
    const shutdownSeconds = config.worker.shutdownTimeoutMs / 1000 + 10 + 10;
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + shutdownSeconds + 5);
    // A scale-down does not abort a model call in flight (which the next worker would make, and pay,
    // again): the README's advice for PLAINLOOP_SHUTDOWN_TIMEOUT_MS.
    expect(config.worker.shutdownTimeoutMs).toBeGreaterThan(config.runs.modelTimeoutMs);
    // New workers come up before old ones leave; KEDA, not the Deployment, owns the count.
    expect(worker.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(worker.spec?.replicas).toBeUndefined();
    // The API stops taking requests only once its endpoints are gone.
    expect(preStopSeconds(containerOf(api))).toBeGreaterThan(0);
    expect(api.spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThan(
      preStopSeconds(containerOf(api)),
    );
  });

  it('runs one metrics process, never two at once; API replicas behind a Service', () => {
    expect(metrics.spec?.replicas).toBe(1);
    expect(metrics.spec?.strategy?.type).toBe('Recreate');
    const annotations = metrics.spec?.template.metadata?.annotations ?? {};
    expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
    expect(Number(annotations['prometheus.io/port'])).toBe(configOf(metrics).metrics.port);
    // A fixed consumer name: a restarted process takes up the events it had read.
    expect(configOf(metrics).metrics.consumer).toBe('metrics');
    expect(api.spec?.replicas).toBeGreaterThanOrEqual(2);

    for (const deployment of [api, metrics]) {
      const name = deployment.metadata?.name;
      const service = only(
        applied.filter(
          (object): object is Service => object instanceof Service && object.metadata?.name === name,
        ),
        `the Service ${name}`,
      );
      expect(deployment.spec?.template.metadata?.labels).toMatchObject(service.spec?.selector ?? {});
      const container = containerOf(deployment);
      for (const port of service.spec?.ports ?? [])
        expect(portNumber(container, port.targetPort), `${name} Service's target port`).toBeDefined();
    }
  });

  it('keeps workers through voluntary disruptions one at a time', () => {
    const budget = only(
      applied.filter(
        (object): object is PodDisruptionBudget =>
          object instanceof PodDisruptionBudget && object.metadata?.name === 'plainloop-worker',
      ),
      'the workers PodDisruptionBudget',
    );
    expect(budget.spec?.maxUnavailable).toBe(1);
    expect(worker.spec?.template.metadata?.labels).toMatchObject(budget.spec?.selector?.matchLabels ?? {});
  });

  it('scales workers with KEDA on the BullMQ lists of the run queue, one worker per PLAINLOOP_CONCURRENCY', () => {
    const spec = scaledObject.spec;
    expect(spec.scaleTargetRef.name).toBe(worker.metadata?.name);
    expect(spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
    // At least one worker, always: delayed runs go back to `wait` only when a worker promotes them.
    expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(spec.maxReplicaCount).toBeGreaterThan(spec.minReplicaCount ?? 0);
    expect(spec.cooldownPeriod).toBeGreaterThan(0);

    const config = configOf(worker);
    const queueKeys = new QueueKeys(createKeySchema(config.redis.prefix).queuePrefix);
    expect(config.redis.prefix).toBe('plainloop');
    const redisUrl = new URL(config.redis.url ?? '');
    const triggers = spec.triggers;
    expect(triggers.map((trigger) => [trigger.type, trigger.name, trigger.metadata.listName])).toEqual([
      ['redis', 'waiting', queueKeys.toKey(queueNames.runs, 'wait')],
      ['redis', 'active', queueKeys.toKey(queueNames.runs, 'active')],
    ]);
    expect(triggers[0]?.metadata.listName).toBe('{plainloop}:plainloop-runs:wait');
    const authentication = only(
      applied.filter((object): object is TriggerAuthentication => object instanceof TriggerAuthentication),
      'one TriggerAuthentication',
    );
    for (const trigger of triggers) {
      // The Redis the processes use (KEDA wants host:port, not a URL).
      expect(trigger.metadata.address).toBe(`${redisUrl.hostname}:${redisUrl.port || 6379}`);
      expect(trigger.authenticationRef?.name).toBe(authentication.metadata?.name);
    }
    expect(authentication.spec.secretTargetRef).toEqual([
      { parameter: 'password', name: 'plainloop-secrets', key: 'REDIS_PASSWORD' },
    ]);

    // Scaling modifiers (KEDA 2.12) are newer than the models' schema: checked here by hand.
    const modifiers = (spec.advanced as { scalingModifiers?: Record<string, string> } | undefined)
      ?.scalingModifiers;
    expect(modifiers?.formula).toBe('waiting + active');
    expect(Number(modifiers?.target)).toBe(config.worker.concurrency);
    expect(modifiers?.metricType ?? 'AverageValue').toBe('AverageValue');
  });

  it("README's triggers for a managed Redis Cluster read the same lists, and fit KEDA's schema", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('**On a managed Redis Cluster**'));
    const snippet = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const { triggers } = parse(snippet) as { triggers: IScaledObject['spec']['triggers'] };
    const onCluster = validated(
      { ...scaledObject.toJSON(), spec: { ...scaledObject.spec, triggers } } as Manifest,
      'the ScaledObject with README triggers',
    ) as ScaledObject;
    const address = parseRedisAddress(/REDIS_URL=(rediss\+cluster:\S+?)`/.exec(section)?.[1] ?? '');
    expect(address.mode).toBe('cluster');
    const nodes = address.mode === 'cluster' ? address.nodes : [];
    expect(
      onCluster.spec.triggers.map((trigger) => ({
        type: trigger.type,
        name: trigger.name,
        listName: trigger.metadata.listName,
        listLength: trigger.metadata.listLength,
        addresses: trigger.metadata.addresses,
        enableTLS: trigger.metadata.enableTLS,
        authentication: trigger.authenticationRef?.name,
      })),
    ).toEqual(
      scaledObject.spec.triggers.map((trigger) => ({
        type: 'redis-cluster',
        name: trigger.name,
        listName: trigger.metadata.listName,
        listLength: trigger.metadata.listLength,
        addresses: nodes.map((node) => `${node.host}:${node.port}`).join(','),
        enableTLS: String(address.mode === 'cluster' && address.tls),
        authentication: trigger.authenticationRef?.name,
      })),
    );
  });

  it('finds in the trigger lists the runs BullMQ 6 waits with and runs, and not delayed or prioritized ones', async () => {
    // A real Redis and BullMQ: the ScaledObject's list names, with a test prefix instead of plainloop.
    const redis = await useTestRedis();
    const lists = Object.fromEntries(
      scaledObject.spec.triggers.map((trigger) => [
        trigger.name,
        trigger.metadata.listName?.replace('{plainloop}', redis.keys.queuePrefix) ?? '',
      ]),
    );
    const queue = createRunQueue(redis.client, redis.keys);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = new Worker(
      queueNames.runs,
      async (_job: Job) => {
        started();
        await held;
      },
      { connection: redis.connect(), prefix: redis.keys.queuePrefix, concurrency: 1, autorun: false },
    );
    try {
      const lengths = async () => ({
        waiting: await redis.client.llen(lists.waiting ?? ''),
        active: await redis.client.llen(lists.active ?? ''),
      });
      await queue.add(runJob.jobName, { runId: 'run_a' }, { jobId: 'run_a' });
      await queue.add(runJob.jobName, { runId: 'run_b' }, { jobId: 'run_b', delay: 60_000 });
      await queue.add(runJob.jobName, { runId: 'run_c' }, { jobId: 'run_c', priority: 1 });
      expect(await redis.client.type(lists.waiting ?? '')).toBe('list');
      expect(await lengths()).toEqual({ waiting: 1, active: 0 });
      expect(await queue.getJobCounts('wait', 'delayed', 'prioritized')).toEqual({
        wait: 1,
        delayed: 1,
        prioritized: 1,
      });
      void worker.run();
      await running;
      // A worker takes from `wait` first: the run it holds is seen in `active`, while the prioritized one
      // still waits where the trigger does not look.
      expect(await lengths()).toEqual({ waiting: 0, active: 1 });
      expect(await queue.getJobCounts('prioritized')).toEqual({ prioritized: 1 });
      expect(await redis.client.type(lists.active ?? '')).toBe('list');
    } finally {
      release();
      await worker.close();
      await queue.close();
      await redis.close();
    }
  });

  it('carries no secret: the ConfigMap has none, and the example Secret only placeholders', async () => {
    const data = configMap.data ?? {};
    for (const name of secretVariables) expect(Object.keys(data), name).not.toContain(name);
    expect(new URL(data.REDIS_URL ?? '').password, 'REDIS_URL in the ConfigMap has no password').toBe('');
    // No Secret object is applied at all.
    expect(applied.filter((object) => object instanceof Secret)).toEqual([]);

    const example = only(
      readManifests(exampleSecretFile).filter((object): object is Secret => object instanceof Secret),
      'the example Secret',
    );
    const values = { ...example.stringData, ...example.data };
    for (const [key, value] of Object.entries(values))
      expect(isPlaceholder(value), `${key} in ${exampleSecretFile} is a placeholder`).toBe(true);
    // The placeholders cannot be used by mistake: the API refuses a key that short.
    await expect(
      loadApiKeyring(loadConfig({ PLAINLOOP_API_KEYS: values.PLAINLOOP_API_KEYS })),
    ).rejects.toThrow();
    // Every key a Deployment or KEDA reads is in the example, so it documents them all.
    const read = deployments.flatMap((deployment) => secretKeysOf(containerOf(deployment)));
    const exampleKeys = new Set([...Object.keys(values), 'REDIS_URL']);
    for (const { key } of read) expect(exampleKeys, `${key} in ${exampleSecretFile}`).toContain(key);
    expect(Object.keys(values)).toContain('REDIS_PASSWORD');
    // Only the API's keys are required; everything else may be left out.
    expect(read.filter(({ optional }) => !optional).map(({ key }) => key)).toEqual(['PLAINLOOP_API_KEYS']);
    // Nothing that looks like a real key anywhere in ops/k8s.
    for (const file of readdirSync(directory)) {
      const text = readFileSync(join(directory, file), 'utf8');
      expect(text, file).not.toMatch(
        /sk-[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9+/=]{16,}|\b[0-9]{6,}:[A-Za-z0-9_-]{30,}/,
      );
    }
  });
});

/** CRC16 (XMODEM), which Redis Cluster maps a key's hash tag with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key: of its hash tag (the first non-empty `{…}`) when it has one. */
function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % 16_384;
  }
  return crc16(bytes) % 16_384;
}

function slotsOf(keys: readonly string[]): Set<number> {
  return new Set(keys.map(keySlot));
}

describe('Redis Cluster hash tags (README, "Redis Cluster")', () => {
  const keys = createKeySchema('plainloop');

  it('computes slots as Redis does', () => {
    // CLUSTER KEYSLOT answers from the Redis documentation.
    expect(keySlot('somekey')).toBe(11_058);
    expect(keySlot('foo{hash_tag}')).toBe(keySlot('hash_tag'));
    expect(keySlot('foo{hash_tag}')).toBe(2_515);
    // And of a cluster-enabled redis-server 7.0 asked here for plainloop's own keys.
    expect(keySlot('{plainloop}:plainloop-runs:wait')).toBe(14_616);
    expect(keySlot('plainloop:tenant:acme:run:{run_811a72a8ed6649ce8452d9c22b606f3d}:turns')).toBe(7_970);
    expect(keySlot('plainloop:{events}:metrics:totals')).toBe(9_102);
  });

  it('puts the keys each Lua script touches in one slot', () => {
    // Ids with characters that could upset a hash tag: the tag is the first `{…}`, so keys built on the
    // same base stay together whatever follows.
    for (const [tenant, id] of [
      ['acme', 'run_811a72a8ed6649ce8452d9c22b606f3d'],
      ['a.b-c_d', 'x}y{z'],
    ] as const) {
      // open-run.lua, commit-runs.lua (and the run's webhook state beside them): the run's keys, its
      // shard's stream and its shard's index of the tenant's runs.
      const run = keys.run(tenant, id);
      const { shard, ...runKeys } = run;
      const shardKeys = keys.shard(shard);
      expect(slotsOf([...Object.values(runKeys), shardKeys.events, shardKeys.runIndex(tenant)]).size).toBe(1);
      // thread-append.lua, thread-summarize.lua, thread-enter.lua.
      expect(slotsOf(Object.values(keys.thread(tenant, id))).size).toBe(1);
      // spend-reserve.lua, spend-settle.lua.
      expect(slotsOf(Object.values(keys.tenantSpend(tenant, '2026-11-29'))).size).toBe(1);
    }
    // admission-reserve.lua, admission-settle.lua, admission-cool-down.lua (breaker-*.lua: one key).
    for (const model of ['openai:gpt-4.1', 'scripted:research-plan'])
      expect(slotsOf(Object.values(keys.admission(model))).size).toBe(1);
    // metrics-apply.lua: a shard's stream and its aggregates (lease-hold.lua: one key).
    for (const shard of keys.shards)
      expect(slotsOf([shard.events, ...Object.values(shard.metrics)]).size).toBe(1);
    // Runs spread over every shard, and the shards over the slot space: a sixteenth each, so that
    // `redis-cli --cluster create` (contiguous ranges per master) spreads them evenly over the masters.
    const shardsUsed = new Set(
      Array.from({ length: 400 }, (_, index) => keys.run('acme', `run_${index}`).shard),
    );
    expect(shardsUsed.size).toBe(keys.shardCount);
    expect(
      keys.shards.map((shard) => Math.floor(keySlot(shard.events) / (16_384 / keys.shardCount))),
    ).toEqual(keys.shards.map((shard) => shard.shard));
  });

  it("keeps each BullMQ queue in one slot, as BullMQ's scripts require", () => {
    for (const queue of Object.values(queueNames)) {
      const queueKeys = new QueueKeys(keys.queuePrefix);
      const all = [...Object.values(queueKeys.getKeys(queue)), `${queueKeys.toKey(queue, '')}run_x`];
      expect(slotsOf(all)).toEqual(new Set([keySlot('{plainloop}')]));
    }
  });
});
