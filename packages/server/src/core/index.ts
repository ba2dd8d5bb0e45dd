export type { Clock } from './clock.js';
export { manualClock, systemClock } from './clock.js';
export type { ErrorCode, FieldError } from './errors.js';
export { CustosError, invalid, notFound } from './errors.js';
export type { IdPrefix } from './ids.js';
export { isId, newId, randomToken } from './ids.js';
