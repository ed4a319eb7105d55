/**
 * The agentlink fleet simulator (`agentlink/simulator`): the Fleet, metrics that merge across
 * workers and shards, the JSON and HTML reports, workloads, live progress, the `simulate` flag
 * parser, and the chaos vocabulary with its runner (one {@link ChaosStep} union for `--chaos`, the
 * demo and the reliability soak).
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
  nextSample,
} from './metrics.js';
export type {
  LatencySummary,
  LatencyBin,
  CdfPoint,
  HistogramName,
  FleetCounters,
  FleetEventCounts,
  TimelinePoint,
  FleetGauges,
  MetricsSnapshot,
  FleetMetricsOptions,
} from './metrics.js';
export { REPORT_FORMAT, createReport, mergeReports, parseReport, stringifyReport, agentlinkVersion, describeChaosEvent } from './report.js';
export type { FleetReport, ReportInput, ChaosEvent, LimitHit, ShardInfo } from './report.js';
export { loopDelayWarning, LOOP_DELAY_WARN_P99_MS } from './loop-delay.js';
export type { LoopDelay } from './loop-delay.js';
export { renderHtmlReport, plotRowsOf, whyNoFailovers, chaosMarkers } from './html.js';
export type { HtmlReportOptions } from './html.js';
export {
  chartKit,
  charts,
  renderLineChart,
  renderStackedChart,
  renderSmallMultiples,
  renderDistributionChart,
  escapeHtml,
  niceTicks,
  formatElapsed,
  thinPoints,
} from './charts.js';
export type { ChartKit, ChartOptions, ChartSeries, ChartMarker, ChartBin, ChartCdfPoint, PlotRow, PlotContext } from './charts.js';
export { createWorkload, workloadFactory, SeededRandom, WORKLOAD_NAMES, LOG_QUEUE, SYSCHECK_QUEUE, DEFAULT_MIX } from './workloads.js';
export type { Workload, WorkloadEvent, WorkloadOptions, WorkloadFactory } from './workloads.js';
export { ProgressReporter, renderSummaryTable, formatProgressLine, formatProgressBlock } from './progress.js';
export type { ProgressSnapshot, ProgressReporterOptions } from './progress.js';
export {
  parseSimulateArgs,
  parseHostPort,
  shardAgentIndexes,
  SIMULATE_USAGE,
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
export type { SimulateConfig, SimulateTarget, HostPort } from './flags.js';
export { parseFlagDuration, translateParseArgsError, suggestFlag } from './flag-values.js';
export { CHAOS_ACTIONS, PATH_ACTIONS, NODE_SELECTORS, parseChaos, parseChaosStep, formatChaosStep, needsFaultPaths } from './chaos/steps.js';
export type {
  ChaosStep,
  ChaosAction,
  NodeChaosStep,
  KillStep,
  RestartStep,
  HangStep,
  BlackholeStep,
  LatencyStep,
  ResetStep,
  CutStep,
  ForceReconnectStep,
  RebalanceStep,
  AddNodeStep,
  RemoveNodeStep,
} from './chaos/steps.js';
export { planChaos, resolveChaosSettings, DEFAULT_CHAOS_SETTINGS } from './chaos/plan.js';
export type { ChaosSettings, PlanChaosOptions } from './chaos/plan.js';
export { ChaosRunner } from './chaos/runner.js';
export type { ChaosRunnerOptions, ChaosTarget, NodeJoin, NodeLeave, PathFault } from './chaos/runner.js';
export { settle, accountEvents } from './settle.js';
export type { SettleOptions, SettleResult, EventCounts, EventAccount } from './settle.js';
export { Fleet } from './fleet.js';
export { FLEET_TRANSITIONS } from './fleet-types.js';
export type {
  FleetOptions,
  FleetServer,
  FleetClientOptions,
  FleetProgress,
  FleetTotals,
  FleetStopOptions,
  FleetEvents,
  FleetState,
} from './fleet-types.js';
export { resourceLimitOf } from './limits.js';
export type { ResourceLimit } from './limits.js';
export { simulate } from './run.js';
export type { EffectiveConfig, EffectiveServer } from './effective-config.js';
export { LoadSchedule, parseStage, formatStage } from './stages.js';
export type { Stage } from './stages.js';
export { TimeSeriesWriter } from './time-series.js';
export type { TimeSeriesLine } from './time-series.js';
export {
  ThresholdError,
  parseThreshold,
  parseThresholds,
  judgeThreshold,
  judgeThresholds,
  judgeableLive,
  failedLive,
  thresholdFields,
  renderVerdictTable,
  LIVE_FIELDS,
} from './thresholds.js';
export type { Threshold, ThresholdOp, Verdict, Verdicts, LiveCounts } from './thresholds.js';
export { CLUSTER_PROCESS_THRESHOLD } from './target.js';
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
export { PrometheusExporter, PrometheusMetrics } from './prometheus.js';
export type { PrometheusValues, PrometheusExporterOptions } from './prometheus.js';
export { Dashboard, LiveEndpoints, renderDashboardPage, dashboardSample, dashboardFinal, percentilesOf, mergeEncoded } from './dashboard.js';
export type { DashboardOptions, DashboardSample, DashboardFinal, DashboardPercentiles, LiveEndpointsConfig } from './dashboard.js';
export { DEFAULT_HTTP_HOST, exposureWarning, isLoopback } from './http-listen.js';
export { membershipThroughBalancer, SIMULATOR_REBALANCER_OPTIONS, startBalancerForCluster } from './lb.js';
export type { LbKind, BalancedCluster, ClusterNodeEndpoint, ClusterBalancerOptions, ClusterBalancer, LbReport } from './lb.js';
