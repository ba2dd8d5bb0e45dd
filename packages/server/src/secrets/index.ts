export type { MasterKey } from './seal.js';
export { masterKeyFrom, seal, sealedWith, unseal } from './seal.js';
export type { SecretInfo, VaultDeps } from './vault.js';
export { deleteSecret, getSecretInfo, listSecrets, revealSecret, rewrapAll, setSecret } from './vault.js';
