/**
 * Gating for tests that need a real load balancer. A missing program skips the suite with a
 * visible reason ("SKIPPED: haproxy not installed (apt-get install haproxy)"); with
 * `AGENTLINK_REQUIRE_LB=1` (CI images that install the balancers) a missing program is a failure.
 */
import { describe, it } from 'vitest';
import { lbAvailability } from '../../src/testing/lb/index.js';
import type { LbAvailability, LbProgram } from '../../src/testing/lb/index.js';

/** Whether a suite can run, and why not. */
export interface LbRequirement {
  /** `true` when the program is missing and missing programs are allowed (suite skipped). */
  skip: boolean;
  /** `true` when the program is missing although `AGENTLINK_REQUIRE_LB=1` (suite must fail). */
  fail: boolean;
  /** Why the program cannot be used; empty when it can. */
  reason: string;
  /** Path of the program, when usable. */
  binary: string | undefined;
}

let cached: Promise<LbAvailability> | undefined;

/**
 * Checks whether `program` (nginx: with its stream module) is usable here.
 *
 * @param program - `haproxy` or `nginx`.
 * @param env - environment (for `AGENTLINK_REQUIRE_LB`).
 * @returns what to do with the suite.
 */
export async function lbRequirement(program: LbProgram, env: NodeJS.ProcessEnv = process.env): Promise<LbRequirement> {
  cached ??= lbAvailability();
  const found = await cached;
  let reason = '';
  if (program === 'haproxy' && found.haproxy === undefined) reason = 'haproxy not installed (apt-get install haproxy)';
  if (program === 'nginx' && found.nginx === undefined) reason = 'nginx not installed (apt-get install nginx libnginx-mod-stream)';
  else if (program === 'nginx' && !found.nginxStream) reason = 'nginx stream module not installed (apt-get install libnginx-mod-stream)';
  const missing = reason !== '';
  const required = env.AGENTLINK_REQUIRE_LB === '1';
  return { skip: missing && !required, fail: missing && required, reason, binary: program === 'haproxy' ? found.haproxy : found.nginx };
}

/**
 * `describe` that runs only where `program` is usable. Missing: the suite is skipped and its name
 * says why (and a warning is printed), or, with `AGENTLINK_REQUIRE_LB=1`, it holds one failing test
 * that gives the reason. Use with top-level await:
 *
 * ```ts
 * await describeIfLb('haproxy', 'HaproxyBalancer', () => { it(...) });
 * ```
 *
 * @param program - `haproxy` or `nginx`.
 * @param name - the suite name.
 * @param body - the suite.
 * @returns the requirement that was applied.
 */
export async function describeIfLb(program: LbProgram, name: string, body: () => void): Promise<LbRequirement> {
  const req = await lbRequirement(program);
  if (req.fail) {
    describe(name, () => {
      it(`requires ${program} (AGENTLINK_REQUIRE_LB=1)`, () => {
        throw new Error(`${req.reason}; AGENTLINK_REQUIRE_LB=1 makes a missing load balancer a failure`);
      });
    });
  } else if (req.skip) {
    console.warn(`[agentlink] ${name}: SKIPPED: ${req.reason}`);
    describe.skip(`${name} (SKIPPED: ${req.reason})`, body);
  } else {
    describe(name, body);
  }
  return req;
}
