/**
 * The load schedule of a run: when each agent starts (and stops), and how many events each agent
 * owes by a given time. Without stages it is the constant schedule of `--ramp` and `--eps`; with
 * stages (`--stage` / a scenario's `stages`) it is k6's ramping model: each stage moves the
 * number of running agents linearly from the previous stage's target (0 before the first) to its
 * own, and holds its `eps` per agent for its duration.
 *
 * The model is open: an agent's k-th event is due at a time fixed by the schedule alone, and the
 * fleet sends every event that is due whether or not the managers keep up, so a slow manager
 * shows up as queued and dropped events and late ACKs, never as a quietly lower rate.
 *
 * @module
 */
import { parseFlagDuration, parseInteger, parseNumber, usage } from './flag-values.js';

/** One stage of a run. */
export interface Stage {
  /** How long it lasts, in milliseconds. */
  durationMs: number;
  /** Agents running at its end, reached linearly from the previous stage's (0 before the first); absent: the previous stage's. */
  agents?: number;
  /** Events per second per agent during the stage; absent: the previous stage's (or `--eps`). */
  eps?: number;
}

/**
 * Parses one `--stage DURATION[,agents=N][,eps=N]` value (`30s,agents=500,eps=2`).
 *
 * @param text - the value.
 * @param n - the stage's 1-based number, for errors.
 * @returns the stage.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the stage and the part at fault.
 */
export function parseStage(text: string, n: number): Stage {
  const [durationText = '', ...parts] = text.split(',').map((p) => p.trim());
  const flag = `--stage ${n}`;
  const stage: Stage = { durationMs: parseFlagDuration(durationText, `${flag} duration`) };
  if (stage.durationMs <= 0) throw usage(`${flag} '${text}': the duration must be longer than 0, e.g. --stage 30s,agents=100,eps=1`);
  for (const part of parts) {
    const m = /^(agents|eps)\s*=\s*(.*)$/.exec(part);
    if (!m) throw usage(`${flag} '${text}': '${part}' is not agents=N or eps=N; write --stage DURATION[,agents=N][,eps=N], e.g. --stage 30s,agents=100,eps=1`);
    if (m[1] === 'agents') stage.agents = parseInteger(m[2]!, `${flag} agents`, 0, 1_000_000, '100');
    else stage.eps = parseNumber(m[2]!, `${flag} eps`, 0, 1_000_000, '1.5');
  }
  return stage;
}

/** The text form of a stage, as {@link parseStage} reads it. */
export function formatStage(stage: Stage): string {
  return [`${stage.durationMs}ms`, ...(stage.agents !== undefined ? [`agents=${stage.agents}`] : []), ...(stage.eps !== undefined ? [`eps=${stage.eps}`] : [])].join(',');
}

/** A piece of the agents-over-time line: from `t0` to `t1` ms, `a0` to `a1` agents. */
interface Segment {
  t0: number;
  t1: number;
  a0: number;
  a1: number;
}

/**
 * When each agent runs and how many events it owes: the constant `--ramp`/`--eps` schedule, or the
 * stages'. All times in milliseconds since the start of the run.
 */
export class LoadSchedule {
  /** Whether any agent stops before the end (a stage lowers the agent count). */
  readonly stops: boolean;
  /** Whether any event is ever due. */
  readonly sends: boolean;
  /** Run length the stages add up to; undefined without stages. */
  readonly totalMs: number | undefined;
  readonly #rate: number;
  readonly #eps: number;
  /** Stage boundaries and the events per agent due from 0 to each boundary. */
  readonly #ends: number[] = [];
  readonly #epsOf: number[] = [];
  readonly #cumulative: number[] = [];
  readonly #segments: Segment[] = [];

  /**
   * @param options - `--ramp` (agents per second, 0 all at once), `--eps`, and the stages if any.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the stages raise the agent count again after lowering it
   *   (a stopped agent is not started again).
   */
  constructor(options: { rampPerSecond: number; eps: number; stages?: readonly Stage[] | undefined }) {
    this.#rate = options.rampPerSecond;
    this.#eps = options.eps;
    const stages = options.stages ?? [];
    if (stages.length === 0) {
      this.stops = false;
      this.sends = options.eps > 0;
      this.totalMs = undefined;
      return;
    }
    const follows = stages.some((s) => s.agents !== undefined);
    let t = 0;
    let eps = options.eps;
    let agents = 0;
    let cum = 0;
    let fell = false;
    let stops = false;
    for (const [i, s] of stages.entries()) {
      eps = s.eps ?? eps;
      const target = s.agents ?? agents;
      if (target < agents) fell = stops = true;
      else if (target > agents && fell) {
        throw usage(`--stage ${i + 1} raises the agents to ${target} after an earlier stage lowered them: a stopped agent is not started again; keep the agents level or falling after the first fall`);
      }
      if (follows) this.#segments.push({ t0: t, t1: t + s.durationMs, a0: agents, a1: target });
      agents = target;
      cum += (eps * s.durationMs) / 1000;
      t += s.durationMs;
      this.#ends.push(t);
      this.#epsOf.push(eps);
      this.#cumulative.push(cum);
    }
    this.stops = stops;
    this.sends = this.#epsOf.some((e) => e > 0);
    this.totalMs = t;
    if (!follows) this.#segments.length = 0;
  }

  /** Whether the stages decide when agents start (some stage has `agents`). */
  get followsStages(): boolean {
    return this.#segments.length > 0;
  }

  /**
   * @param index - the agent's 0-based index in the whole fleet.
   * @returns when it starts: when the stages' agent count first exceeds the index, or at `--ramp`.
   *   Infinity when the stages never run that many agents.
   */
  startAt(index: number): number {
    if (!this.followsStages) return this.#rate > 0 ? (index / this.#rate) * 1000 : 0;
    const need = index + 1;
    for (const s of this.#segments) {
      if (s.a1 >= need && s.a1 > s.a0) return s.a0 >= need ? s.t0 : s.t0 + ((need - s.a0) / (s.a1 - s.a0)) * (s.t1 - s.t0);
      if (s.a0 >= need) return s.t0;
    }
    return Infinity;
  }

  /**
   * @param index - the agent's 0-based index in the whole fleet.
   * @returns when it stops: when a falling stage takes the agent count to the index or below; Infinity when never.
   */
  stopAt(index: number): number {
    if (!this.stops) return Infinity;
    const need = index + 1;
    for (const s of this.#segments) {
      if (s.a1 < need && s.a0 >= need) return s.t0 + ((s.a0 - need + 1) / (s.a0 - s.a1)) * (s.t1 - s.t0);
    }
    return Infinity;
  }

  /**
   * Events one agent owes from the start of the run to `t` (fractional), so that the agent started
   * at `s` owes `eventsBy(t) - eventsBy(s)`.
   *
   * @param t - milliseconds since the start.
   * @returns the events per agent due in `[0, t]`.
   */
  eventsBy(t: number): number {
    if (this.totalMs === undefined) return (this.#eps * Math.max(0, t)) / 1000;
    let prevEnd = 0;
    let prevCum = 0;
    for (let i = 0; i < this.#ends.length; i++) {
      const end = this.#ends[i]!;
      if (t <= end) return prevCum + (this.#epsOf[i]! * Math.max(0, t - prevEnd)) / 1000;
      prevEnd = end;
      prevCum = this.#cumulative[i]!;
    }
    return prevCum;
  }

  /** The events per second per agent at `t`. */
  epsAt(t: number): number {
    if (this.totalMs === undefined) return this.#eps;
    const i = this.#ends.findIndex((end) => t < end);
    return this.#epsOf[i < 0 ? this.#epsOf.length - 1 : i]!;
  }
}
