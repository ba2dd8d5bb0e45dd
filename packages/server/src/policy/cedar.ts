/**
 * The one door to Cedar (`@cedar-policy/cedar-wasm`, the Node.js build). Every
 * other file goes through here, so the engine's use of Cedar is easy to audit.
 */
import { setFlagsFromString } from 'node:v8';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';

// Node 20's V8 (11.3) aborts the whole process ("Fatal error: unreachable code"
// in Deoptimizer::DoComputeBuiltinContinuation) when optimized code that
// inlined a JS-to-Wasm call is lazily deoptimized, which happens here after a
// policy reload changes the shapes the engine saw (reproduced by
// bench/policy-decision.bench.ts). Not inlining those calls avoids it, at no
// measurable cost: the call itself dominates. Set before any code calling Cedar
// is optimized.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export type {
  AuthorizationAnswer,
  CedarValueJson,
  Context,
  DetailedError,
  EntityJson,
  EntityUidJson,
  PolicyJson,
  PolicySet,
  SchemaJson,
  TemplateLink,
  TypeAndId,
  ValidationAnswer,
} from '@cedar-policy/cedar-wasm/nodejs';

export const cedar = {
  checkParseEntities: wasm.checkParseEntities,
  checkParsePolicySet: wasm.checkParsePolicySet,
  checkParseSchema: wasm.checkParseSchema,
  policySetTextToParts: wasm.policySetTextToParts,
  policyToJson: wasm.policyToJson,
  templateToJson: wasm.templateToJson,
  preparsePolicySet: wasm.preparsePolicySet,
  statefulIsAuthorized: wasm.statefulIsAuthorized,
  isAuthorized: wasm.isAuthorized,
  schemaToJson: wasm.schemaToJson,
  schemaToText: wasm.schemaToText,
  schemaToJsonWithResolvedTypes: wasm.schemaToJsonWithResolvedTypes,
  validate: wasm.validate,
  version: wasm.getCedarVersion,
} as const;

/** A Cedar error as one line: the message, then the help when there is one. */
export function errorText(error: { message: string; help?: string | null }): string {
  return error.help ? `${error.message} (${error.help})` : error.message;
}
