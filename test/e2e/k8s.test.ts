/**
 * deploy/k8s without a cluster: every manifest is checked against the Kubernetes API schema
 * (kubernetes-models: the OpenAPI schema as compiled validators for types, required fields and
 * formats, and as TypeScript types for unknown fields, which `kubectl apply` rejects by default),
 * and the Jobs' container command lines run here as their pods would: the same shell script, the
 * same environment (`JOB_COMPLETION_INDEX` as Kubernetes sets it for an Indexed Job), the volume
 * mount paths mapped to local directories, and the image's `node` standing in through
 * test/helpers/k8s-pod-node.mjs (real flag parsing, then a scaled-down real run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStore, MockManager } from 'agentlink/testing';

const ROOT = new URL('../../', import.meta.url).pathname;
const K8S = join(ROOT, 'deploy', 'k8s');
const WORK = join(ROOT, '.tmp', 'k8s');
/** start.sh's lead in the pod runs: four pods (two node processes each) got ready within 6 s on this 2-core machine under load; 15 s leaves room. */
const START_LEAD_S = 15;

type Obj = Record<string, unknown>;
interface Manifest {
  origin: string;
  doc: Obj & { apiVersion: string; kind: string; metadata: { name: string } };
}

interface Container {
  name: string;
  command: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

function parseManifests(text: string, origin: string): Manifest[] {
  return parseAllDocuments(text).map((d, i) => {
    if (d.errors.length > 0) throw new Error(`${origin} document ${i + 1}: ${d.errors[0]!.message}`);
    return { origin: `${origin} document ${i + 1}`, doc: d.toJS() as Manifest['doc'] };
  });
}

function manifests(): Manifest[] {
  return readdirSync(K8S)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((file) => parseManifests(readFileSync(join(K8S, file), 'utf8'), `deploy/k8s/${file}`));
}

/**
 * Runs deploy/k8s/start.sh as a user would, with a stand-in `kubectl` that keeps its arguments and
 * the manifests it was given on standard input.
 */
function startScript(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string; kubectlArgs: string; applied: Manifest[] } {
  const dir = join(WORK, 'kubectl');
  mkdirSync(dir, { recursive: true });
  const kubectl = join(dir, 'kubectl');
  writeFileSync(kubectl, `#!/bin/sh\necho "$@" > "${dir}/args"\ncat > "${dir}/stdin"\n`, { mode: 0o755 });
  rmSync(join(dir, 'stdin'), { force: true });
  const r = spawnSync('/bin/sh', [join(K8S, 'start.sh'), ...args], { env: { ...process.env, KUBECTL: kubectl, ...env }, encoding: 'utf8' });
  const applied = existsSync(join(dir, 'stdin')) ? parseManifests(readFileSync(join(dir, 'stdin'), 'utf8'), 'start.sh output') : [];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, kubectlArgs: existsSync(join(dir, 'args')) ? readFileSync(join(dir, 'args'), 'utf8').trim() : '', applied };
}

/** The kubernetes-models module of an object: `batch/v1` + `Job` → kubernetes-models/batch/v1/Job. */
function modelPath(m: Manifest['doc']): string {
  return `kubernetes-models/${m.apiVersion}/${m.kind}`;
}

/** Schema validation: the compiled OpenAPI validators of kubernetes-models. */
async function schemaErrors(m: Manifest): Promise<string | undefined> {
  let mod: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    mod = (await import(/* @vite-ignore */ modelPath(m.doc))) as typeof mod;
  } catch {
    return `${m.origin}: no schema for ${m.doc.apiVersion} ${m.doc.kind}`;
  }
  try {
    new mod[m.doc.kind]!(m.doc).validate();
    return undefined;
  } catch (err) {
    return `${m.origin}: ${(err as Error).message}`;
  }
}

/**
 * Unknown fields (a misspelt `backoffLimitPerIndex` passes the schema, which allows extra
 * properties): each manifest becomes an object literal typed with the model's interface, and the
 * compiler's excess-property check names every field the API does not have.
 */
function unknownFields(list: readonly Manifest[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = list.map((m, i) => {
    const path = join(dir, `manifest-${i}.ts`);
    const json = JSON.stringify(m.doc, null, 2);
    writeFileSync(path, `import type { I${m.doc.kind} } from '${modelPath(m.doc)}';\nexport const manifest: I${m.doc.kind} = ${json};\n`);
    return path;
  });
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  });
  return files.flatMap((f, i) => {
    const source = program.getSourceFile(f)!;
    return ts.getPreEmitDiagnostics(program, source).map((d) => {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      const at = source.text.split('\n')[line]?.trim() ?? '';
      return `${list[i]!.origin}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')} (at ${at})`;
    });
  });
}

function job(list: readonly Manifest[], name: string): Manifest['doc'] & { spec: Obj & { template: { spec: { containers: Container[] } } } } {
  const found = list.find((m) => m.doc.kind === 'Job' && m.doc.metadata.name === name);
  if (!found) throw new Error(`no Job ${name} in deploy/k8s`);
  return found.doc as ReturnType<typeof job>;
}

function envOf(c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
}

interface PodRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Job's first container as its pod would: its command and args through the same shell,
 * its env plus `extraEnv`, each volume's mount path replaced by the local directory `volumes`
 * gives, and the stand-in `node` first on PATH.
 */
function runPod(
  doc: ReturnType<typeof job>,
  volumes: Record<string, string>,
  extraEnv: Record<string, string>,
  timeoutMs: number,
): Promise<PodRun> {
  const c = doc.spec.template.spec.containers[0]!;
  const local = (text: string): string =>
    (c.volumeMounts ?? []).reduce((t, m) => {
      const dir = volumes[m.name];
      if (dir === undefined) throw new Error(`no local directory for volume ${m.name}`);
      return t.replace(new RegExp(`${m.mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[/"'\\s]|$)`, 'g'), dir);
    }, text);
  const [cmd, ...rest] = [...c.command, ...(c.args ?? [])].map(local);
  const child = spawn(cmd!, rest, {
    env: { ...process.env, ...envOf(c), ...extraEnv, PATH: `${join(WORK, 'bin')}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${doc.metadata.name} pod still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface PodLogLine {
  shard: { index: number; count: number };
  startAt?: number;
  report: string;
  agents: number;
  target: { kind: string; servers?: { host: string; port: number }[] };
}

function podLog(path: string): PodLogLine[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as PodLogLine)
    : [];
}

describe('deploy/k8s manifests', () => {
  const list = manifests();

  it('are found: the Indexed Job of the shards and the merge Job', () => {
    expect(list.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`)).toEqual(['Job/agentlink-simulate', 'Job/agentlink-merge']);
  });

  it('every manifest validates against the Kubernetes API schema', async () => {
    const errors = (await Promise.all(list.map(schemaErrors))).filter((e) => e !== undefined);
    expect(errors).toEqual([]);
  });

  it('no manifest has a field the Kubernetes API does not know', () => {
    expect(unknownFields(list, join(WORK, 'fields'))).toEqual([]);
  }, 60_000);

  it('the checks catch a misspelt field and a wrong type', async () => {
    const bad = structuredClone(list[0]!);
    (bad.doc.spec as Obj).backoffLimitPerindex = 0;
    expect(unknownFields([bad], join(WORK, 'fields-bad')).join('\n')).toMatch(/backoffLimitPerindex/);
    (bad.doc.spec as Obj).completions = '4';
    expect(await schemaErrors(bad)).toMatch(/completions must be integer/);
  }, 60_000);

  it('the values to edit together agree: shard count, run name, image', () => {
    const shards = job(list, 'agentlink-simulate');
    const merge = job(list, 'agentlink-merge');
    const sc = shards.spec.template.spec.containers[0]!;
    const mc = merge.spec.template.spec.containers[0]!;
    expect(shards.spec.completionMode).toBe('Indexed');
    expect(shards.spec.parallelism).toBe(shards.spec.completions);
    expect(Number(envOf(mc).SHARDS)).toBe(shards.spec.completions);
    expect(envOf(sc).RUN).toBe(envOf(mc).RUN);
    expect((sc as unknown as { image: string }).image).toBe((mc as unknown as { image: string }).image);
  });

  it('the shards take their start time from START_AT, empty in the file (each pod starts when it runs) until start.sh sets it', () => {
    const sc = job(list, 'agentlink-simulate').spec.template.spec.containers[0]!;
    expect(envOf(sc)).toHaveProperty('START_AT', '');
    expect(sc.args!.join('\n')).toContain('${START_AT:+--start-at "$START_AT"}');
  });
});

describe('deploy/k8s/start.sh', () => {
  it('applies the manifests with one start time for every shard, LEAD seconds ahead, and nothing else changed', () => {
    const before = Date.now();
    const r = startScript(['90']);
    const after = Date.now();
    expect(r.code, r.stderr).toBe(0);
    expect(r.kubectlArgs).toBe('apply -f -');
    const startAt = envOf(job(r.applied, 'agentlink-simulate').spec.template.spec.containers[0]!).START_AT!;
    expect(r.stdout).toBe(`shards start at ${startAt}\n`);
    expect(startAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // whole seconds: at most a second before before + 90 s
    expect(Date.parse(startAt)).toBeGreaterThan(before + 89_000);
    expect(Date.parse(startAt)).toBeLessThanOrEqual(after + 90_000);
    const original = manifests();
    const unset = structuredClone(r.applied);
    for (const e of job(unset, 'agentlink-simulate').spec.template.spec.containers[0]!.env!) if (e.name === 'START_AT') e.value = '';
    expect(unset.map((m) => m.doc)).toEqual(original.map((m) => m.doc));
  });

  it('takes START_AT as given and KUBECTL_ARGS, and refuses a lead that is not a number of seconds', () => {
    const r = startScript([], { START_AT: '2026-12-06T18:00:00Z', KUBECTL_ARGS: '--namespace load' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.kubectlArgs).toBe('apply --namespace load -f -');
    expect(envOf(job(r.applied, 'agentlink-simulate').spec.template.spec.containers[0]!).START_AT).toBe('2026-12-06T18:00:00Z');
    const bad = startScript(['2m']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/LEAD_SECONDS must be a whole number of seconds/);
    expect(bad.applied).toEqual([]);
  });
});

describe('deploy/k8s Jobs run as their pods would', () => {
  const list = manifests();
  const shards = job(list, 'agentlink-simulate');
  const merge = job(list, 'agentlink-merge');
  const completions = shards.spec.completions as number;
  const run = envOf(shards.spec.template.spec.containers[0]!).RUN!;
  const keysDir = join(WORK, 'keys');
  const reportsDir = join(WORK, 'reports');
  const agents = completions * 2;
  let manager: MockManager;
  let override: string;

  beforeAll(async () => {
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(join(WORK, 'bin'), { recursive: true });
    mkdirSync(keysDir, { recursive: true });
    mkdirSync(reportsDir, { recursive: true });
    writeFileSync(join(WORK, 'bin', 'node'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'test/helpers/k8s-pod-node.mjs')}" "$@"\n`, { mode: 0o755 });
    const store = new KeyStore();
    store.generate(agents);
    writeFileSync(join(keysDir, 'client.keys'), store.toString()); // the Secret agentlink-keys, key client.keys
    manager = new MockManager({ keys: store.list() });
    await manager.start();
    override = JSON.stringify({ '--agents': String(agents), '--manager': `127.0.0.1:${manager.port}`, '--duration': '1s', '--drain': '1s' });
  });

  afterAll(async () => {
    await manager?.close();
  });

  it('each index runs shard index+1 of the fleet and leaves its report under the name the merge reads; the merge joins them all', async () => {
    const log = join(WORK, 'pods.log');
    // the Job as start.sh creates it: every pod gets the same START_AT, a few seconds ahead here
    const created = startScript([String(START_LEAD_S)]);
    expect(created.code, created.stderr).toBe(0);
    const startedJob = job(created.applied, 'agentlink-simulate');
    const startAt = envOf(startedJob.spec.template.spec.containers[0]!).START_AT!;
    const pods = await Promise.all(
      Array.from({ length: completions }, (_, i) =>
        runPod(startedJob, { keys: keysDir, reports: reportsDir }, { JOB_COMPLETION_INDEX: String(i), POD_LOG: log, POD_OVERRIDE: override }, 60_000),
      ),
    );
    for (const [i, p] of pods.entries()) expect(p.code, `index ${i}:\n${p.stdout}\n${p.stderr}`).toBe(0);

    const parsed = podLog(log).sort((a, b) => a.shard.index - b.shard.index);
    expect(parsed.map((p) => p.shard)).toEqual(Array.from({ length: completions }, (_, i) => ({ index: i + 1, count: completions })));
    expect(parsed.map((p) => p.report)).toEqual(parsed.map((p) => join(reportsDir, run, `shard-${p.shard.index}.json.part`)));
    expect(parsed.every((p) => p.agents >= completions && p.target.kind === 'managers')).toBe(true);
    expect(parsed.map((p) => p.startAt)).toEqual(parsed.map(() => Date.parse(startAt)));

    const dir = join(reportsDir, run);
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: completions }, (_, i) => `shard-${i + 1}.json`));
    for (let i = 1; i <= completions; i++) {
      const report = JSON.parse(readFileSync(join(dir, `shard-${i}.json`), 'utf8')) as { shard: { index: number; count: number } };
      expect(report.shard).toEqual({ index: i, count: completions });
    }

    const merged = await runPod(merge, { reports: reportsDir }, {}, 30_000);
    expect(merged.code, `${merged.stdout}\n${merged.stderr}`).toBe(0);
    const fleet = JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8')) as { shards: number[]; events: { generated: number }; plannedStartAt: string; startSkewMs: number };
    expect(fleet.shards).toEqual(Array.from({ length: completions }, (_, i) => i + 1));
    // the shards waited for START_AT and started together; the merge's log says how far apart
    expect(Date.parse(fleet.plannedStartAt)).toBe(Date.parse(startAt));
    for (let i = 1; i <= completions; i++) {
      const r = JSON.parse(readFileSync(join(dir, `shard-${i}.json`), 'utf8')) as { startedAt: string; warnings: string[] };
      expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(Date.parse(startAt));
      expect(r.warnings.filter((w) => /--start-at/.test(w)), `shard ${i} was ready only after START_AT`).toEqual([]);
    }
    expect(merged.stdout).toContain(`shards started ${fleet.startSkewMs} ms apart (startSkewMs)`);
    const starts = Array.from({ length: completions }, (_, i) => (JSON.parse(readFileSync(join(dir, `shard-${i + 1}.json`), 'utf8')) as { startedAt: string }).startedAt);
    const waits = pods.map((p) => /waiting until \S+ \(in ([^)]+)\)/.exec(p.stderr)?.[1] ?? 'no wait');
    process.stdout.write(`k8s: ${completions} pods started ${fleet.startSkewMs} ms apart (${starts.join(', ')}; ready ${waits.join(', ')} before ${startAt})\n`);
    expect(fleet.startSkewMs).toBeLessThan(1000);
    expect(fleet.events.generated).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'fleet.html'))).toBe(true);
    expect(manager.agents().length).toBe(agents);
  }, 120_000);

  it('a shard that crashes without a report fails its index, and the merge still ends, merging the rest and naming the missing shard', async () => {
    const first = join(reportsDir, run);
    const other = join(WORK, 'reports-crash');
    mkdirSync(join(other, run), { recursive: true });
    const crashed = 2; // index 2 runs shard 3
    for (let i = 1; i <= completions; i++) {
      if (i !== crashed + 1) copyFileSync(join(first, `shard-${i}.json`), join(other, run, `shard-${i}.json`));
    }
    const pod = await runPod(
      shards,
      { keys: keysDir, reports: other },
      { JOB_COMPLETION_INDEX: String(crashed), POD_LOG: join(WORK, 'pods-crash.log'), POD_OVERRIDE: override, POD_CRASH: '1' },
      30_000,
    );
    expect(pod.code, 'a crashed shard fails its index (backoffLimitPerIndex: 0 keeps it from running again)').not.toBe(0);
    expect(existsSync(join(other, run, `shard-${crashed + 1}.json`))).toBe(false);

    const merged = await runPod(merge, { reports: other }, {}, 30_000);
    expect(merged.code).not.toBe(0);
    expect(merged.stdout).toMatch(new RegExp(`shards that wrote no report: ${crashed + 1}\\b`));
    const fleet = JSON.parse(readFileSync(join(other, run, 'fleet.json'), 'utf8')) as { shards: number[] };
    expect(fleet.shards).toEqual(Array.from({ length: completions }, (_, i) => i + 1).filter((s) => s !== crashed + 1));
  }, 90_000);
});
