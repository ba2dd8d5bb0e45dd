export type { DailyCounts, DashboardDeps, DashboardOptions, DashboardSummary } from './dashboard.js';
export { dashboardSummary } from './dashboard.js';
export type { ConsoleAsset, ConsoleAssets } from './static-assets.js';
export { DEFAULT_CONSOLE_DIR, loadConsoleAssets } from './static-assets.js';
