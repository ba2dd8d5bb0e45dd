import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DETECTOR_IDS, SEVERITIES } from './settings.js';

/** The monitor's Prometheus metrics, registered with the server's registry. */
export interface MonitorMetrics {
  /** Activity events the detectors processed. */
  readonly events: Counter;
  /** Signals per detector (before de-duplication into findings). */
  readonly signals: Counter<'detector'>;
  /** New findings per detector and severity. */
  readonly findings: Counter<'detector' | 'severity'>;
  /** Automatic responses taken, by action. */
  readonly responses: Counter<'action'>;
  /** Deliveries attempted, by channel and outcome. */
  readonly deliveries: Counter<'channel' | 'outcome'>;
  /** Deliveries not yet acknowledged by their receiver. */
  readonly pending: Gauge;
  /** How far behind the audit log the pipeline is: now − time of the last event processed. */
  readonly lag: Gauge;
  /** Seconds per pipeline batch (read, detect, commit). */
  readonly batch: Histogram;
}

export function createMonitorMetrics(registry: Registry): MonitorMetrics {
  const registers = [registry];
  const signals = new Counter({
    name: 'custos_monitor_signals_total',
    help: 'Detector signals (repeats within the cooldown are not counted), by detector',
    labelNames: ['detector'] as const,
    registers,
  });
  const findings = new Counter({
    name: 'custos_monitor_findings_total',
    help: 'New findings, by detector and severity',
    labelNames: ['detector', 'severity'] as const,
    registers,
  });
  // every detector shows up at 0 from the start, so rates and alerts work before the first finding
  for (const detector of DETECTOR_IDS) {
    signals.inc({ detector }, 0);
    for (const severity of SEVERITIES) findings.inc({ detector, severity }, 0);
  }
  return {
    events: new Counter({
      name: 'custos_monitor_events_total',
      help: 'Activity events processed by the detectors',
      registers,
    }),
    signals,
    findings,
    responses: new Counter({
      name: 'custos_monitor_responses_total',
      help: 'Automatic responses to findings, by action',
      labelNames: ['action'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'custos_monitor_deliveries_total',
      help: 'Alert and SET deliveries attempted, by channel and outcome',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'custos_monitor_deliveries_pending',
      help: 'Alerts and SETs not yet acknowledged by their receiver',
      registers,
    }),
    lag: new Gauge({
      name: 'custos_monitor_lag_seconds',
      help: 'Time between the last processed audit event and its processing (0 when caught up)',
      registers,
    }),
    batch: new Histogram({
      name: 'custos_monitor_batch_seconds',
      help: 'Duration of one pipeline batch: read, detect, commit findings and cursor',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}
