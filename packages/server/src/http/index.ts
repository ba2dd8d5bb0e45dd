export type { AppOptions } from './app.js';
export { API_ROUTES, buildApp } from './app.js';
export type { AppDeps } from './deps.js';
export type { Metrics } from './metrics.js';
export { createMetrics } from './metrics.js';
export { buildOpenApi } from './openapi.js';
export { problemType, toProblem } from './problem.js';
export type { RunningServer, StartOptions } from './start-server.js';
export { createLogger, startServer, VERSION } from './start-server.js';
