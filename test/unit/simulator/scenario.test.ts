/**
 * `--scenario FILE`: a JSON or YAML file with one field per flag gives the same configuration as
 * the flags; flags on the command line win; a bad file is a ConfigError naming the file, the line
 * and the field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError } from 'agentlink';
import { parseSimulateArgs } from 'agentlink/simulator';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

function refused(name: string, text: string, extra: string[] = []): ConfigError {
  file(name, text);
  try {
    parseSimulateArgs(['--scenario', name, ...extra], { cwd: dir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG');
    return err as ConfigError;
  }
  throw new Error(`expected ${name} to be refused`);
}

const YAML = `# a comment
agents: 40
target:
  cluster: 3
notify: 5s
timeReconnect: 30s
strategy: backoff
jitter: 0.2
ramp: 20/s
eps: 0.5
workload: fim
duration: 1m
drain: 2s
spread: false
chaos:
  - kill:node1@20s+10s
  - rebalance@40s
seed: s1
quiet: true
report: out/r.json
`;

const SAME_FLAGS = [
  ...['--agents', '40', '--cluster', '3', '--notify', '5s', '--time-reconnect', '30s', '--strategy', 'backoff', '--jitter', '0.2'],
  ...['--ramp', '20/s', '--eps', '0.5', '--workload', 'fim', '--duration', '1m', '--drain', '2s', '--no-spread'],
  ...['--chaos', 'kill:node1@20s+10s,rebalance@40s', '--seed', 's1', '--quiet', '--report', join(dir, 'out/r.json')],
];

describe('--scenario: good files', () => {
  test('a YAML file gives the configuration the same flags give', () => {
    file('s.yaml', YAML);
    const fromFile = parseSimulateArgs(['--scenario', 's.yaml'], { cwd: dir });
    const { given: _a, ...fileConfig } = fromFile;
    const { given: _b, ...flagConfig } = parseSimulateArgs(SAME_FLAGS);
    expect(fileConfig).toEqual({ ...flagConfig, scenario: 's.yaml' });
    // what the file sets counts as given (it overrides an ossec.conf as a flag would)
    expect(fromFile.given).toEqual(expect.arrayContaining(['notifyTimeMs', 'strategy', 'chaos', 'spread', 'scenario']));
  });

  test('the same as JSON, with the groups and plural names', () => {
    file(
      's.json',
      JSON.stringify({
        agents: 10,
        target: { managers: ['10.0.0.1:1514', '10.0.0.2'] },
        identities: { keys: 'client.keys' },
        notify: '10s',
      }),
    );
    const c = parseSimulateArgs(['--scenario', 's.json'], { cwd: dir });
    expect(c.target).toEqual({ kind: 'managers', servers: [{ host: '10.0.0.1', port: 1514 }, { host: '10.0.0.2', port: 1514 }] });
    // a relative path is relative to the scenario file
    expect(c.keysFile).toBe(join(dir, 'client.keys'));
    expect(c.notifyTimeMs).toBe(10_000);
  });

  test('group fields at the top level, groups as a list, file-relative identity paths', () => {
    file('top.yaml', 'agents: 4\nmanager: 10.0.0.9\nidentities:\n  enroll: 10.0.0.9\n  passwordFile: authd.pass\n  groups: [web, db]\n');
    const c = parseSimulateArgs(['--scenario', 'top.yaml'], { cwd: dir });
    expect(c.target).toEqual({ kind: 'managers', servers: [{ host: '10.0.0.9', port: 1514 }] });
    expect(c.enroll).toEqual({ host: '10.0.0.9', port: 1515 });
    expect(c.passwordFile).toBe(join(dir, 'authd.pass'));
    expect(c.groups).toEqual(['web', 'db']);
    // a duration needs its unit, as on the command line
    expect(refused('n.yaml', 'agents: 4\ncluster: 2\nduration: 60\n').message).toMatch(/^scenario 'n\.yaml' line 3, field 'duration': --duration '60' is not a duration/);
  });

  test('flags on the command line override the file; a target flag replaces the file target', () => {
    file('o.yaml', YAML);
    const c = parseSimulateArgs(['--scenario', 'o.yaml', '--agents', '5', '--notify', '20s', '--cluster', '2'], { cwd: dir });
    expect(c.agents).toBe(5);
    expect(c.notifyTimeMs).toBe(20_000);
    expect(c.target).toEqual({ kind: 'cluster', nodes: 2 });
    expect(c.strategy).toBe('backoff');
    // the file's chaos does not fit the new target: the error says where the chaos came from
    expect(() => parseSimulateArgs(['--scenario', 'o.yaml', '--manager', '127.0.0.1', '--keys', 'k'], { cwd: dir })).toThrow(
      "scenario 'o.yaml' line 16, field 'chaos': --chaos needs --cluster N: chaos acts on the nodes of the embedded mock cluster",
    );
  });
});

describe('--scenario: bad files name the field and the line', () => {
  test('an unknown field, with the closest field', () => {
    const e = refused('u.yaml', 'agents: 3\ntarget: { cluster: 2 }\ntimeReconect: 30s\n');
    expect(e.message).toBe(
      "scenario 'u.yaml' line 3: field 'timeReconect': unknown field; did you mean 'timeReconnect'? (the fields are the flags of agentlink simulate --help, in camelCase)",
    );
    expect(e.element).toBe('timeReconect');
  });

  test('a value the flag refuses', () => {
    const e = refused('v.yaml', 'agents: 3\ntarget:\n  cluster: 2\nnotify: 5x\n');
    expect(e.message).toMatch(/^scenario 'v\.yaml' line 4, field 'notify': --notify '5x' is not a duration; write it like 500ms/);
    expect(e.element).toBe('notify');
    const g = refused('g.yaml', 'agents: 3\ntarget:\n  cluster: 99\n');
    expect(g.message).toMatch(/^scenario 'g\.yaml' line 3, field 'target\.cluster': --cluster '99' must be a whole number from 1 to 64/);
  });

  test('thresholds map onto --threshold', () => {
    file('th.yaml', 'agents: 3\ncluster: 2\nthresholds:\n  - failover.p99<2s\n  - events.dropped==0\nabortOnFail: true\n');
    const c = parseSimulateArgs(['--scenario', 'th.yaml'], { cwd: dir });
    const flags = parseSimulateArgs(['--agents', '3', '--cluster', '2', '--threshold', 'failover.p99<2s', '--threshold', 'events.dropped==0', '--abort-on-fail']);
    expect(c.thresholds).toEqual(flags.thresholds);
    expect(c.abortOnFail).toBe(true);
    const e = refused('tb.yaml', 'agents: 3\ncluster: 2\nthresholds: [failover.p99 < 2 parsecs]\n');
    expect(e.message).toMatch(/^scenario 'tb\.yaml' line 3, field 'thresholds': --threshold 'failover\.p99 < 2 parsecs'/);
    expect(e.element).toBe('thresholds');
  });

  test('stages are written as mappings', () => {
    file('st.yaml', 'cluster: 2\nstages:\n  - { duration: 10s, agents: 50 }\n  - duration: 20s\n    eps: 3\n  - { duration: 5s, agents: 0 }\n');
    const c = parseSimulateArgs(['--scenario', 'st.yaml'], { cwd: dir });
    const flags = parseSimulateArgs(['--cluster', '2', '--stage', '10s,agents=50', '--stage', '20s,eps=3', '--stage', '5s,agents=0']);
    expect(c.stages).toEqual(flags.stages);
    expect(c.agents).toBe(50);
    expect(c.durationMs).toBe(35_000);
    expect(refused('sb.yaml', 'cluster: 2\nstages:\n  - { duration: 10s, agents: 5 }\n  - { duration: 5s, users: 3 }\n').message).toBe(
      "scenario 'sb.yaml' line 4: field 'stages[1]': unknown stage field 'users': a stage has duration, agents and eps",
    );
    expect(refused('sd.yaml', 'cluster: 2\nstages:\n  - { agents: 5 }\n').message).toBe("scenario 'sd.yaml' line 3: field 'stages[0]': a stage needs a duration (duration: 30s)");
    expect(refused('se.yaml', 'cluster: 2\nstages:\n  - { duration: 5s, eps: fast }\n').message).toMatch(
      /^scenario 'se\.yaml' line 3, field 'stages': --stage 1 eps 'fast' must be a number/,
    );
  });

  test('a value of the wrong type, an empty value, a bad group', () => {
    expect(refused('t.yaml', 'agents: [1, 2]\n').message).toBe("scenario 't.yaml' line 1: field 'agents': must be a string or a number (as --agents takes it)");
    expect(refused('q.yaml', 'agents: 3\nquiet: yes please\n').message).toBe("scenario 'q.yaml' line 2: field 'quiet': must be true or false");
    expect(refused('e.yaml', 'agents:\ntarget: { cluster: 2 }\n').message).toBe("scenario 'e.yaml' line 1: field 'agents': has no value");
    expect(refused('b.yaml', 'agents: 3\ntarget: node1\n').message).toMatch(/^scenario 'b\.yaml' line 2: field 'target': must be a mapping \(target: \{ manager \| cluster \| config: \.\.\. \}\)/);
    expect(refused('k.yaml', 'agents: 3\ntarget: { cluster: 2, keys: x }\n').message).toMatch(/^scenario 'k\.yaml' line 2: field 'target\.keys': unknown field/);
  });

  test('broken YAML and JSON give the line and column', () => {
    expect(refused('y.yaml', 'agents: 3\ntarget: { cluster: 2\n').message).toMatch(/^scenario 'y\.yaml' line \d+, column \d+: not valid YAML: /);
    expect(refused('j.json', '{\n  "agents": 3,\n  "target": {"cluster": 2\n').message).toMatch(/^scenario 'j\.json' line \d+, column \d+: not valid JSON: /);
    expect(refused('k.json', '{\n  "agents": 3,\n  "target": }\n').message).toMatch(/^scenario 'k\.json': not valid JSON: /);
    expect(refused('d.yaml', 'agents: 3\nagents: 4\n').message).toMatch(/^scenario 'd\.yaml' line 2, column 1: not valid YAML: Map keys must be unique/);
    expect(refused('l.yaml', '- agents: 3\n').message).toBe("scenario 'l.yaml' line 1: the file must hold a mapping of fields (agents: 100, target: { cluster: 3 }, ...)");
  });

  test('a missing file', () => {
    expect(() => parseSimulateArgs(['--scenario', 'nope.yaml'], { cwd: dir })).toThrow(/^--scenario 'nope\.yaml': cannot read the file \(ENOENT\)$/);
  });
});
