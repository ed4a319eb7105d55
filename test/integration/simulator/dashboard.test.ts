/**
 * The dashboard's HTTP server on real sockets: where it listens, what `/`, `/events` and
 * `/metrics` answer, and the warning when it is told to listen beyond this machine.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Dashboard, LiveEndpoints, PrometheusMetrics, dashboardSample, mergeEncoded } from 'agentlink/simulator';
import { LatencyHistogram } from '../../../src/simulator/metrics.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** Reads `/events` until `count` events have arrived; returns them parsed. */
function readEvents(url: string, count: number): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/events', url), (res) => {
      let buf = '';
      const out: { event: string; data: unknown }[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          out.push({ event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) });
          if (out.length === count) {
            req.destroy();
            resolve(out);
          }
        }
      });
    });
    req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
    req.end();
  });
}

const sample = (t: number, generated: number) =>
  dashboardSample({
    t,
    agents: 2,
    connected: 2,
    reconnecting: 0,
    perNode: { node1: 2 },
    generated,
    accepted: generated,
    written: generated,
    received: generated,
    dropped: 0,
    connect: new LatencyHistogram(),
    failover: new LatencyHistogram(),
    markers: [],
    previous: undefined,
  });

describe('Dashboard', () => {
  it('listens on 127.0.0.1 and serves the page, the event stream (history first) and the metrics', async () => {
    const metrics = new PrometheusMetrics();
    metrics.update({ connected: 7, reconnecting: 0, perNode: { node1: 7 }, eventsGenerated: 5, eventsAccepted: 4, eventsWritten: 3, eventsReceived: 2, eventsDropped: 1 });
    const dash = await Dashboard.start(0, { metrics });
    closers.push(() => dash.close());
    expect(dash.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await fetch(dash.url);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    // self-contained: no external script, style or font
    expect(html).not.toMatch(/<script[^>]+src=|<link|@import|url\(|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toMatch(/EventSource\(["'`]\/events["'`]\)/);

    dash.publish(sample(1000, 10));
    const events = readEvents(dash.url, 3);
    await expect.poll(() => dash.clients).toBe(1);
    dash.publish(sample(2000, 25));
    dash.finish({ agents: { total: 2, connected: 2 }, distribution: { node1: 2 }, events: { generated: 25, accepted: 25, written: 25, received: 25, dropped: 0 }, failover: { count: 0, p99Ms: 0 }, connect: { p99Ms: 4 } } as never);
    const [hello, next, final] = await events;
    expect(hello!.event).toBe('hello');
    expect((hello!.data as { history: { totals: { generated: number } }[] }).history.map((h) => h.totals.generated)).toEqual([10]);
    expect(next!.event).toBe('sample');
    expect((next!.data as { totals: { generated: number } }).totals.generated).toBe(25);
    expect(final).toEqual({ event: 'final', data: expect.objectContaining({ generated: 25, accepted: 25, written: 25, connected: 2, failovers: 0 }) });

    const scraped = await fetch(new URL('/metrics', dash.url)).then((r) => r.text());
    expect(scraped).toMatch(/agentlink_agents_connected 7\b/);
    const counters = { generated: 5, accepted: 4, written: 3, received: 2, dropped: 1 };
    for (const [name, n] of Object.entries(counters)) expect(scraped).toMatch(new RegExp(`^agentlink_events_${name}_total ${n}$`, 'm'));
    expect(scraped).toContain('# HELP agentlink_events_written_total Events the simulated agents wrote to their connections (each once, retransmissions not counted)');
    expect(scraped).not.toContain('agentlink_events_sent_total');
    expect((await fetch(new URL('/nope', dash.url))).status).toBe(404);
  });

  it('a sample says events per second over the interval since the previous one, from the start for the first', () => {
    const first = sample(2000, 10);
    expect(first.generated).toBe(5);
    const connect = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) connect.record(i);
    const second = dashboardSample({ ...first, generated: 40, accepted: 40, written: 40, received: null, dropped: 0, connect, failover: mergeEncoded([]), markers: [], previous: first, t: 4000 });
    expect(second.generated).toBe(15);
    expect(second.received).toBeNull();
    expect(second.connect.count).toBe(100);
    expect(second.connect.p99).toBeGreaterThanOrEqual(98);
    expect(second.failover).toEqual({ count: 0, p50: null, p90: null, p99: null });
  });

  it('histograms of several worker processes merge exactly', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.record(10);
    b.record(1000);
    b.record(1000);
    const merged = mergeEncoded([a.encode(), undefined, b.encode()]);
    expect(merged.summary().count).toBe(3);
  });
});

describe('LiveEndpoints', () => {
  it('warns when the dashboard or the Prometheus endpoint listens beyond this machine, not on 127.0.0.1', async () => {
    const lines: string[] = [];
    const local = await LiveEndpoints.start({ dashboardPort: 0, prometheusPort: 0 }, (l) => lines.push(l));
    closers.push(() => local.close());
    expect(lines.filter((l) => l.startsWith('warning'))).toEqual([]);
    expect(lines).toEqual([expect.stringMatching(/^Prometheus metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/), expect.stringMatching(/^live dashboard at http:\/\/127\.0\.0\.1:\d+\/$/)]);

    const wide: string[] = [];
    const open = await LiveEndpoints.start({ dashboardPort: 0, dashboardHost: '0.0.0.0', prometheusPort: 0, prometheusHost: '0.0.0.0' }, (l) => wide.push(l));
    closers.push(() => open.close());
    expect(wide.filter((l) => l.startsWith('warning'))).toEqual([
      'warning: the Prometheus endpoint listens on 0.0.0.0 (--prometheus-host): anyone who can reach this address sees the agent names and the cluster addresses',
      'warning: the dashboard listens on 0.0.0.0 (--dashboard-host): anyone who can reach this address sees the agent names and the cluster addresses',
    ]);
  });

  it('a port in use is an ERR_LISTEN that names --dashboard', async () => {
    const first = await Dashboard.start(0);
    closers.push(() => first.close());
    const port = Number(new URL(first.url).port);
    await expect(LiveEndpoints.start({ dashboardPort: port }, () => {})).rejects.toMatchObject({ code: 'ERR_LISTEN', message: expect.stringContaining('--dashboard') });
  });
});
