export type { MasterKey } from './seal.js';
export { masterKeyFrom, seal, unseal } from './seal.js';
