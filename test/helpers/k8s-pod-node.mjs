/**
 * Stands in for the image's `node` when test/e2e/k8s.test.ts runs a container's command line as a
 * pod would (first on PATH, through a small `node` script). The image is Node.js with this
 * repository at /app, so `/app/...` maps to the repository root. For `agentlink simulate` it:
 *
 * 1. parses the command line exactly as written in the manifest with the real flag parser (a bad
 *    flag exits 2, as the CLI would), and appends what it parsed (shard, report path) to
 *    `$POD_LOG` as one JSON line;
 * 2. runs the real CLI with the flags named in `$POD_OVERRIDE` (JSON, flag to value) replaced, so a
 *    20 000-agent, 15-minute shard becomes a few agents for a second against a local manager.
 *    Every flag to replace must be on the command line, so a changed manifest fails loudly.
 *
 * `$POD_CRASH=1` makes `simulate` exit with 3 before writing anything, as a crash would.
 * Anything else runs the real node with the same arguments.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2).map((a) => (a.startsWith('/app/') ? ROOT + a.slice('/app/'.length) : a));

function runReal(argv) {
  const r = spawnSync(process.execPath, argv, { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (!(args[0]?.endsWith('/bin/agentlink.js') && args[1] === 'simulate')) runReal(args);

const flags = args.slice(2);
const { parseSimulateArgs } = await import(`${ROOT}dist/src/simulator/index.js`);
let config;
try {
  config = parseSimulateArgs(flags);
} catch (err) {
  process.stderr.write(`agentlink simulate: ${err.message}\n`);
  process.exit(2);
}
appendFileSync(process.env.POD_LOG, `${JSON.stringify({ shard: config.shard, report: config.reportPath, agents: config.agents, target: config.target, startAt: config.startAt })}\n`);
if (process.env.POD_CRASH === '1') process.exit(3);

const overrides = JSON.parse(process.env.POD_OVERRIDE ?? '{}');
const scaled = [...flags];
for (const [flag, value] of Object.entries(overrides)) {
  const at = scaled.indexOf(flag);
  if (at < 0 || at + 1 >= scaled.length) {
    process.stderr.write(`k8s-pod-node: the command line has no ${flag} VALUE to replace\n`);
    process.exit(70);
  }
  scaled[at + 1] = value;
}
runReal([args[0], 'simulate', ...scaled]);
