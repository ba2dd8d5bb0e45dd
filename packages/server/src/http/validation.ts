import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Request validators. Bodies are checked exactly as sent (no type coercion, no
 * silently dropped fields: unknown fields are errors). Query strings and path
 * parameters arrive as text, so there numbers are coerced and a single value
 * becomes a one-item array where the schema wants an array.
 */
const common = { strict: true, allErrors: false, validateFormats: false, useDefaults: false } as const;
const bodyAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
const urlAjv = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });

export function compileValidator(schema: object, httpPart: string | undefined): ValidateFunction {
  return (httpPart === 'body' ? bodyAjv : urlAjv).compile(schema);
}
