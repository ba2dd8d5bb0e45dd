import { concurrentUse } from './concurrent-use.js';
import { dataVolumeSpike } from './data-volume-spike.js';
import { denyRateSpike } from './deny-rate-spike.js';
import type { Detector } from './detector.js';
import { exfiltrationSequence } from './exfiltration-sequence.js';
import { newResource } from './new-resource.js';
import { offHours } from './off-hours.js';
import { callRateSpike, tokenRateSpike } from './rate-spike.js';

export type { DetectContext, Detector, ResourceClassifier, Signal } from './detector.js';

/** Every detector, in the order they look at an event. */
export const DETECTORS: readonly Detector[] = [
  concurrentUse,
  exfiltrationSequence,
  newResource,
  callRateSpike,
  tokenRateSpike,
  denyRateSpike,
  dataVolumeSpike,
  offHours,
];
