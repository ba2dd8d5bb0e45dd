import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { QueryObserver } from '../storage/index.js';

/** Prometheus metrics of one server; a registry per server keeps test servers apart. */
export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestDuration: Histogram<'method' | 'route'>;
  readonly observeStore: QueryObserver;
  /** Called with each group-commit batch: its number of units and how long the durable write took. */
  readonly observeBatch: (units: number, seconds: number) => void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'custos_' });
  const requests = new Counter({
    name: 'custos_http_requests_total',
    help: 'HTTP requests by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'custos_http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const storeDuration = new Histogram({
    name: 'custos_store_duration_seconds',
    help: 'Database round trips by kind (read, write, whole transaction)',
    labelNames: ['kind'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  const batchUnits = new Histogram({
    name: 'custos_group_commit_units',
    help: 'Units written per group-commit batch (one durable commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'custos_group_commit_seconds',
    help: 'Duration of a group-commit batch write, until durable',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  return {
    registry,
    observeBatch: (units, seconds) => {
      batchUnits.observe(units);
      batchSeconds.observe(seconds);
    },
    requests,
    requestDuration,
    observeStore: (kind, seconds) => storeDuration.observe({ kind }, seconds),
  };
}
