/**
 * The agentlink fleet simulator (`agentlink/simulator`): metrics that merge across workers and
 * shards, the JSON and HTML reports, workloads, live progress, and the `simulate` flag parser.
 *
 * @module agentlink/simulator
 */
export {
  LatencyHistogram,
  FleetMetrics,
  mergeTimelines,
  HISTOGRAM_NAMES,
  HISTOGRAM_SIGNIFICANT_DIGITS,
  DEFAULT_TIMELINE_BUCKET_MS,
} from './metrics.js';
export type {
  LatencySummary,
  LatencyBin,
  CdfPoint,
  HistogramName,
  FleetCounters,
  TimelinePoint,
  FleetGauges,
  MetricsSnapshot,
  FleetMetricsOptions,
} from './metrics.js';
export { REPORT_FORMAT, createReport, mergeReports, parseReport, stringifyReport, agentlinkVersion } from './report.js';
export type { FleetReport, ReportInput, ChaosEvent, LimitHit, ShardInfo } from './report.js';
export { renderHtmlReport, renderLineChart, renderDistributionChart, escapeHtml, niceTicks, formatElapsed, thinPoints } from './html.js';
export type { HtmlReportOptions, ChartOptions, ChartSeries, ChartMarker } from './html.js';
export { createWorkload, workloadFactory, SeededRandom, WORKLOAD_NAMES, LOG_QUEUE, SYSCHECK_QUEUE, DEFAULT_MIX } from './workloads.js';
export type { Workload, WorkloadEvent, WorkloadOptions, WorkloadFactory } from './workloads.js';
export { ProgressReporter, renderSummaryTable, formatProgressLine, formatProgressBlock } from './progress.js';
export type { ProgressSnapshot, ProgressReporterOptions } from './progress.js';
export {
  parseSimulateArgs,
  parseChaos,
  parseHostPort,
  parseFlagDuration,
  shardAgentIndexes,
  translateParseArgsError,
  suggestFlag,
  SIMULATE_USAGE,
  CHAOS_ACTIONS,
  DEFAULT_RAMP_PER_SECOND,
  DEFAULT_EPS,
  DEFAULT_DURATION,
  DEFAULT_DRAIN,
  DEFAULT_SEED,
  MAX_AGENTS,
  MAX_CLUSTER_NODES,
  MAX_WORKERS,
  MAX_SOURCE_IPS,
} from './flags.js';
export type { SimulateConfig, SimulateTarget, ChaosStep, HostPort } from './flags.js';
export { Fleet, resourceLimitOf, nextSample } from './fleet.js';
export type {
  FleetOptions,
  FleetServer,
  FleetClientOptions,
  FleetProgress,
  FleetTotals,
  FleetStopOptions,
  FleetEvents,
  ResourceLimit,
} from './fleet.js';
export { simulate, CLUSTER_PROCESS_THRESHOLD } from './run.js';
export type { SimulateOptions, SimulationResult, SimulationChaosStep, ProgressStream } from './run.js';
export { startEmbeddedCluster } from './cluster-host.js';
export type { EmbeddedCluster, EmbeddedClusterOptions, ClusterRebalanceResult } from './cluster-host.js';
export {
  simulatedIdentity,
  simulatedIdentities,
  simulatedAgentName,
  loadKeysFile,
  sourceAddressFor,
  autoSourceAddresses,
  AGENTS_PER_SOURCE_ADDRESS,
  SIMULATED_NAME_PREFIX,
} from './identities.js';
export { PrometheusExporter } from './prometheus.js';
export type { PrometheusValues } from './prometheus.js';
export { startBalancerForCluster } from './lb.js';
export type { LbKind, BalancedCluster, ClusterNodeEndpoint, ClusterBalancerOptions, ClusterBalancer, LbReport } from './lb.js';
