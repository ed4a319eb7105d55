/**
 * Event generators for simulated agents (`--workload syslog|fim|mixed|FILE`): realistic syslog
 * lines, Wazuh 4.x FIM (syscheck) JSON events, a weighted mix, or a replayed JSONL/log file.
 *
 * Every generator is deterministic for a given seed and agent name (a seeded PRNG, never
 * `Math.random`), so shards and reruns produce the same events. Only the timestamps come from the
 * `now` option.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ToolError } from '../errors.js';

/** One event for `AgentClient.sendEvent`: `<queue>:<location>:<message>` on the wire. */
export interface WorkloadEvent {
  /** One-character queue: `1` for log lines, `8` for syscheck. */
  queue: string;
  /** Where the event comes from (a log file path, `syscheck`, ...). */
  location: string;
  /** The event text. */
  message: string;
}

/** An endless source of events for one agent. */
export interface Workload {
  /** What kind of workload this is (`syslog`, `fim`, `mixed`, `file`). */
  readonly kind: string;
  /** @returns the next event. */
  next(): WorkloadEvent;
}

/** Per-agent options of a workload. */
export interface WorkloadOptions {
  /** Run seed: the same seed and agent name give the same events. */
  seed: string | number;
  /** The agent's name (also the syslog host name). */
  agentName: string;
  /**
   * Wall clock for event timestamps, in milliseconds since the epoch.
   * @default Date.now
   */
  now?: () => number;
}

/** Builds the workload of one agent; from {@link workloadFactory}. */
export type WorkloadFactory = (options: WorkloadOptions) => Workload;

/** The built-in workload names; anything else given to `--workload` is a file path. */
export const WORKLOAD_NAMES = ['syslog', 'fim', 'mixed'] as const;

/** Queue of log lines read by logcollector (`LOCALFILE_MQ`). */
export const LOG_QUEUE = '1';
/** Queue of file integrity monitoring events (`SYSCHECK_MQ`). */
export const SYSCHECK_QUEUE = '8';

/**
 * A small, fast seeded pseudo-random generator (sfc32), seeded from SHA-256 of the seed text.
 * Not for secrets.
 */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed - any text or number; equal seeds give equal sequences.
   */
  constructor(seed: string | number) {
    const h = createHash('sha256').update(String(seed)).digest();
    this.#a = h.readUInt32LE(0);
    this.#b = h.readUInt32LE(4);
    this.#c = h.readUInt32LE(8);
    this.#d = h.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.#u32();
  }

  #u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** @returns a float in [0, 1). */
  next(): number {
    return this.#u32() / 4294967296;
  }

  /**
   * @param n - exclusive upper bound, at least 1.
   * @returns an integer in [0, n).
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * @param items - a non-empty list.
   * @returns one item, uniformly.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /**
   * Picks an index by weight.
   *
   * @param weights - non-negative weights with a positive sum.
   * @returns the chosen index.
   */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}

// ---------------------------------------------------------------------------------------------
// syslog

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const USERS = ['admin', 'ubuntu', 'deploy', 'jsmith', 'oracle', 'test', 'git', 'postgres', 'backup', 'www-data'];
const COMMANDS = [
  '/usr/bin/systemctl restart nginx',
  '/usr/bin/apt-get update',
  '/bin/cat /etc/shadow',
  '/usr/bin/journalctl -u sshd',
  '/usr/sbin/iptables -L -n',
  '/usr/bin/docker ps',
];
const CRON_JOBS = [
  'cd / && run-parts --report /etc/cron.hourly',
  'test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )',
  '/usr/local/bin/backup.sh > /dev/null 2>&1',
  '[ -x /usr/lib/php/sessionclean ] && /usr/lib/php/sessionclean',
  'command -v debian-sa1 > /dev/null && debian-sa1 1 1',
];

/** RFC 3164 timestamp: `Nov  2 06:21:08` (local time, day padded with a space). */
function rfc3164Time(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** An address from the documentation ranges (RFC 5737), so generated logs never name a real host. */
function remoteIp(r: SeededRandom): string {
  return `${r.pick(['192.0.2', '198.51.100', '203.0.113'])}.${1 + r.int(254)}`;
}

function fingerprint(r: SeededRandom): string {
  const bytes = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) bytes[i] = r.int(256);
  return bytes.toString('base64').replace(/=+$/, '');
}

interface SyslogTemplate {
  weight: number;
  file: '/var/log/auth.log' | '/var/log/syslog';
  line(r: SeededRandom, uptime: number): string;
}

const SYSLOG_TEMPLATES: SyslogTemplate[] = [
  {
    weight: 20,
    file: '/var/log/auth.log',
    line: (r) => `sshd[${1000 + r.int(60000)}]: Failed password for invalid user ${r.pick(USERS)} from ${remoteIp(r)} port ${1024 + r.int(64000)} ssh2`,
  },
  {
    weight: 10,
    file: '/var/log/auth.log',
    line: (r) => `sshd[${1000 + r.int(60000)}]: Failed password for root from ${remoteIp(r)} port ${1024 + r.int(64000)} ssh2`,
  },
  {
    weight: 6,
    file: '/var/log/auth.log',
    line: (r) =>
      `sshd[${1000 + r.int(60000)}]: Accepted publickey for ${r.pick(USERS)} from 10.0.${r.int(256)}.${1 + r.int(254)} port ${1024 + r.int(64000)} ssh2: ED25519 SHA256:${fingerprint(r)}`,
  },
  {
    weight: 6,
    file: '/var/log/auth.log',
    line: (r) => `sshd[${1000 + r.int(60000)}]: pam_unix(sshd:session): session opened for user ${r.pick(USERS)}(uid=${1000 + r.int(20)}) by (uid=0)`,
  },
  {
    weight: 8,
    file: '/var/log/auth.log',
    line: (r) => {
      const user = r.pick(USERS);
      return `sudo:   ${user} : TTY=pts/${r.int(4)} ; PWD=/home/${user} ; USER=root ; COMMAND=${r.pick(COMMANDS)}`;
    },
  },
  {
    weight: 3,
    file: '/var/log/auth.log',
    line: (r) => {
      const user = r.pick(USERS);
      return `sudo: pam_unix(sudo:auth): authentication failure; logname=${user} uid=${1000 + r.int(20)} euid=0 tty=/dev/pts/${r.int(4)} ruser=${user} rhost=  user=${user}`;
    },
  },
  {
    weight: 15,
    file: '/var/log/syslog',
    line: (r) => `CRON[${1000 + r.int(60000)}]: (root) CMD (${r.pick(CRON_JOBS)})`,
  },
  {
    weight: 10,
    file: '/var/log/syslog',
    line: (r, uptime) =>
      `kernel: [${uptime.toFixed(6).padStart(12, ' ')}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:${hex2(r)}:${hex2(r)}:${hex2(r)}:52:54:00:${hex2(r)}:${hex2(r)}:${hex2(r)}:08:00 SRC=${remoteIp(r)} DST=10.0.0.${1 + r.int(254)} LEN=${40 + r.int(1400)} TOS=0x00 PREC=0x00 TTL=${32 + r.int(200)} ID=${r.int(65536)} PROTO=TCP SPT=${1024 + r.int(64000)} DPT=${r.pick([22, 23, 80, 443, 445, 3389, 8080])} WINDOW=${r.int(65536)} RES=0x00 SYN URGP=0`,
  },
  {
    weight: 1,
    file: '/var/log/syslog',
    line: (r, uptime) =>
      `kernel: [${uptime.toFixed(6).padStart(12, ' ')}] Out of memory: Killed process ${1000 + r.int(60000)} (${r.pick(['java', 'node', 'postgres', 'chrome'])}) total-vm:${100000 + r.int(9000000)}kB, anon-rss:${10000 + r.int(4000000)}kB, file-rss:0kB, shmem-rss:0kB, UID:${r.pick([0, 33, 999, 1000])} pgtables:${r.int(20000)}kB oom_score_adj:0`,
  },
  {
    weight: 8,
    file: '/var/log/syslog',
    line: (r) => `systemd[1]: Started Session ${1 + r.int(5000)} of User ${r.pick(USERS)}.`,
  },
  {
    weight: 4,
    file: '/var/log/syslog',
    line: (r) => `systemd[1]: ${r.pick(['nginx', 'ssh', 'cron', 'docker', 'postgresql'])}.service: ${r.pick(['Deactivated successfully.', 'Main process exited, code=exited, status=1/FAILURE', 'Scheduled restart job, restart counter is at 1.'])}`,
  },
  {
    weight: 3,
    file: '/var/log/syslog',
    line: (r) => `dhclient[${1000 + r.int(60000)}]: DHCPACK of 10.0.0.${1 + r.int(254)} from 10.0.0.1 (xid=0x${r.int(2 ** 31).toString(16)})`,
  },
];
const SYSLOG_WEIGHTS = SYSLOG_TEMPLATES.map((t) => t.weight);

function hex2(r: SeededRandom): string {
  return r.int(256).toString(16).padStart(2, '0');
}

function syslogWorkload(options: WorkloadOptions): Workload {
  const r = new SeededRandom(`${options.seed}\0syslog\0${options.agentName}`);
  const now = options.now ?? Date.now;
  const bootAt = now() - (3600 + r.int(30 * 86400)) * 1000;
  const host = options.agentName;
  return {
    kind: 'syslog',
    next(): WorkloadEvent {
      const t = SYSLOG_TEMPLATES[r.weighted(SYSLOG_WEIGHTS)]!;
      const at = now();
      return { queue: LOG_QUEUE, location: t.file, message: `${rfc3164Time(at)} ${host} ${t.line(r, (at - bootAt) / 1000)}` };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// FIM (syscheck)

interface FimFile {
  path: string;
  perm: string;
  uid: string;
  gid: string;
  user: string;
  group: string;
  baseSize: number;
}

const FIM_FILES: FimFile[] = [
  { path: '/etc/passwd', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 2400 },
  { path: '/etc/shadow', perm: 'rw-r-----', uid: '0', gid: '42', user: 'root', group: 'shadow', baseSize: 1300 },
  { path: '/etc/group', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 900 },
  { path: '/etc/hosts', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 220 },
  { path: '/etc/sudoers', perm: 'r--r-----', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 1800 },
  { path: '/etc/ssh/sshd_config', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 3300 },
  { path: '/etc/crontab', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 1100 },
  { path: '/root/.ssh/authorized_keys', perm: 'rw-------', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 400 },
  { path: '/usr/bin/ls', perm: 'rwxr-xr-x', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 138000 },
  { path: '/usr/sbin/sshd', perm: 'rwxr-xr-x', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 921000 },
  { path: '/var/www/html/index.php', perm: 'rw-r--r--', uid: '33', gid: '33', user: 'www-data', group: 'www-data', baseSize: 5200 },
  { path: '/etc/systemd/system/backdoor.service', perm: 'rw-r--r--', uid: '0', gid: '0', user: 'root', group: 'root', baseSize: 300 },
];

/** Wazuh 4.x `attributes` / `old_attributes` object of a syscheck event. */
interface FimAttributes {
  type: 'file';
  size: number;
  perm: string;
  uid: string;
  gid: string;
  user_name: string;
  group_name: string;
  inode: number;
  mtime: number;
  hash_md5: string;
  hash_sha1: string;
  hash_sha256: string;
  checksum: string;
}

function digest(algorithm: string, text: string): string {
  return createHash(algorithm).update(text).digest('hex');
}

function fimAttributes(file: FimFile, version: number, size: number, perm: string, inode: number, mtime: number): FimAttributes {
  const content = `${file.path}\0${version}\0${size}`;
  const attrs: Omit<FimAttributes, 'checksum'> = {
    type: 'file',
    size,
    perm,
    uid: file.uid,
    gid: file.gid,
    user_name: file.user,
    group_name: file.group,
    inode,
    mtime,
    hash_md5: digest('md5', content),
    hash_sha1: digest('sha1', content),
    hash_sha256: digest('sha256', content),
  };
  return { ...attrs, checksum: digest('sha1', JSON.stringify(attrs)) };
}

interface FimState {
  version: number;
  size: number;
  perm: string;
  inode: number;
  exists: boolean;
}

function fimWorkload(options: WorkloadOptions): Workload {
  const r = new SeededRandom(`${options.seed}\0fim\0${options.agentName}`);
  const now = options.now ?? Date.now;
  const states = FIM_FILES.map<FimState>((f) => ({ version: 0, size: f.baseSize + r.int(100), perm: f.perm, inode: 100000 + r.int(9_000_000), exists: true }));
  return {
    kind: 'fim',
    next(): WorkloadEvent {
      const i = r.int(FIM_FILES.length);
      const file = FIM_FILES[i]!;
      const st = states[i]!;
      const ts = Math.floor(now() / 1000);
      const mode = r.pick(['scheduled', 'realtime', 'realtime', 'whodata']);
      let type: 'added' | 'modified' | 'deleted';
      if (!st.exists) type = 'added';
      else type = r.next() < 0.9 ? 'modified' : 'deleted';
      const old = fimAttributes(file, st.version, st.size, st.perm, st.inode, ts - 60 - r.int(86400));
      const data: Record<string, unknown> = { path: file.path, version: 2, mode, type, timestamp: ts };
      if (type === 'added') {
        st.exists = true;
        st.version++;
        st.inode = 100000 + r.int(9_000_000);
        data.attributes = fimAttributes(file, st.version, st.size, st.perm, st.inode, ts);
      } else if (type === 'deleted') {
        st.exists = false;
        data.attributes = old;
      } else {
        const changePerm = r.next() < 0.15;
        st.version++;
        st.size = Math.max(0, st.size + r.int(400) - 150);
        if (changePerm) st.perm = st.perm === file.perm ? 'rwxrwxrwx' : file.perm;
        const current = fimAttributes(file, st.version, st.size, st.perm, st.inode, ts);
        const changed: string[] = [];
        if (current.size !== old.size) changed.push('size');
        if (current.perm !== old.perm) changed.push('permission');
        changed.push('mtime', 'md5', 'sha1', 'sha256');
        data.changed_attributes = changed;
        data.old_attributes = old;
        data.attributes = current;
      }
      return { queue: SYSCHECK_QUEUE, location: 'syscheck', message: JSON.stringify({ type: 'event', data }) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// mixed

/** Default weights of `--workload mixed`: 9 syslog lines for 1 FIM event. */
export const DEFAULT_MIX = { syslog: 9, fim: 1 } as const;

function parseMix(spec: string): { syslog: number; fim: number } {
  if (spec === 'mixed') return { ...DEFAULT_MIX };
  const mix = { syslog: 0, fim: 0 };
  for (const part of spec.slice('mixed:'.length).split(',')) {
    const m = /^(syslog|fim)=(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!m) {
      throw new ToolError(`--workload '${spec}': '${part}' is not a weight; write mixed:syslog=9,fim=1`, 'ERR_USAGE');
    }
    mix[m[1] as 'syslog' | 'fim'] = Number(m[2]);
  }
  if (mix.syslog + mix.fim <= 0) throw new ToolError(`--workload '${spec}': the weights add up to 0; give at least one positive weight`, 'ERR_USAGE');
  return mix;
}

function mixedWorkload(options: WorkloadOptions, mix: { syslog: number; fim: number }): Workload {
  const r = new SeededRandom(`${options.seed}\0mixed\0${options.agentName}`);
  const syslog = syslogWorkload(options);
  const fim = fimWorkload(options);
  const weights = [mix.syslog, mix.fim];
  return {
    kind: 'mixed',
    next: () => (r.weighted(weights) === 0 ? syslog.next() : fim.next()),
  };
}

// ---------------------------------------------------------------------------------------------
// file replay

function loadReplayFile(spec: string, cwd: string): WorkloadEvent[] {
  const path = resolve(cwd, spec);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ToolError(
      `--workload '${spec}': cannot read the file (${code}); give syslog, fim, mixed, or a JSONL file of {"queue","location","message"} lines`,
      'ERR_USAGE',
      { cause: err },
    );
  }
  const events: WorkloadEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (!line.trimStart().startsWith('{')) {
      events.push({ queue: LOG_QUEUE, location: path, message: line });
      continue;
    }
    const where = `--workload '${spec}' line ${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new ToolError(`${where}: not valid JSON (${(err as Error).message})`, 'ERR_USAGE', { cause: err });
    }
    const o = obj as Record<string, unknown>;
    const queue = o.queue === undefined ? LOG_QUEUE : String(o.queue);
    if (queue.length !== 1) throw new ToolError(`${where}: "queue" must be one character such as "1" or "8", got ${JSON.stringify(o.queue)}`, 'ERR_USAGE');
    if (typeof o.location !== 'string' || o.location === '') throw new ToolError(`${where}: "location" must be a non-empty string`, 'ERR_USAGE');
    if (typeof o.message !== 'string') {
      throw new ToolError(`${where}: "message" must be a string (put JSON messages in a string)`, 'ERR_USAGE');
    }
    events.push({ queue, location: o.location, message: o.message });
  }
  if (events.length === 0) throw new ToolError(`--workload '${spec}': the file has no events`, 'ERR_USAGE');
  return events;
}

function replayWorkload(options: WorkloadOptions, events: readonly WorkloadEvent[]): Workload {
  // each agent starts at its own (seeded) line, so a fleet does not send the same line in lockstep
  let i = new SeededRandom(`${options.seed}\0file\0${options.agentName}`).int(events.length);
  return {
    kind: 'file',
    next(): WorkloadEvent {
      const e = events[i]!;
      i = (i + 1) % events.length;
      return { ...e };
    },
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Parses a `--workload` value once and returns a factory that builds each agent's workload (a
 * replay file is read once, here).
 *
 * @param spec - `syslog`, `fim`, `mixed`, `mixed:syslog=9,fim=1`, or a file path (JSONL lines
 *   `{ "queue"?, "location", "message" }` or raw log lines, replayed in a cycle).
 * @param options - `cwd` to resolve a file path against (default `process.cwd()`).
 * @returns the factory.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for bad weights, an unreadable file, or a bad line (named by number).
 */
export function workloadFactory(spec: string, options: { cwd?: string } = {}): WorkloadFactory {
  if (spec === 'syslog') return syslogWorkload;
  if (spec === 'fim') return fimWorkload;
  if (spec === 'mixed' || spec.startsWith('mixed:')) {
    const mix = parseMix(spec);
    return (o) => mixedWorkload(o, mix);
  }
  if (spec.trim() === '') throw new ToolError('--workload is empty; give syslog, fim, mixed or a file path', 'ERR_USAGE');
  const events = loadReplayFile(spec, options.cwd ?? process.cwd());
  return (o) => replayWorkload(o, events);
}

/**
 * Builds one agent's workload.
 *
 * @param spec - see {@link workloadFactory}.
 * @param options - seed, agent name and clock.
 * @returns the workload; `next()` gives `{ queue, location, message }`.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` as {@link workloadFactory}.
 * @example
 * ```ts
 * const w = createWorkload('syslog', { seed: 42, agentName: 'sim-001' });
 * agent.sendEvent(w.next());
 * ```
 */
export function createWorkload(spec: string, options: WorkloadOptions): Workload {
  return workloadFactory(spec)(options);
}
